"""Builders for attribution tests: a map, pool numbers, canaries and stored events."""

from __future__ import annotations

import datetime as dt
import itertools

from canary import phones
from canary.canaries import registry
from canary.flow import service as flow
from canary.telephony.models import AllowedCaller, ContactPoint, Event, EventCanary

T0 = dt.datetime(2026, 10, 5, tzinfo=dt.UTC)  # Monday of 2026-W41
_sid = itertools.count(1)


def add_numbers(session, keys, count: int, *, start: int = 13800000000, **extra) -> list[int]:
    ids = []
    for i in range(count):
        e164 = phones.normalize(str(start + i))
        point = ContactPoint(
            value_enc=keys.encrypt_text(e164),
            value_hash=keys.lookup_hash("phone", e164),
            country="CN",
            prefix=e164[3:6],
            state=extra.get("state", "in_use"),
            quarantine_until=extra.get("quarantine_until", T0 - dt.timedelta(days=30)),
            added_at=T0 - dt.timedelta(days=60),
        )
        session.add(point)
        session.flush()
        ids.append(point.id)
    return ids


def add_canary(session, keys, copy_id, period, slot, numbers, live_from=None):
    from canary import periods

    return registry.store(
        session,
        keys,
        copy_id=copy_id,
        period=period,
        slot=slot,
        row={"name": f"persona-{copy_id}-{period}-{slot}"},
        persona={"name": f"persona-{copy_id}-{period}-{slot}"},
        contact_point_ids=numbers,
        live_from=live_from or periods.start_of(period),
    )


def call(
    session,
    keys,
    contact_point_id,
    at,
    caller: str | None,
    *,
    kind="call",
    strong: list[tuple[int, str]] = (),
) -> Event:
    """Store an event the way intake does (keyed caller hashes, encrypted payload)."""
    caller_hash = block_hash = ""
    if caller:
        e164 = phones.normalize(caller)
        caller_hash = keys.lookup_hash("phone", e164)
        block_hash = keys.lookup_hash("phone-block", phones.block_of(e164))
    event = Event(
        kind=kind,
        provider="twilio",
        provider_sid=f"CA{next(_sid):032d}",
        contact_point_id=contact_point_id,
        occurred_at=at,
        received_at=at,
        caller_hash=caller_hash,
        caller_block_hash=block_hash,
        payload_enc=keys.encrypt_json({"x": 1}),
    )
    for canary_id, strength in strong:
        event.canaries.append(EventCanary(canary_id=canary_id, strength=strength))
    session.add(event)
    session.flush()
    return event


def allow(session, keys, number: str) -> None:
    e164 = phones.normalize(number)
    session.add(AllowedCaller(number_hash=keys.lookup_hash("phone", e164), label="desk"))
    session.flush()


def simple_map(session, holders=("clerk-a", "clerk-b", "clerk-c")):
    """One hospital feed, one copy per holder. Returns {holder name: copy id}."""
    flow.add_source(session, "hospital", "t")
    flow.add_feed(session, "newborns", "t", source="hospital")
    copies = {}
    for name in holders:
        holder = flow.add_holder(session, name, "t")
        copies[name] = flow.ensure_copy(session, flow.get_feed(session, "newborns"), holder, "t").id
    return copies
