"""What happens after an event is safely stored: mentions, transcripts, attribution.

Everything here may fail without losing the event: intake has already committed it.
A failure leaves the event ``pending`` for the scheduler's ``process_pending``.
"""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.orm import Session

from canary.canaries import registry
from canary.context import Context
from canary.telephony import evidence, mentions, speech, twiml
from canary.telephony.inbound import Inbound
from canary.telephony.intake import Received
from canary.telephony.models import ContactPoint, Event, EventCanary

log = logging.getLogger("canary.telephony.followup")


def _parent_call(session: Session, event: Event) -> Event | None:
    if not event.parent_sid.startswith("CA"):
        return None
    return session.scalar(
        select(Event).where(
            Event.provider == "twilio", Event.kind == "call", Event.provider_sid == event.parent_sid
        )
    )


def _candidate_numbers(event: Event) -> list[int]:
    if event.contact_point_id:
        return [event.contact_point_id]
    return [int(i) for i in (event.detail or {}).get("candidate_contact_point_ids", [])]


def link_mentions(session: Session, ctx: Context, event: Event, text: str) -> int:
    """Attach canaries the text names (or whose birth date it gives) to ``event``.

    Only canaries on the event's number (or, for an ambiguous forwarded call, on any
    candidate number) are considered: comparing every message to every canary would
    both cost a registry-wide decryption and invite coincidental matches.
    """
    numbers = _candidate_numbers(event)
    if not text.strip() or not numbers:
        return 0
    by_number: dict[int, list] = {}
    for cp_id in numbers:
        live = [
            c
            for c in registry.for_contact_point(session, cp_id)
            if c.live_from <= event.occurred_at
        ]
        if live:
            by_number[cp_id] = live
    if not by_number:
        return 0
    canaries = [c for group in by_number.values() for c in group]
    views = registry.system_read(session, ctx.keys, canaries, purpose="mention-match")
    hits = mentions.find(text, [mentions.persona_of(v) for v in views])
    have = {(link.canary_id, link.strength) for link in event.canaries}
    added = 0
    for canary_id, strength in hits:
        if (canary_id, strength) not in have:
            event.canaries.append(EventCanary(canary_id=canary_id, strength=strength))
            have.add((canary_id, strength))
            added += 1
    if event.contact_point_id is None and hits:
        # A forwarding target shared by several local numbers: the name says which.
        owners = {
            cp for cp, group in by_number.items() for c in group if c.id in {h[0] for h in hits}
        }
        if len(owners) == 1:
            event.contact_point_id = owners.pop()
            event.detail = {**(event.detail or {}), "matched_on": "mention"}
    session.flush()
    return added


def _transcribe(session: Session, ctx: Context, event: Event, item: Inbound) -> str:
    """Run the speech-to-text hook on a finished recording of a non-English call."""
    if item.kind != "recording" or item.status != "completed" or not item.recording_url:
        return ""
    point = session.get(ContactPoint, event.contact_point_id) if event.contact_point_id else None
    locale = twiml.locale_for(point.country if point else "", ctx.settings)
    if locale.startswith("en"):
        return ""  # Twilio transcribes English itself
    hook = speech.load_hook(ctx.settings)
    if hook is None:
        return ""
    text = hook(item.recording_url, speech.auth_for(ctx.settings), locale) or ""
    if text:
        transcript = Event(
            kind="transcription",
            provider="stt",
            provider_sid=item.recording_sid or item.sid,
            parent_sid=event.parent_sid,
            contact_point_id=event.contact_point_id,
            occurred_at=event.occurred_at,
            received_at=ctx.clock(),
            caller_hash=event.caller_hash,
            caller_block_hash=event.caller_block_hash,
            caller_enc=event.caller_enc,
            via="stt",
            classification="evidence",
            detail={"text_chars": len(text), "recording_sid": item.recording_sid},
            evidence_pending=True,  # its entry is appended by evidence.log_pending
        )
        transcript.payload_enc = ctx.keys.encrypt_json(
            {"text": text, "locale": locale},
            Event.payload_aad("stt", "transcription", transcript.provider_sid),
        )
        session.add(transcript)
        session.flush()
    return text


def has_work(ctx: Context, item: Inbound) -> bool:
    """Whether ``process`` does anything for a freshly stored ``item``: with
    ``attribute_in_webhook`` off, only a text to match or a recording to transcribe.
    Storing need not read back the id of an event it does nothing for."""
    return ctx.settings.attribute_in_webhook or bool(item.text) or item.kind == "recording"


def process(ctx: Context, received: Received, item: Inbound) -> None:
    """Evidence, mentions, then attribution, for a freshly stored event. Never raises.

    With ``attribute_in_webhook`` off, the scheduler's ``attribute-pending`` job appends
    the evidence entry and attributes the event: the webhook then costs only the store,
    whatever the size of the registry and however many webhooks arrive at once. On,
    the entry is appended here first, so the log shows the event before any incident
    change it causes.
    """
    if not has_work(ctx, item):
        return  # nothing to match and attribution is the scheduler's: no second transaction
    event_id = received.event_id
    inline = ctx.settings.attribute_in_webhook
    if inline:
        try:
            evidence.log_events(ctx, received.new_event_ids or (event_id,))
        except Exception as exc:  # the event is stored; the job appends the entry later
            log.warning("event %s: evidence entry deferred (%s)", event_id, type(exc).__name__)
    target_id = None
    try:
        with ctx.db.session() as session:
            event = session.get(Event, event_id)
            text = item.text
            if item.kind == "recording":
                text = _transcribe(session, ctx, event, item)
            target = event
            if event.kind in ("transcription", "recording"):
                target = _parent_call(session, event) or event
            added = link_mentions(session, ctx, target, text) if text else 0
            if target.classification == "pending" or added:
                target_id = target.id
    except Exception as exc:
        log.warning("event %s: mention matching failed (%s)", event_id, type(exc).__name__)
        target_id = event_id if item.kind in ("call", "sms") else None
    if target_id is not None and inline:
        attribute(ctx, target_id)


def attribute(ctx: Context, event_id: int) -> None:
    """Hand one event to attribution; on failure it stays pending for the scheduler."""
    # Imported here: attribution imports telephony, so a module-level import would cycle.
    from canary.attribution import service

    try:
        with ctx.db.session() as session:
            event = session.get(Event, event_id)
            if event is not None and event.classification != "unmatched":
                service.process_event(session, ctx, event)
    except Exception as exc:
        log.warning(
            "event %s: attribution failed (%s); left pending for retry",
            event_id,
            type(exc).__name__,
        )
