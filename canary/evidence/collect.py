"""Gather what an evidence bundle holds about one incident, from the live database.

This is the one place that decrypts an incident's events and canaries for the
investigator: canaries through the audited registry (``system_read``), events through
telephony's accessors. Everything returned is plain JSON-ready data.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from canary import periods
from canary.attribution import lifecycle
from canary.attribution.models import Incident
from canary.canaries import registry
from canary.canaries.models import Canary
from canary.context import Context
from canary.errors import KeyMaterialError
from canary.flow import service as flow
from canary.flow.models import Copy, Feed, Holder, Source
from canary.telephony import intake
from canary.telephony.models import Event

# Payload fields that carry what was said or written, and where a recording is.
TEXT_FIELDS = ("Body", "text", "TranscriptionText", "SpeechResult")
RECORDING_FIELDS = ("RecordingUrl", "RecordingDuration", "RecordingSid")


def _iso(value: dt.datetime | None) -> str | None:
    return value.astimezone(dt.UTC).isoformat(timespec="seconds") if value else None


def payload_sha256(payload: Any) -> str:
    """The hash intake logs for an event's payload (same serialisation), so a bundle
    reader can check the decrypted payload is the one the signed log attests."""
    return hashlib.sha256(
        json.dumps(payload, ensure_ascii=False, sort_keys=True).encode()
    ).hexdigest()


def events_of(session: Session, incident: Incident) -> list[Event]:
    """The incident's events, plus their recordings, transcripts and status callbacks."""
    direct = list(
        session.scalars(
            select(Event).where(Event.incident_id == incident.id).order_by(Event.occurred_at)
        )
    )
    sids = sorted({e.provider_sid for e in direct if e.provider_sid})
    known = {e.id for e in direct}
    follow = []
    if sids:
        follow = [
            e
            for e in session.scalars(
                select(Event).where(Event.parent_sid.in_(sids)).order_by(Event.occurred_at)
            )
            if e.id not in known
        ]
    return sorted([*direct, *follow], key=lambda e: (e.occurred_at, e.id))


def event_record(ctx: Context, event: Event, evidence_seq: list[int]) -> dict[str, Any]:
    """One event for the investigator: decrypted payload and caller, and its log entries."""
    record: dict[str, Any] = {
        "id": event.id,
        "kind": event.kind,
        "provider": event.provider,
        "provider_sid": event.provider_sid,
        "parent_sid": event.parent_sid,
        "occurred_at": _iso(event.occurred_at),
        "received_at": _iso(event.received_at),
        "contact_point_id": event.contact_point_id,
        "classification": event.classification,
        "incident_id": event.incident_id,
        "via": event.via,
        "canaries": sorted(
            ({"canary_id": link.canary_id, "strength": link.strength} for link in event.canaries),
            key=lambda c: (c["canary_id"], c["strength"]),
        ),
        "evidence_seq": evidence_seq,
        "caller": None,
        "payload": None,
        "payload_sha256": None,
        "decrypt_error": "",
    }
    try:
        payload = intake.payload_of(ctx, event)
        record["caller"] = intake.caller_of(ctx, event)
    except KeyMaterialError:
        # Keep the rest of the bundle: say plainly this payload could not be read.
        record["decrypt_error"] = "payload does not decrypt with this service's key"
        return record
    record["payload"] = payload
    record["payload_sha256"] = payload_sha256(payload)
    if isinstance(payload, dict):
        # A webhook's record holds its parameters (or the body they are read from);
        # a record made here (a transcript, a scanned file) holds its fields directly.
        fields = payload
        if _is_webhook_record(payload):
            fields = record["params"] = intake.params_of(payload)
        record["text"] = next((str(fields[k]) for k in TEXT_FIELDS if fields.get(k)), "")
        record["recording"] = {k: fields[k] for k in RECORDING_FIELDS if fields.get(k)}
    return record


def _is_webhook_record(payload: dict) -> bool:
    return "params" in payload or "body_format" in payload


