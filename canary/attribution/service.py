"""Where a stored event becomes (part of) an incident.

``process_event`` classifies the event, links it to the canaries it may be about,
re-ranks the leak points given every open piece of evidence, and opens or updates one
incident. Alerts go out only when an incident opens or its verdict changes
materially: fifty calls from one call centre make one incident with a growing count.
"""

from __future__ import annotations

import datetime as dt
import logging
import math

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from canary.alerts import outbox
from canary.attribution import evaluate, lifecycle
from canary.attribution.lifecycle import (  # noqa: F401  (public API of this module)
    ACTIVE,
    acknowledge,
    mark_false_positive,
    resolve,
)
from canary.attribution.models import Incident
from canary.canaries.models import Canary, CanaryContact
from canary.context import Context
from canary.telephony import callers
from canary.telephony import lifecycle as number_lifecycle
from canary.telephony.models import AllowedCaller, ContactPoint, Event, EventCanary

log = logging.getLogger("canary.attribution")

SYSTEM_ACTOR = "system:attribution"
# Follow-up records of a contact already counted (its recording, transcript, status).
FOLLOW_UPS = ("recording", "transcription", "status")
# Confidence bands: an alert goes out again only when the verdict moves to another band.
BANDS = (0.5, 0.9, 0.99, 0.999, 0.9999)


def classify(session: Session, ctx: Context, event: Event) -> str:
    """unmatched | background | expected | canary, and attach number links."""
    if event.kind == "scan":
        return "canary" if event.canaries else "unmatched"
    if event.contact_point_id is None:
        return "unmatched"
    point = session.get(ContactPoint, event.contact_point_id)
    if point is None:
        return "unmatched"
    if _quarantined(point, event.occurred_at):
        return "background"  # everything a quarantined number receives is spam
    if event.caller_hash and session.scalar(
        select(AllowedCaller.id).where(AllowedCaller.number_hash == event.caller_hash)
    ):
        return "expected"  # the organisation's own line calling its own list
    live = _live_canaries(session, ctx, point.id, event.occurred_at)
    if not live:
        # A persona spoken back is about its canary whatever number carried it.
        return "canary" if _strong(event) else "background"
    have = {(link.canary_id, link.strength) for link in event.canaries}
    for canary_id in live:
        if (canary_id, "number") not in have:
            event.canaries.append(EventCanary(canary_id=canary_id, strength="number"))
    return "canary"


def _quarantined(point: ContactPoint, at: dt.datetime) -> bool:
    if point.quarantine_until is not None:
        return at < point.quarantine_until
    return point.state == "quarantine"


def _live_canaries(session: Session, ctx: Context, cp_id: int, at: dt.datetime) -> list[int]:
    """Canaries on this number that had gone live and may still circulate at ``at``.
    A contact before a canary's injection cannot be about it."""
    return list(
        session.scalars(
            select(Canary.id)
            .join(CanaryContact, CanaryContact.canary_id == Canary.id)
            .where(
                CanaryContact.contact_point_id == cp_id,
                Canary.live_from <= at,
                Canary.live_from >= evaluate.circulating_since(ctx, at),
            )
            .order_by(Canary.id)
        )
    )


def process_event(session: Session, ctx: Context, event: Event) -> Incident | None:
    """Classify a stored event, then open or update the incident it belongs to.

    Called once when the event is stored, and again when intake later attaches a name
    or birth-date mention to it (from a transcript or SMS): new strong evidence is
    re-weighed; anything else on an already classified event is a no-op.
    """
    callers.resolve(ctx, [event])  # the allowlist and the statistics compare its hash
    if event.classification != "pending":
        if _strong(event) and event.classification in ("canary", "background"):
            event.classification = "canary"
            return _attribute(session, ctx, event)
        return session.get(Incident, event.incident_id) if event.incident_id else None
    if event.kind in FOLLOW_UPS and event.parent_sid and not _strong(event):
        return _follow_parent(session, event)
    event.classification = classify(session, ctx, event)
    session.flush()
    if event.classification != "canary":
        return None
    return _attribute(session, ctx, event)


def _strong(event: Event) -> bool:
    return any(link.strength != "number" for link in event.canaries)


def _follow_parent(session: Session, event: Event) -> Incident | None:
    """A recording or status callback belongs wherever its call went."""
    parent = session.scalar(
        select(Event)
        .where(Event.provider_sid == event.parent_sid, Event.id != event.id)
        .order_by(Event.id)
    )
    if parent is None:
        event.classification = "unmatched"
        return None
    if parent.classification == "pending":
        return None  # stays pending; process_pending retries once the parent is done
    event.classification = parent.classification
    event.incident_id = parent.incident_id
    session.flush()
    return session.get(Incident, parent.incident_id) if parent.incident_id else None


def _band(confidence: float) -> int:
    return sum(confidence >= b for b in BANDS)


# Advisory lock key ("cana"): attribution runs one at a time per database, so two web
# workers handling two calls of one campaign cannot both open an incident for it.
_LOCK_KEY = 0x63616E61


def _serialise(session: Session) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})


