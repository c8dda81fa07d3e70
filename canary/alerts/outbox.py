"""The durable outbox: alerts are rows first, messages second.

``enqueue_incident`` writes one pending ``AlertDelivery`` per matching destination in
the same transaction as the incident change, so an alert exists exactly when the
change does (the transactional-outbox pattern). ``drain``, a scheduler job, claims due
deliveries, sends them, and on failure schedules a retry with exponential backoff and
full jitter ("Exponential Backoff and Jitter", AWS Architecture Blog, 2015: the delay
is uniform in [0, min(cap, base·2^(n-1))], which spreads retries of many senders and
avoids synchronised storms on a receiver that comes back). After
``alert_max_attempts`` failures a delivery is a dead letter: visible, redeliverable.

A receiver that is down loses nothing: nothing leaves the outbox until a 2xx answer.
Two drains never send the same delivery: each claims a row with a conditional UPDATE
(lease in ``claimed_until``), which is atomic on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import random
import socket
import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from canary.alerts import destinations, payload
from canary.alerts.channels import Channel, Message, SendResult, default_channels
from canary.alerts.models import AlertDelivery, Destination
from canary.attribution.models import Incident
from canary.context import Context
from canary.db import utcnow
from canary.errors import CanaryError, NotFound
from canary.flow.models import Copy
from canary.security import audit

log = logging.getLogger("canary.alerts")

PENDING, DELIVERED, DEAD = "pending", "delivered", "dead"
_HOST = f"{socket.gethostname()}:{os.getpid()}"


def new_message_id() -> str:
    """A webhook-id: unique, and kept across every retry of one delivery."""
    return f"msg_{uuid.uuid4().hex}"


def backoff_delay(attempt: int, base: float, cap: float, rng: random.Random | None = None) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1-based): full jitter."""
    ceiling = min(cap, base * (2 ** max(0, attempt - 1)))
    return (rng or random).uniform(0.0, ceiling)


# -- enqueue ----------------------------------------------------------------------


def _incident_scope(session: Session, incident: Incident) -> tuple[set[int], set[int]]:
    """The feeds and holders an incident is about: its leak point and candidate copies."""
    feeds: set[int] = set()
    holders: set[int] = set()
    if incident.feed_id:
        feeds.add(incident.feed_id)
    if incident.holder_id:
        holders.add(incident.holder_id)
    copy_ids = set((incident.verdict or {}).get("copy_ids", []) or [])
    if incident.copy_id:
        copy_ids.add(incident.copy_id)
    for copy in session.scalars(select(Copy).where(Copy.id.in_(sorted(copy_ids)))):
        feeds.add(copy.feed_id)
        holders.add(copy.holder_id)
    return feeds, holders


def matches(
    filters: Mapping[str, Any] | None, feeds: set[int], holders: set[int], confidence: float
) -> bool:
    """Does a destination's filter let this incident through? Empty filters let all in."""
    filters = filters or {}
    wanted_feeds = set(filters.get("feeds") or [])
    wanted_holders = set(filters.get("holders") or [])
    if wanted_feeds and not wanted_feeds & feeds:
        return False
    if wanted_holders and not wanted_holders & holders:
        return False
    minimum = filters.get("min_confidence")
    return not (minimum is not None and confidence < float(minimum))


