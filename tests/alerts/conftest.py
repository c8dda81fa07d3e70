"""Builders for alert tests: a small map, an incident built with the models, a clock."""

from __future__ import annotations

import datetime as dt

import pytest

from canary.alerts import destinations
from canary.attribution.models import Incident
from canary.flow import service as flow
from canary.telephony.models import Event


class Clock:
    """A clock tests move by hand (no sleeping)."""

    def __init__(self, start: dt.datetime):
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


@pytest.fixture
def clock(context):
    # Near real time, so receivers that check webhook-timestamp tolerance accept it.
    clock = Clock(dt.datetime.now(dt.UTC).replace(microsecond=0))
    context.clock = clock
    return clock


@pytest.fixture
def world(context):
    """Two hospitals' feeds, a head office and a clerk; returns ids by name."""
    with context.db.session() as s:
        flow.add_source(s, "hospital-a", "t")
        flow.add_source(s, "hospital-b", "t")
        flow.add_feed(s, "newborns-a", "t", source="hospital-a")
        flow.add_feed(s, "newborns-b", "t", source="hospital-b")
        ids = {}
        for holder in ("head-office", "clerk"):
            h = flow.add_holder(s, holder, "t")
            ids[holder] = h.id
        for feed in ("newborns-a", "newborns-b"):
            f = flow.get_feed(s, feed)
            ids[feed] = f.id
            for holder in ("head-office", "clerk"):
                copy = flow.ensure_copy(s, f, flow.get_holder(s, holder), "t")
                ids[f"{feed}>{holder}"] = copy.id
    return ids


def make_incident(context, world, *, copy="newborns-a>clerk", confidence=0.999, events=3):
    """An incident naming one copy, with ``events`` calls attached."""
    feed, holder = copy.split(">")
    with context.db.session() as s:
        incident = Incident(
            status="open",
            unit_key=f"copy:{world[copy]}",
            copy_id=world[copy],
            holder_id=world[holder],
            feed_id=world[feed],
            period_from="2026-W40",
            period_to="2026-W44",
            confidence=confidence,
            verdict={
                "candidates": [
                    {"unit": f"copy:{world[copy]}", "label": copy, "probability": confidence}
                ],
                "copy_ids": [world[copy]],
            },
            explanation="7 of 9 canaries in the copy were called; background < 1e-6",
            event_count=events,
        )
        s.add(incident)
        s.flush()
        for i in range(events):
            s.add(
                Event(
                    kind="call",
                    provider="twilio",
                    provider_sid=f"CA{incident.id:04d}{i:028d}",
                    payload_enc=context.keys.encrypt_json({"x": i}),
                    caller_hash=f"{i % 2:064d}",
                    classification="canary",
                    incident_id=incident.id,
                )
            )
        return incident.id


def add_webhook(context, name="hook", url="http://127.0.0.1:9/hook", **filters):
    with context.db.session() as s:
        dest, secret = destinations.add(s, context.keys, name, "webhook", url, actor="t", **filters)
        return dest.id, secret


@pytest.fixture
def cli(context):
    """Run `canary ...` against the test's database and keys; returns the click result."""
    from click.testing import CliRunner

    from canary.cli import main

    s = context.settings
    env = {
        "CANARY_HOME": s.home,
        "CANARY_DATABASE_URL": s.database_url,
        "CANARY_PUBLIC_BASE_URL": s.public_base_url,
        "CANARY_SCHEDULER_IN_SERVE": "false",
    }

    def run(*args):
        return CliRunner().invoke(main, list(args), env=env)

    return run
