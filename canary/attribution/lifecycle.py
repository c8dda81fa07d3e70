"""Incident lifecycle: open → acknowledged → resolved, or false positive.

Every change is an ``IncidentChange`` row (who, why, what) and an evidence-log entry,
so that a prosecutor can later see when the organisation knew what, and who decided.
"""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.orm import Session

from canary.attribution.models import Incident, IncidentChange
from canary.context import Context
from canary.errors import CanaryError, NotFound
from canary.evidence import log as evidence_log

log = logging.getLogger("canary.attribution")

# Allowed status transitions. Resolved and false positive are final: reopening would
# rewrite history; new evidence opens a new incident instead.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "open": ("acknowledged", "resolved", "false_positive"),
    "acknowledged": ("resolved", "false_positive"),
    "resolved": (),
    "false_positive": (),
}
ACTIVE = ("open", "acknowledged")


def get(session: Session, incident_id: int) -> Incident:
    incident = session.get(Incident, incident_id)
    if incident is None:
        raise NotFound(f"no incident with id {incident_id}; list them with `canary incidents`")
    return incident


def changes(session: Session, incident_id: int) -> list[IncidentChange]:
    return list(
        session.scalars(
            select(IncidentChange)
            .where(IncidentChange.incident_id == incident_id)
            .order_by(IncidentChange.id)
        )
    )


def record_change(
    session: Session,
    ctx: Context,
    incident: Incident,
    *,
    actor: str,
    change: str,
    reason: str = "",
    from_status: str = "",
    to_status: str = "",
    detail: dict | None = None,
) -> IncidentChange:
    """Store one change and append it to the evidence log."""
    row = IncidentChange(
        incident_id=incident.id,
        at=ctx.clock(),
        actor=actor,
        change=change,
        from_status=from_status,
        to_status=to_status,
        reason=reason,
        detail=detail or {},
    )
    session.add(row)
    session.flush()
    evidence_log.append(
        session,
        ctx.keys,
        "incident_change",
        {
            "incident_id": incident.id,
            "change_id": row.id,
            "at": row.at.isoformat(),
            "actor": actor,
            "change": change,
            "from_status": from_status,
            "to_status": to_status,
            "reason": reason,
            "status": incident.status,
            "unit": incident.unit_key,
            "period_from": incident.period_from,
            "period_to": incident.period_to,
            "confidence": incident.confidence,
            "detail": detail or {},
        },
        incident_id=incident.id,
    )
    return row


def _transition(
    session: Session, ctx: Context, incident_id: int, to: str, actor: str, reason: str
) -> Incident:
    reason = (reason or "").strip()
    if not reason:
        raise CanaryError("say why (--reason): every incident change is recorded with its reason")
    if not (actor or "").strip():
        raise CanaryError("an incident change needs the name of who made it")
    incident = get(session, incident_id)
    if to not in TRANSITIONS.get(incident.status, ()):
        allowed = ", ".join(TRANSITIONS.get(incident.status, ())) or "nothing (it is closed)"
        raise CanaryError(
            f"incident {incident_id} is {incident.status}; it can move to {allowed}, not {to}"
        )
    before = incident.status
    incident.status = to
    incident.updated_at = ctx.clock()
    record_change(
        session,
        ctx,
        incident,
        actor=actor,
        change="status",
        reason=reason,
        from_status=before,
        to_status=to,
    )
    return incident


def acknowledge(session: Session, ctx: Context, incident_id: int, actor: str, reason: str):
    """Someone is looking into it."""
    return _transition(session, ctx, incident_id, "acknowledged", actor, reason)


def resolve(session: Session, ctx: Context, incident_id: int, actor: str, reason: str):
    """The leak was dealt with (access revoked, holder confronted, case filed)."""
    return _transition(session, ctx, incident_id, "resolved", actor, reason)


def mark_false_positive(session: Session, ctx: Context, incident_id: int, actor: str, reason: str):
    """Not a leak: its events are treated as background from now on."""
    return _transition(session, ctx, incident_id, "false_positive", actor, reason)