def canaries_of(session: Session, ctx: Context, events: list[Event]) -> list[dict[str, Any]]:
    """The canaries the events point at, decrypted for the investigator (audited)."""
    ids = sorted({link.canary_id for e in events for link in e.canaries})
    if not ids:
        return []
    rows = list(session.scalars(select(Canary).where(Canary.id.in_(ids)).order_by(Canary.id)))
    found = registry.system_read(session, ctx.keys, rows, purpose="evidence-export")
    copies = {
        c.id: c
        for c in session.scalars(select(Copy).where(Copy.id.in_(sorted({r.copy_id for r in rows}))))
    }
    for item in found:
        copy = copies.get(item["copy_id"])
        item["copy"] = copy.label if copy else None
    return found


def incident_record(session: Session, incident: Incident) -> dict[str, Any]:
    """The verdict, its explanation, ranked candidates and the change history."""
    copy = session.get(Copy, incident.copy_id) if incident.copy_id else None
    holder = session.get(Holder, incident.holder_id) if incident.holder_id else None
    feed = session.get(Feed, incident.feed_id) if incident.feed_id else None
    span = ""
    if incident.period_from and incident.period_to:
        span = periods.span(incident.period_from, incident.period_to)
    verdict = incident.verdict or {}
    return {
        "id": incident.id,
        "status": incident.status,
        "opened_at": _iso(incident.opened_at),
        "updated_at": _iso(incident.updated_at),
        "leak_point": incident.unit_key,
        "copy": copy.label if copy else None,
        "holder": holder.name if holder else None,
        "feed": feed.name if feed else None,
        "period": span,
        "period_from": incident.period_from,
        "period_to": incident.period_to,
        "confidence": incident.confidence,
        "p_background": verdict.get("background"),
        "explanation": incident.explanation,
        "event_count": incident.event_count,
        "candidates": verdict.get("candidates", []),
        "changes": [
            {
                "id": c.id,
                "at": _iso(c.at),
                "actor": c.actor,
                "change": c.change,
                "from_status": c.from_status,
                "to_status": c.to_status,
                "reason": c.reason,
            }
            for c in lifecycle.changes(session, incident.id)
        ],
    }


def flow_path(session: Session, incident: Incident) -> dict[str, Any]:
    """Where the leaked data came from and where it could go: source → feed → holder →
    downstream holders (who also saw these canaries)."""
    copy = session.get(Copy, incident.copy_id) if incident.copy_id else None
    feed_id = incident.feed_id or (copy.feed_id if copy else None)
    holder_id = incident.holder_id or (copy.holder_id if copy else None)
    feed = session.get(Feed, feed_id) if feed_id else None
    source = session.get(Source, feed.source_id) if feed and feed.source_id else None
    producer = (
        session.get(Holder, feed.produced_by_holder_id)
        if feed and feed.produced_by_holder_id
        else None
    )
    holder = session.get(Holder, holder_id) if holder_id else None
    downstream = []
    if holder is not None:
        ids = sorted(flow.downstream_of(session, holder.id) - {holder.id})
        downstream = [h.name for h in session.scalars(select(Holder).where(Holder.id.in_(ids)))]
    steps = []
    if source is not None:
        steps.append({"role": "source", "name": source.name})
    if producer is not None:
        steps.append({"role": "aggregated by", "name": producer.name})
    if feed is not None:
        steps.append({"role": "feed", "name": feed.name})
    if holder is not None:
        steps.append({"role": "holder", "name": holder.name})
    return {"steps": steps, "downstream": sorted(downstream)}


def relevant_entry_filter(incident_id: int, event_ids: list[int]):
    """Evidence entries about this incident or its events."""
    from canary.evidence.models import EvidenceEntry

    clauses = [EvidenceEntry.incident_id == incident_id]
    if event_ids:
        clauses.append(EvidenceEntry.event_id.in_(event_ids))
    return or_(*clauses)