def _attribute(session: Session, ctx: Context, event: Event) -> Incident | None:
    _serialise(session)
    at = max(ctx.clock(), event.occurred_at)
    events = evaluate.evidence_events(session, ctx, at)
    if event not in events:
        events.append(event)
    verdict = evaluate.evaluate(session, ctx, events, at)
    if verdict.top is None:
        return None
    incident = _active_incident_for(session, verdict, event)
    if incident is None:
        if verdict.p_leak < evaluate.open_threshold(ctx):
            log.info(
                "event %s: no incident yet (P(leak)=%.3g below %.3g)",
                event.id,
                verdict.p_leak,
                evaluate.open_threshold(ctx),
            )
            return None
        incident = Incident(status="open", opened_at=ctx.clock(), updated_at=ctx.clock())
        session.add(incident)
        _apply(incident, verdict)
        session.flush()
        _attach(session, incident, verdict, event)
        lifecycle.record_change(
            session,
            ctx,
            incident,
            actor=SYSTEM_ACTOR,
            change="opened",
            reason=verdict.explanation,
            to_status="open",
            detail=_detail(verdict),
        )
        _alert(session, ctx, incident, "incident.opened")
        _cool_down(session, ctx, verdict)
        return incident

    before_key, before_band = incident.unit_key, _band(incident.confidence)
    _apply(incident, verdict)
    added = _attach(session, incident, verdict, event)
    incident.updated_at = ctx.clock()
    if incident.unit_key != before_key or _band(incident.confidence) != before_band:
        lifecycle.record_change(
            session,
            ctx,
            incident,
            actor=SYSTEM_ACTOR,
            change="verdict",
            reason=verdict.explanation,
            detail={**_detail(verdict), "previous_unit": before_key},
        )
        if incident.status == "open" or incident.unit_key != before_key:
            _alert(session, ctx, incident, "incident.updated")
    elif added:
        lifecycle.record_change(
            session,
            ctx,
            incident,
            actor=SYSTEM_ACTOR,
            change="evidence",
            reason=f"{len(added)} more event(s); {incident.event_count} in all",
            detail={"event_ids": added[-20:]},
        )
    session.flush()
    return incident


def _active_incident_for(
    session: Session, verdict: evaluate.Verdict, event: Event
) -> Incident | None:
    """The active incident this evidence belongs to: the one already holding events the
    new verdict explains (the same leak, seen better), else one naming the same leak
    point or a leak point that shares copies with it."""
    active = list(
        session.scalars(
            select(Incident).where(Incident.status.in_(ACTIVE)).order_by(Incident.id.desc())
        )
    )
    if not active:
        return None
    explained = set(verdict.event_ids) | {event.id}
    overlap: dict[int, int] = {}
    for incident_id in session.scalars(
        select(Event.incident_id).where(
            Event.id.in_(sorted(explained)), Event.incident_id.is_not(None)
        )
    ):
        overlap[incident_id] = overlap.get(incident_id, 0) + 1
    by_id = {i.id: i for i in active}
    ranked = sorted((n, i) for i, n in overlap.items() if i in by_id)
    if ranked:
        return by_id[ranked[-1][1]]
    top = verdict.top
    mine = set(top.unit.copy_ids)
    for incident in active:
        if incident.unit_key == top.unit.key or set(incident.verdict.get("copy_ids", [])) & mine:
            return incident
    return None


def _apply(incident: Incident, verdict: evaluate.Verdict) -> None:
    best = verdict.ranked[0]
    incident.unit_key = best["unit"]
    incident.copy_id = best["copy_id"]
    incident.holder_id = best["holder_id"]
    incident.feed_id = best["feed_id"]
    incident.period_from = best["period_from"]
    incident.period_to = best["period_to"]
    incident.confidence = float(verdict.confidence)
    incident.explanation = verdict.explanation
    incident.verdict = {
        "candidates": verdict.ranked,
        "background": verdict.background,
        "p_leak": verdict.p_leak,
        "copy_ids": sorted(verdict.top.unit.copy_ids),
        "numbers": verdict.numbers,
    }


def _attach(
    session: Session, incident: Incident, verdict: evaluate.Verdict, event: Event
) -> list[int]:
    """Give the incident the events its verdict explains; returns the newly added ids."""
    ids = set(verdict.event_ids) | {event.id}
    added = []
    for row in session.scalars(select(Event).where(Event.id.in_(sorted(ids)))):
        if row.incident_id is None:
            row.incident_id = incident.id
            added.append(row.id)
    session.flush()
    incident.event_count = len(
        list(session.scalars(select(Event.id).where(Event.incident_id == incident.id)))
    )
    return added


def _detail(verdict: evaluate.Verdict) -> dict:
    return {
        "candidates": verdict.ranked[:5],
        "background": verdict.background,
        "log10_background": math.log10(max(verdict.background, 1e-300)),
    }


def _alert(session: Session, ctx: Context, incident: Incident, event_type: str) -> None:
    outbox.enqueue_incident(session, ctx, incident, event_type)
    incident.alerted_key = f"{incident.unit_key}|{_band(incident.confidence)}"
    incident.alerted_confidence = incident.confidence


def _cool_down(session: Session, ctx: Context, verdict: evaluate.Verdict) -> None:
    """The buyer now knows these numbers: stop giving them to new canaries for a while."""
    for cp_id in verdict.numbers:
        number_lifecycle.start_cooldown(session, ctx, cp_id, actor=SYSTEM_ACTOR)


def process_pending(ctx: Context) -> int:
    """Attribute events that were stored but not attributed (e.g. a crash in between).
    Each event gets its own transaction, so one bad event cannot block the rest."""
    with ctx.db.session() as session:
        ids = list(
            session.scalars(
                select(Event.id).where(Event.classification == "pending").order_by(Event.id)
            )
        )
    done = 0
    for event_id in ids:
        try:
            with ctx.db.session() as session:
                event = session.get(Event, event_id)
                if event is None or event.classification != "pending":
                    continue
                process_event(session, ctx, event)
                if event.classification != "pending":
                    done += 1
        except Exception:  # keep going; the event stays pending and is retried
            log.exception("attribution of event %s failed; will retry", event_id)
    return done
