"""Incidents as plain data, for the CLI, the API and alert payloads alike.

Nothing here is personal data: events are shown by id, kind, time and pool-number id,
never by caller number or message body (those stay encrypted in the evidence).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from canary import periods
from canary.attribution import lifecycle
from canary.attribution.models import INCIDENT_STATUSES, Incident
from canary.errors import CanaryError
from canary.flow.models import Copy, Feed, Holder
from canary.telephony.models import Event


def _iso(value) -> str | None:
    return value.isoformat(timespec="seconds") if value else None


def summary(session: Session, incident: Incident) -> dict:
    """The headline of an incident: who leaked what, when, how sure."""
    holder = session.get(Holder, incident.holder_id) if incident.holder_id else None
    feed = session.get(Feed, incident.feed_id) if incident.feed_id else None
    copy = session.get(Copy, incident.copy_id) if incident.copy_id else None
    period = periods.span(incident.period_from, incident.period_to) if incident.period_from else ""
    return {
        "id": incident.id,
        "status": incident.status,
        "opened_at": _iso(incident.opened_at),
        "updated_at": _iso(incident.updated_at),
        "leak_point": incident.unit_key,
        "copy": copy.label if copy else None,
        "copy_id": incident.copy_id,
        "holder": holder.name if holder else None,
        "holder_id": incident.holder_id,
        "feed": feed.name if feed else None,
        "feed_id": incident.feed_id,
        "period": period,
        "period_from": incident.period_from,
        "period_to": incident.period_to,
        "confidence": incident.confidence,
        "p_background": (incident.verdict or {}).get("background"),
        "event_count": incident.event_count,
        "explanation": incident.explanation,
    }


def detail(session: Session, incident: Incident) -> dict:
    """Summary plus ranked candidates, the change history and the events (by id)."""
    events = session.scalars(
        select(Event).where(Event.incident_id == incident.id).order_by(Event.occurred_at)
    )
    return {
        **summary(session, incident),
        "candidates": (incident.verdict or {}).get("candidates", []),
        "changes": [
            {
                "at": _iso(c.at),
                "actor": c.actor,
                "change": c.change,
                "from_status": c.from_status,
                "to_status": c.to_status,
                "reason": c.reason,
            }
            for c in lifecycle.changes(session, incident.id)
        ],
        "events": [
            {
                "id": e.id,
                "kind": e.kind,
                "occurred_at": _iso(e.occurred_at),
                "contact_point_id": e.contact_point_id,
                "classification": e.classification,
                "evidence": sorted({link.strength for link in e.canaries}),
            }
            for e in events
        ],
    }


def list_incidents(session: Session, status: str | None = None, limit: int = 200) -> list[dict]:
    """Incidents, newest first, optionally of one status."""
    query = select(Incident).order_by(Incident.id.desc()).limit(max(1, min(limit, 1000)))
    if status:
        if status not in INCIDENT_STATUSES:
            raise CanaryError(
                f"unknown status {status!r}; choose one of {', '.join(INCIDENT_STATUSES)}"
            )
        query = query.where(Incident.status == status)
    return [summary(session, i) for i in session.scalars(query)]


def headline(row: dict) -> str:
    """One line for humans."""
    who = row["copy"] or row["holder"] or row["leak_point"] or "unknown"
    return (
        f"#{row['id']:<4} {row['status']:<14} {who}  {row['period']}  "
        f"confidence {row['confidence']:.4f}  {row['event_count']} event(s)"
    )
