"""Attribution of stored events: classification, grouping into incidents, alerts."""

from __future__ import annotations

import datetime as dt
import random

from sqlalchemy import select

from canary import periods
from canary.attribution import service
from canary.attribution.models import Incident, IncidentChange
from canary.telephony.models import Event
from tests.attribution.scenario import add_canary, add_numbers, allow, call, simple_map

WEEKS = [periods.shift("2026-W41", i) for i in range(4)]
LEAK_AT = periods.start_of(WEEKS[-1]) + dt.timedelta(days=3)


def _pool_world(context, holders=("clerk-a", "clerk-b", "clerk-c"), numbers=30, per_week=4):
    """Copies of one feed; each gets ``per_week`` canaries a week on keyed-random numbers."""
    rng = random.Random(7)
    with context.db.session() as s:
        copies = simple_map(s, holders)
        pool = add_numbers(s, context.keys, numbers)
        canaries = {name: [] for name in holders}
        for name, copy_id in copies.items():
            for week in WEEKS:
                for slot, cp in enumerate(rng.sample(pool, per_week)):
                    canary = add_canary(s, context.keys, copy_id, week, slot, [cp])
                    canaries[name].append((canary.id, cp))
    return copies, pool, canaries


def _process(context, event_id, at):
    context.clock = lambda: at
    with context.db.session() as s:
        return service.process_event(s, context, s.get(Event, event_id))


def _store(context, cp, at, caller, **kw):
    with context.db.session() as s:
        return call(s, context.keys, cp, at, caller, **kw).id


def test_call_to_number_outside_the_pool_is_unmatched(context):
    _pool_world(context)
    event_id = _store(context, None, LEAK_AT, "+8613912345678")
    assert _process(context, event_id, LEAK_AT) is None
    with context.db.session() as s:
        assert s.get(Event, event_id).classification == "unmatched"


def test_call_to_quarantined_number_is_background(context):
    _pool_world(context)
    with context.db.session() as s:
        (fresh,) = add_numbers(
            s,
            context.keys,
            1,
            start=13900000000,
            state="quarantine",
            quarantine_until=LEAK_AT + dt.timedelta(days=10),
        )
    event_id = _store(context, fresh, LEAK_AT, "+8613912345678")
    assert _process(context, event_id, LEAK_AT) is None
    with context.db.session() as s:
        assert s.get(Event, event_id).classification == "background"


def test_call_before_any_canary_went_live_is_background(context):
    _copies, pool, _c = _pool_world(context)
    before = periods.start_of(WEEKS[0]) - dt.timedelta(days=2)
    event_id = _store(context, pool[0], before, "+8613912345678")
    _process(context, event_id, before)
    with context.db.session() as s:
        event = s.get(Event, event_id)
        assert event.classification == "background" and not event.canaries


def test_allowlisted_caller_is_expected_contact_and_raises_no_incident(context):
    _copies, _pool, canaries = _pool_world(context)
    with context.db.session() as s:
        allow(s, context.keys, "+8602155550000")
    cp = canaries["clerk-b"][0][1]
    for day in range(6):
        at = LEAK_AT + dt.timedelta(hours=day)
        assert _process(context, _store(context, cp, at, "+8602155550000"), at) is None
    with context.db.session() as s:
        kinds = {e.classification for e in s.scalars(select(Event))}
        assert kinds == {"expected"} and not s.scalars(select(Incident)).all()


def test_one_random_call_to_a_canary_number_links_canaries_but_opens_no_incident(context):
    _copies, _pool, canaries = _pool_world(context)
    cp = canaries["clerk-a"][0][1]
    event_id = _store(context, cp, LEAK_AT, "+8617000001234")
    assert _process(context, event_id, LEAK_AT) is None
    with context.db.session() as s:
        event = s.get(Event, event_id)
        assert event.classification == "canary"
        assert {link.strength for link in event.canaries} == {"number"}
        assert s.scalars(select(Incident)).all() == []


def _campaign(context, canaries, victim, callers, start=LEAK_AT, reach=0.7, seed=3):
    """A call centre works through the leaked list over days, rotating caller IDs."""
    rng = random.Random(seed)
    targets = [cp for _cid, cp in canaries[victim] if rng.random() < reach]
    incidents = []
    for i, cp in enumerate(targets):
        at = start + dt.timedelta(hours=7 * i)
        event_id = _store(context, cp, at, callers[i % len(callers)])
        incidents.append(_process(context, event_id, at))
    return incidents


def test_call_centre_working_through_one_copy_opens_one_incident_naming_it(context):
    copies, _pool, canaries = _pool_world(context)
    incidents = _campaign(context, canaries, "clerk-b", ["+8617100001111", "+8617100002222"])
    opened = [i for i in incidents if i is not None]
    assert opened, "a campaign over a whole copy must open an incident"
    with context.db.session() as s:
        rows = s.scalars(select(Incident)).all()
        assert len(rows) == 1
        incident = rows[0]
        assert incident.copy_id == copies["clerk-b"]
        assert incident.confidence > 0.9
        assert incident.period_to == WEEKS[-1]
        assert incident.event_count >= 3
        assert "clerk-b" in incident.explanation


