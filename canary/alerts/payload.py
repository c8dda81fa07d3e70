"""What an alert says about an incident: one payload, rendered by every channel.

The payload follows the Standard Webhooks shape (``type``, ``timestamp``, ``data``).
It names the leak point (holder, copy, feed), the verdict, the confidence, the period
range, evidence counts, the explanation and a link to the incident in the service. It
never carries personal data: no caller numbers, no message bodies, no canary fields.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from canary import periods
from canary.attribution.models import Incident
from canary.flow.models import Copy, Feed, Holder
from canary.telephony.models import Event, EventCanary

EVENT_TYPES = ("incident.opened", "incident.updated", "incident.status", "test")
# Ranked candidates beyond the first few add noise to a chat message, not information.
MAX_CANDIDATES = 3


def incident_link(base_url: str, incident_id: int) -> str:
    return f"{base_url.rstrip('/')}/incidents/{incident_id}"


def evidence_counts(session: Session, incident_id: int) -> dict[str, int]:
    """How much evidence stands behind an incident: counts only, never contents."""
    by_kind = dict(
        session.execute(
            select(Event.kind, func.count(Event.id))
            .where(Event.incident_id == incident_id)
            .group_by(Event.kind)
        ).all()
    )
    canaries = session.scalar(
        select(func.count(func.distinct(EventCanary.canary_id)))
        .join(Event, Event.id == EventCanary.event_id)
        .where(Event.incident_id == incident_id)
    )
    strong = session.scalar(
        select(func.count(EventCanary.id))
        .join(Event, Event.id == EventCanary.event_id)
        .where(Event.incident_id == incident_id, EventCanary.strength != "number")
    )
    numbers = session.scalar(
        select(func.count(func.distinct(Event.contact_point_id))).where(
            Event.incident_id == incident_id, Event.contact_point_id.is_not(None)
        )
    )
    callers = session.scalar(
        select(func.count(func.distinct(Event.caller_hash))).where(
            Event.incident_id == incident_id, Event.caller_hash != ""
        )
    )
    return {
        "events": int(sum(by_kind.values())),
        "calls": int(by_kind.get("call", 0)),
        "messages": int(by_kind.get("sms", 0)),
        "recordings": int(by_kind.get("recording", 0)),
        "scans": int(by_kind.get("scan", 0)),
        "canaries": int(canaries or 0),
        "numbers": int(numbers or 0),
        "callers": int(callers or 0),
        "strong": int(strong or 0),
    }


def _names(session: Session, incident: Incident) -> dict[str, Any]:
    copy = session.get(Copy, incident.copy_id) if incident.copy_id else None
    holder_id = incident.holder_id or (copy.holder_id if copy else None)
    feed_id = incident.feed_id or (copy.feed_id if copy else None)
    holder = session.get(Holder, holder_id) if holder_id else None
    feed = session.get(Feed, feed_id) if feed_id else None
    return {
        "holder": {"id": holder.id, "name": holder.name} if holder else None,
        "feed": {"id": feed.id, "name": feed.name} if feed else None,
        "copy": {"id": copy.id, "label": copy.label} if copy else None,
    }


def _candidates(incident: Incident) -> list[dict[str, Any]]:
    keep = ("unit", "label", "probability", "period_from", "period_to")
    out = []
    for item in (incident.verdict or {}).get("candidates", [])[:MAX_CANDIDATES]:
        if isinstance(item, dict):
            out.append({k: item[k] for k in keep if k in item})
    return out


def _period(incident: Incident) -> dict[str, str]:
    label = ""
    if incident.period_from and incident.period_to:
        label = periods.span(incident.period_from, incident.period_to)
    return {"from": incident.period_from, "to": incident.period_to, "label": label}


def build(
    session: Session,
    incident: Incident,
    event_type: str,
    *,
    base_url: str,
    at: dt.datetime,
) -> dict[str, Any]:
    """The alert payload for one incident at one moment."""
    names = _names(session, incident)
    leak_point = (
        (names["copy"] or {}).get("label")
        or (names["holder"] or {}).get("name")
        or incident.unit_key
        or "unknown"
    )
    return {
        "type": event_type,
        "timestamp": at.astimezone(dt.UTC).isoformat(timespec="seconds"),
        "data": {
            "incident_id": incident.id,
            "status": incident.status,
            "verdict": {"leak_point": leak_point, "unit": incident.unit_key},
            "confidence": float(incident.confidence or 0.0),
            "period": _period(incident),
            **names,
            "evidence": evidence_counts(session, incident.id),
            "explanation": incident.explanation or "",
            "candidates": _candidates(incident),
            "link": incident_link(base_url, incident.id),
            "opened_at": incident.opened_at.isoformat(timespec="seconds")
            if incident.opened_at
            else None,
        },
    }


def test_payload(destination_name: str, *, base_url: str, at: dt.datetime) -> dict[str, Any]:
    """What ``canary alerts test`` sends: clearly marked, no incident behind it."""
    return {
        "type": "test",
        "timestamp": at.astimezone(dt.UTC).isoformat(timespec="seconds"),
        "data": {
            "incident_id": None,
            "status": "test",
            "verdict": {"leak_point": "test delivery", "unit": ""},
            "confidence": 0.0,
            "period": {"from": "", "to": "", "label": ""},
            "holder": None,
            "feed": None,
            "copy": None,
            "evidence": {},
            "explanation": f"Test delivery to destination {destination_name!r}.",
            "candidates": [],
            "link": base_url.rstrip("/") + "/incidents",
            "opened_at": None,
        },
    }
