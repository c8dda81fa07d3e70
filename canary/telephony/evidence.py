"""Where a stored event enters the evidence log, after the webhook has answered.

The webhook stores the event (encrypted, committed) and marks it ``evidence_pending``;
appending its hash-chained, signed entry is serialised across every writer of the log,
so doing it inside the webhook made all webhooks take turns. ``log_pending`` (run by
the scheduler's ``attribute-pending`` job before attribution, and by the webhook
itself when ``attribute_in_webhook`` is on) appends the entries in event-id order.

Exactly once: the pending events are selected only after the chain's writer lock is
held, and are marked logged in the same transaction as their entries, so two runners
can neither both log an event nor log it out of order with each other.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Sequence

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from canary.context import Context
from canary.evidence import log as evidence_log
from canary.telephony import callers
from canary.telephony.models import Event

log = logging.getLogger("canary.telephony.evidence")

BATCH = 200  # entries per transaction: short enough not to stall webhooks on the lock


def body_of(ctx: Context, event: Event) -> dict:
    """What the log attests for one event: ids, keyed hashes, times, and the hash of its
    decrypted payload (so an auditor can check the payload is the one logged)."""
    aad = Event.payload_aad(event.provider, event.kind, event.provider_sid).encode()
    return {
        "event_id": event.id,
        "kind": event.kind,
        "provider": event.provider,
        "provider_sid": event.provider_sid,
        "parent_sid": event.parent_sid,
        "contact_point_id": event.contact_point_id,
        "caller_hash": event.caller_hash,
        "caller_block_hash": event.caller_block_hash,
        "occurred_at": event.occurred_at.isoformat(),
        "received_at": event.received_at.isoformat(),
        "via": event.via,
        # The payload was encrypted as this exact JSON text (sorted keys, UTF-8).
        "payload_sha256": hashlib.sha256(ctx.keys.decrypt(event.payload_enc, aad)).hexdigest(),
    }


def _log_locked(session: Session, ctx: Context, ids: Sequence[int] | None, limit: int) -> int:
    """Append entries for pending events (all, or those among ``ids``), in id order."""
    evidence_log.take_writer_lock(session)
    query = select(Event).where(Event.evidence_pending.is_(True)).order_by(Event.id).limit(limit)
    if ids is not None:
        query = query.where(Event.id.in_(list(ids)))
    events = list(session.scalars(query))
    if not events:
        return 0
    callers.resolve(ctx, events)  # the entry attests the caller's hashes
    at = ctx.clock()
    evidence_log.append_many(
        session,
        ctx.keys,
        [("event", body_of(ctx, e), None, e.id) for e in events],
        at=at,
    )
    session.execute(
        update(Event)
        .where(Event.id.in_([e.id for e in events]))
        .values(evidence_pending=False)
        .execution_options(synchronize_session=False)
    )
    return len(events)


def log_pending(ctx: Context, *, batch: int = BATCH) -> int:
    """Append an evidence entry for every stored event still waiting for one; returns
    how many. Each batch is one transaction; a failure leaves the rest pending."""
    done = 0
    while True:
        with ctx.db.session() as session:
            count = _log_locked(session, ctx, None, batch)
        done += count
        if count < batch:
            return done


def log_events(ctx: Context, ids: Iterable[int]) -> int:
    """Append the entries of these events now, if still pending (the inline mode)."""
    wanted = sorted(set(ids))
    if not wanted:
        return 0
    with ctx.db.session() as session:
        return _log_locked(session, ctx, wanted, len(wanted))


def log_pending_of(session: Session, ctx: Context, ids: Iterable[int]) -> int:
    """The same, in the caller's transaction: an evidence export must show the entry of
    every event it contains. Takes the log's writer lock only if one is still pending."""
    wanted = sorted(set(ids))
    if not wanted or not session.scalar(
        select(Event.id).where(Event.id.in_(wanted), Event.evidence_pending.is_(True)).limit(1)
    ):
        return 0
    return _log_locked(session, ctx, wanted, len(wanted))