def test_many_calls_make_one_incident_with_a_growing_count_not_many_alerts(context):
    _copies, _pool, canaries = _pool_world(context, per_week=6)
    _campaign(context, canaries, "clerk-b", ["+8617100001111"], reach=0.9)
    with context.db.session() as s:
        incidents = s.scalars(select(Incident)).all()
        assert len(incidents) == 1
        changes = s.scalars(select(IncidentChange)).all()
        opened = [c for c in changes if c.change == "opened"]
        verdicts = [c for c in changes if c.change == "verdict"]
        assert len(opened) == 1
        # Re-evaluations happen on every call, but a new verdict record (and alert)
        # only when the leak point or the confidence band changes.
        assert len(verdicts) <= len(service.BANDS)
        assert incidents[0].event_count >= 10


class _Recorder:
    """Stands in for the alerts outbox and evidence log: records what it is given."""

    def __init__(self):
        self.alerts: list[tuple[int, str]] = []
        self.entries: list[tuple[str, dict]] = []

    def enqueue_incident(self, session, ctx, incident, event_type):
        self.alerts.append((incident.id, event_type))
        return []

    def append(self, session, keys, kind, body, *, incident_id=None, event_id=None):
        self.entries.append((kind, body))


def _install(monkeypatch, recorder):
    from canary.alerts import outbox
    from canary.evidence import log

    monkeypatch.setattr(outbox, "enqueue_incident", recorder.enqueue_incident)
    monkeypatch.setattr(log, "append", recorder.append)


def test_fifty_calls_from_one_call_centre_alert_once_plus_material_changes(context, monkeypatch):
    recorder = _Recorder()
    _install(monkeypatch, recorder)
    _copies, _pool, canaries = _pool_world(context, numbers=40, per_week=8)
    victims = [cp for _cid, cp in canaries["clerk-b"]] * 2  # redials as well
    for i, cp in enumerate(victims[:50]):
        at = LEAK_AT + dt.timedelta(hours=2 * i)
        _process(context, _store(context, cp, at, "+8617100009999"), at)
    assert recorder.alerts[0][1] == "incident.opened"
    assert len({incident_id for incident_id, _ in recorder.alerts}) == 1
    assert len(recorder.alerts) <= 1 + len(service.BANDS)
    kinds = [body["change"] for kind, body in recorder.entries if kind == "incident_change"]
    assert kinds[0] == "opened" and "evidence" in kinds
    with context.db.session() as s:
        assert s.scalars(select(Incident)).one().event_count == 50


def test_name_spoken_back_opens_an_incident_on_few_calls(context):
    copies, _pool, canaries = _pool_world(context)
    canary_id, cp = canaries["clerk-c"][5]
    at = LEAK_AT
    sms = _store(
        context, cp, at, "+8615500001234", kind="sms", strong=[(canary_id, "name_mention")]
    )
    incident = _process(context, sms, at)
    assert incident is not None
    with context.db.session() as s:
        incident = s.get(Incident, incident.id)
        assert incident.copy_id == copies["clerk-c"] and incident.confidence > 0.9
        assert "name mention" in incident.explanation


def test_pending_events_are_attributed_later_in_order(context):
    _copies, _pool, canaries = _pool_world(context)
    ids = [
        _store(context, cp, LEAK_AT + dt.timedelta(hours=i), "+8617100001111")
        for i, (_cid, cp) in enumerate(canaries["clerk-a"][:6])
    ]
    context.clock = lambda: LEAK_AT + dt.timedelta(days=1)
    assert service.process_pending(context) == len(ids)
    assert service.process_pending(context) == 0
    with context.db.session() as s:
        assert {s.get(Event, i).classification for i in ids} == {"canary"}


def test_recording_follows_its_call(context):
    _copies, _pool, canaries = _pool_world(context)
    call_id = _store(context, canaries["clerk-a"][0][1], LEAK_AT, "+8617100001111")
    _process(context, call_id, LEAK_AT)
    with context.db.session() as s:
        parent = s.get(Event, call_id)
        rec = call(s, context.keys, parent.contact_point_id, LEAK_AT, None, kind="recording")
        rec.parent_sid = parent.provider_sid
        rec_id = rec.id
    _process(context, rec_id, LEAK_AT)
    with context.db.session() as s:
        assert s.get(Event, rec_id).classification == "canary"
        assert not s.get(Event, rec_id).canaries  # not counted as a second contact


def test_same_events_give_the_same_verdict(context, settings, tmp_path):
    copies, _pool, canaries = _pool_world(context)
    _campaign(context, canaries, "clerk-b", ["+8617100001111", "+8617100002222"])
    with context.db.session() as s:
        first = s.scalars(select(Incident)).one()
        verdict, confidence = first.verdict, first.confidence
        event_ids = [e.id for e in s.scalars(select(Event).order_by(Event.id))]
    # Re-evaluating the same stored evidence gives the same ranking and numbers.
    from canary.attribution import evaluate

    with context.db.session() as s:
        events = evaluate.evidence_events(s, context, context.clock())
        again = evaluate.evaluate(s, context, events, context.clock())
    assert [c["unit"] for c in again.ranked] == [c["unit"] for c in verdict["candidates"]]
    assert again.confidence == confidence
    assert event_ids


def test_mention_found_later_in_a_transcript_is_weighed_again(context):
    copies, _pool, canaries = _pool_world(context)
    canary_id, cp = canaries["clerk-a"][2]
    call_id = _store(context, cp, LEAK_AT, "+8615500001234")
    assert _process(context, call_id, LEAK_AT) is None  # one call: no incident yet
    with context.db.session() as s:
        from canary.telephony.models import EventCanary

        s.add(EventCanary(event_id=call_id, canary_id=canary_id, strength="name_mention"))
    incident = _process(context, call_id, LEAK_AT + dt.timedelta(minutes=5))
    assert incident is not None and incident.copy_id == copies["clerk-a"]