def enqueue_incident(
    session: Session, ctx: Context, incident: Incident, event_type: str
) -> list[AlertDelivery]:
    """Queue one delivery per enabled destination whose filters match the incident.

    Runs in the caller's transaction: the deliveries commit with the incident change.
    """
    session.flush()
    now = ctx.clock()
    feeds, holders = _incident_scope(session, incident)
    body = payload.build(
        session, incident, event_type, base_url=ctx.settings.public_base_url, at=now
    )
    queued = []
    for dest in session.scalars(
        select(Destination).where(Destination.enabled.is_(True)).order_by(Destination.id)
    ):
        if not matches(dest.filters, feeds, holders, float(incident.confidence or 0.0)):
            continue
        delivery = AlertDelivery(
            destination_id=dest.id,
            incident_id=incident.id,
            message_id=new_message_id(),
            event_type=event_type,
            payload=body,
            status=PENDING,
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
        session.add(delivery)
        queued.append(delivery)
    session.flush()
    if queued:
        log.info("incident %s: %d alert(s) queued (%s)", incident.id, len(queued), event_type)
    return queued


# -- drain ------------------------------------------------------------------------


def _lease(ctx: Context) -> dt.timedelta:
    # Long enough for a slow send (SMTP does several round trips), short enough that a
    # crashed worker's claims are picked up again soon.
    return dt.timedelta(seconds=max(60.0, 6 * float(ctx.settings.alert_timeout_seconds)))


# Candidates looked at per claim: others may win the first few rows of the same list.
_CLAIM_SCAN = 16


def _claim(ctx: Context, worker: str, want: int, only: int | None = None) -> list[int]:
    """Claim up to ``want`` due deliveries for ``worker``; returns their ids."""
    now = ctx.clock()
    free = or_(AlertDelivery.claimed_until.is_(None), AlertDelivery.claimed_until < now)
    claimed = []
    with ctx.db.session() as session:
        query = (
            select(AlertDelivery.id)
            .join(Destination, Destination.id == AlertDelivery.destination_id)
            .where(AlertDelivery.status == PENDING, free, Destination.enabled.is_(True))
            .order_by(AlertDelivery.next_attempt_at, AlertDelivery.id)
            .limit(max(1, want) + _CLAIM_SCAN)
        )
        if only is not None:
            query = query.where(AlertDelivery.id == only)
        else:
            query = query.where(AlertDelivery.next_attempt_at <= now)
        # PostgreSQL: skip rows another drain is claiming right now (ignored on SQLite).
        ids = list(session.scalars(query.with_for_update(of=AlertDelivery, skip_locked=True)))
        for delivery_id in ids:
            if len(claimed) >= want:
                break
            result = session.execute(
                update(AlertDelivery)
                .where(AlertDelivery.id == delivery_id, AlertDelivery.status == PENDING, free)
                .values(claimed_by=worker, claimed_until=now + _lease(ctx))
                .execution_options(synchronize_session=False)
            )
            if result.rowcount == 1:
                claimed.append(delivery_id)
    return claimed


def _prepare(ctx: Context, delivery_id: int, worker: str):
    with ctx.db.session() as session:
        delivery = session.get(AlertDelivery, delivery_id)
        if delivery is None or delivery.claimed_by != worker or delivery.status != PENDING:
            return None
        if delivery.claimed_until is None or delivery.claimed_until <= ctx.clock():
            return None  # our lease lapsed: another worker may own it now
        dest = session.get(Destination, delivery.destination_id)
        creds = destinations.credentials(ctx.keys, dest)
        return dest.kind, creds, delivery.message_id, delivery.event_type, dict(delivery.payload)


def _record(
    ctx: Context, delivery_id: int, worker: str, result: SendResult, *, retry: bool, rng
) -> str | None:
    now = ctx.clock()
    settings = ctx.settings
    with ctx.db.session() as session:
        delivery = session.get(AlertDelivery, delivery_id)
        if delivery is None or delivery.claimed_by != worker:
            # Our lease ran out and another worker took over: it records its own attempt.
            return None
        delivery.attempts += 1
        delivery.last_status_code = result.status_code
        delivery.last_latency_ms = result.latency_ms
        delivery.last_error = result.error[:500]
        delivery.claimed_by = ""
        delivery.claimed_until = None
        if result.ok:
            delivery.status = DELIVERED
            delivery.delivered_at = now
        elif not retry or delivery.attempts >= settings.alert_max_attempts:
            delivery.status = DEAD
        else:
            wait = backoff_delay(
                delivery.attempts,
                settings.alert_backoff_base_seconds,
                settings.alert_backoff_max_seconds,
                rng,
            )
            delivery.next_attempt_at = now + dt.timedelta(seconds=wait)
        return delivery.status


def _attempt(
    ctx: Context,
    delivery_id: int,
    worker: str,
    channels: Mapping[str, Channel],
    *,
    retry: bool = True,
    rng: random.Random | None = None,
) -> tuple[str | None, SendResult | None]:
    prepared = _prepare(ctx, delivery_id, worker)
    if prepared is None:
        return None, None
    kind, creds, message_id, event_type, body = prepared
    channel = channels.get(kind)
    message = Message(message_id, event_type, body, ctx.clock().astimezone(dt.UTC))
    if channel is None:
        result = SendResult(False, None, f"no channel for destination kind {kind!r}")
    else:
        try:  # network I/O outside any transaction: no database lock is held while waiting
            result = channel.send(
                message,
                creds.target,
                creds.secret,
                timeout=float(ctx.settings.alert_timeout_seconds),
            )
        except Exception as exc:  # a broken channel must not lose the delivery
            result = SendResult(False, None, f"channel error ({type(exc).__name__})")
    status = _record(ctx, delivery_id, worker, result, retry=retry, rng=rng)
    # Ids, statuses and codes only: never the payload or the target.
    log.info("delivery %s (%s) attempt: %s %s", delivery_id, kind, status, result.error or "ok")
    return status, result


def drain(
    ctx: Context,
    limit: int = 100,
    *,
    channels: Mapping[str, Channel] | None = None,
    worker: str | None = None,
    rng: random.Random | None = None,
) -> int:
    """Send due deliveries (scheduler job). Returns how many were attempted."""
    worker = worker or f"{_HOST}:{uuid.uuid4().hex[:8]}"
    channels = channels if channels is not None else default_channels()
    attempted = 0
    # One claim per send: a lease must cover one send, not a whole batch. Claiming 100
    # up front behind a slow receiver would let the later leases lapse before their
    # turn, and another drain would take and send them too.
    for _ in range(max(0, limit)):
        claimed = _claim(ctx, worker, 1)
        if not claimed:
            break
        status, _result = _attempt(ctx, claimed[0], worker, channels, rng=rng)
        if status is not None:
            attempted += 1
    return attempted


# -- operators ----------------------------------------------------------------------


def send_test(
    ctx: Context,
    destination_ref: str | int,
    *,
    actor: str,
    channels: Mapping[str, Channel] | None = None,
) -> tuple[dict[str, Any], SendResult]:
    """Send a test delivery to one destination now; returns the delivery (described)
    and how it went.

    The test is stored like any delivery (history, redelivery) but not retried: a test
    answers "does this work right now?".
    """
    with ctx.db.session() as session:
        dest = destinations.get(session, destination_ref)
        if not dest.enabled:
            raise CanaryError(f"destination {dest.name!r} is disabled; enable it first")
        now = ctx.clock()
        delivery = AlertDelivery(
            destination_id=dest.id,
            incident_id=None,
            message_id=new_message_id(),
            event_type="test",
            payload=payload.test_payload(dest.name, base_url=ctx.settings.public_base_url, at=now),
            status=PENDING,
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
        session.add(delivery)
        session.flush()
        audit.record(session, actor, "destination.test", "destination", dest.id)
        delivery_id = delivery.id
    worker = f"{_HOST}:test:{uuid.uuid4().hex[:8]}"
    if not _claim(ctx, worker, 1, only=delivery_id):
        raise CanaryError(
            "the test delivery was taken by another worker; see `canary alerts deliveries`"
        )
    _, result = _attempt(
        ctx,
        delivery_id,
        worker,
        channels if channels is not None else default_channels(),
        retry=False,
    )
    with ctx.db.session() as session:
        described = describe(session.get(AlertDelivery, delivery_id))
    return described, result or SendResult(False, None, "not sent")


def redeliver(
    session: Session, delivery_id: int, actor: str, *, at: dt.datetime | None = None
) -> AlertDelivery:
    """Put a dead letter back in the outbox, with its original webhook-id."""
    delivery = session.get(AlertDelivery, delivery_id)
    if delivery is None:
        raise NotFound(f"no alert delivery {delivery_id}; see `canary alerts deliveries --dead`")
    if delivery.status != DEAD:
        raise CanaryError(
            f"delivery {delivery_id} is {delivery.status}; only dead letters can be redelivered"
        )
    delivery.status = PENDING
    delivery.attempts = 0
    delivery.next_attempt_at = at or utcnow()
    delivery.claimed_by = ""
    delivery.claimed_until = None
    audit.record(session, actor, "delivery.redeliver", "alert_delivery", delivery_id)
    return delivery


def deliveries(
    session: Session,
    *,
    status: str | None = None,
    destination_id: int | None = None,
    incident_id: int | None = None,
    limit: int = 200,
) -> list[AlertDelivery]:
    """Deliveries, newest first."""
    query = select(AlertDelivery).order_by(AlertDelivery.id.desc()).limit(max(1, min(limit, 5000)))
    if status:
        if status not in (PENDING, DELIVERED, DEAD):
            raise CanaryError("status must be pending, delivered or dead")
        query = query.where(AlertDelivery.status == status)
    if destination_id is not None:
        query = query.where(AlertDelivery.destination_id == destination_id)
    if incident_id is not None:
        query = query.where(AlertDelivery.incident_id == incident_id)
    return list(session.scalars(query))


def dead_letters(session: Session, limit: int = 200) -> list[AlertDelivery]:
    return deliveries(session, status=DEAD, limit=limit)


def describe(delivery: AlertDelivery) -> dict[str, Any]:
    """A delivery as plain data (no payload: listings stay short and free of detail)."""

    def iso(value: dt.datetime | None) -> str | None:
        return value.isoformat(timespec="seconds") if value else None

    return {
        "id": delivery.id,
        "message_id": delivery.message_id,
        "destination_id": delivery.destination_id,
        "destination": delivery.destination.name if delivery.destination else None,
        "incident_id": delivery.incident_id,
        "event_type": delivery.event_type,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "next_attempt_at": iso(delivery.next_attempt_at) if delivery.status == PENDING else None,
        "last_status_code": delivery.last_status_code,
        "last_error": delivery.last_error,
        "last_latency_ms": delivery.last_latency_ms,
        "created_at": iso(delivery.created_at),
        "delivered_at": iso(delivery.delivered_at),
    }
