"""Leak points over the data-flow graph: hospitals → head office → clerk → buyer."""

from __future__ import annotations

import datetime as dt
import random

from sqlalchemy import select

from canary import periods
from canary.attribution import graph, service
from canary.attribution.models import Incident
from canary.flow import service as flow
from canary.telephony.models import Event
from tests.attribution.scenario import add_canary, add_numbers, call

WEEKS = ["2026-W41", "2026-W42"]
AT = periods.start_of("2026-W43") + dt.timedelta(hours=9)


def _seed_map(s):
    """Three hospitals send daily lists to head office; head office merges them into an
    aggregate sent to two clerks; clerk-1 passes data on to a buyer."""
    copies = {}
    for i in (1, 2, 3):
        flow.add_source(s, f"hospital-{i}", "t")
        flow.add_feed(s, f"newborns-{i}", "t", source=f"hospital-{i}")
    head = flow.add_holder(s, "head-office", "t", receives=[f"newborns-{i}" for i in (1, 2, 3)])
    for c in head.copies:
        copies[c.feed.name] = c.id
    flow.add_feed(s, "aggregate", "t", produced_by="head-office")
    for clerk in ("clerk-1", "clerk-2"):
        holder = flow.add_holder(s, clerk, "t", receives=["aggregate"])
        copies[f"aggregate→{clerk}"] = holder.copies[0].id
    flow.add_holder(s, "buyer", "t", from_holders=["clerk-1"], kind="external")
    return copies


def test_aggregate_copy_carries_the_hospital_canaries_and_holders_downstream_see_them(context):
    with context.db.session() as s:
        copies = _seed_map(s)
        g = graph.load_graph(s)
        units = {u.key: u for u in graph.units_seeing(g, [copies["newborns-1"]])}
    clerk_copy = copies["aggregate→clerk-1"]
    assert copies["newborns-1"] in units[f"copy:{clerk_copy}"].copy_ids
    # clerk-1 holds only that copy and the buyer only what clerk-1 passed on: the
    # three leak points would leak the same canaries, so they merge into one.
    merged = units[f"copy:{clerk_copy}"]
    assert sorted(merged.aliases) == ["holder buyer", "holder clerk-1"]
    assert f"copy:{copies['aggregate→clerk-2']}" in units


def test_calls_on_hospital_and_aggregate_canaries_point_at_the_aggregate_recipient(context):
    rng = random.Random(11)
    with context.db.session() as s:
        copies = _seed_map(s)
        pool = add_numbers(s, context.keys, 40)
        canaries = {}
        for name, copy_id in copies.items():
            canaries[name] = []
            for week in WEEKS:
                for slot, cp in enumerate(rng.sample(pool, 4)):
                    add_canary(s, context.keys, copy_id, week, slot, [cp])
                    canaries[name].append(cp)
    # A call centre works through the list clerk-1 sold: every hospital's rows (with
    # head office's canaries) and the aggregate's own canaries for clerk-1.
    leaked = [cp for name, cps in canaries.items() if name != "aggregate→clerk-2" for cp in cps]
    targets = [cp for cp in leaked if rng.random() < 0.6]
    callers = ["+8617100001111", "+8617100002222", "+8617100003333"]
    for i, cp in enumerate(targets):
        at = AT + dt.timedelta(hours=3 * i)
        context.clock = lambda at=at: at
        with context.db.session() as s:
            event = call(s, context.keys, cp, at, callers[i % 3])
            service.process_event(s, context, event)
    with context.db.session() as s:
        incidents = s.scalars(select(Incident)).all()
        assert len(incidents) == 1
        incident = incidents[0]
        assert incident.copy_id == copies["aggregate→clerk-1"]
        assert incident.holder_id == flow.get_holder(s, "clerk-1").id
        assert incident.confidence > 0.9
        assert "buyer" in incident.explanation
        ranked = [c["unit"] for c in incident.verdict["candidates"]]
        head_office = f"holder:{flow.get_holder(s, 'head-office').id}"
        assert ranked.index(f"copy:{copies['aggregate→clerk-1']}") == 0
        assert head_office not in ranked[:1]
        assert s.scalar(select(Event).where(Event.incident_id == incident.id)) is not None
