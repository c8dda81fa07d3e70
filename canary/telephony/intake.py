"""Where a webhook (or a polled record) becomes a stored Event.

The order is the point of this module:

1. check the parameters (``inbound.read``), refusing garbled ones with a clear reason;
2. store the event, verbatim and encrypted, with its evidence-log entry, and COMMIT,
   so nothing the caller did is lost even if everything after fails;
3. only then look for name and birth-date mentions and hand the event to attribution.
   If attribution fails, the event stays ``pending`` and the scheduler retries it.

Events are unique per (provider, kind, SID): a replayed or re-polled webhook finds the
stored event and is answered normally without creating a second one.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from canary import phones
from canary.context import Context
from canary.errors import PermissionDenied
from canary.telephony import inbound as inbound_mod
from canary.telephony import lifecycle, pool
from canary.telephony.inbound import Inbound
from canary.telephony.models import ContactPoint, Event

log = logging.getLogger("canary.telephony.intake")

PROVIDER = "twilio"
# Status and recording callbacks, and transcriptions of a stored call, only add
# detail to a contact already stored: they are evidence, not contacts of their own.
DETAIL_KINDS = ("status", "recording")
# Callers that hide their number: hashing "anonymous" would make every hidden caller
# look like one repeat caller, so they get no caller hash at all.
HIDDEN_CALLERS = {"anonymous", "restricted", "unknown", "unavailable", "private", "+266696687"}


class WrongAccount(PermissionDenied):
    """A correctly signed webhook for another Twilio account (shared auth token?)."""


@dataclass(frozen=True)
class Received:
    """What intake did with one webhook; the web layer answers from it."""

    event_id: int
    kind: str
    duplicate: bool
    contact_point_id: int | None
    country: str  # of the matched number, for the greeting's language
    classification: str


@dataclass(frozen=True)
class Match:
    contact_point: ContactPoint | None
    matched_on: str  # sip_header | forwarded_from | to | parent | "" (unmatched)
    candidates: tuple[int, ...]


def number_in(raw: str) -> str | None:
    """E.164 from a Twilio address: ``+8613800138000``, ``8613800138000``,
    ``13800138000`` or ``sip:+14155550100@x.sip.twilio.com;transport=udp``."""
    text = (raw or "").strip()
    if text.lower().startswith(("sip:", "sips:", "tel:")):
        text = text.split(":", 1)[1].split("@", 1)[0].split(";", 1)[0]
    if text.lower() in HIDDEN_CALLERS or not text:
        return None
    digits = "".join(ch for ch in text if ch.isdigit())
    if not text.startswith("+") and len(digits) > 11:
        return phones.try_normalize("+" + digits) or phones.try_normalize(text)
    return phones.try_normalize(text)


def match(session: Session, ctx: Context, item: Inbound) -> Match:
    """The pool number a call or message was meant for.

    A SIP header set by our own forwarding server is the most specific, then Twilio's
    ForwardedFrom (carrier-dependent), then the called number itself (a direct
    Twilio number, or a forwarding target shared by exactly one local number).
    """
    ambiguous: tuple[int, ...] = ()
    for source, raw in (
        ("sip_header", item.sip_called),
        ("forwarded_from", item.forwarded_from),
        ("to", item.to),
    ):
        number = number_in(raw)
        if not number:
            continue
        points = pool.candidates_for(session, ctx, number)
        if len(points) == 1:
            return Match(points[0], source, (points[0].id,))
        if points and not ambiguous:
            ambiguous = tuple(p.id for p in points)
    return Match(None, "ambiguous" if ambiguous else "", ambiguous)


def _clean(value: Any) -> Any:
    """JSON-safe copy: lone surrogates and other unencodable text replaced."""
    if isinstance(value, str):
        return value.encode("utf-8", "replace").decode("utf-8")
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, dict):
        return {_clean(str(k)): _clean(v) for k, v in value.items()}
    return value if value is None or isinstance(value, int | float | bool) else str(value)


def _aad(kind: str, provider: str, sid: str) -> str:
    return f"event:{provider}:{kind}:{sid}"


def payload_of(ctx: Context, event: Event) -> dict:
    """The verbatim webhook or API record of an event (decrypted; personal data)."""
    return ctx.keys.decrypt_json(
        event.payload_enc, _aad(event.kind, event.provider, event.provider_sid)
    )


def caller_of(ctx: Context, event: Event) -> str | None:
    if event.caller_enc is None:
        return None
    return ctx.keys.decrypt_text(event.caller_enc, "caller")


def _existing(session: Session, kind: str, sid: str, provider: str = PROVIDER) -> Event | None:
    return session.scalar(
        select(Event).where(
            Event.provider == provider, Event.kind == kind, Event.provider_sid == sid
        )
    )


def _set_caller(ctx: Context, event: Event, raw_from: str) -> None:
    number = number_in(raw_from)
    if number:
        event.caller_hash = pool.phone_hash(ctx, number)
        event.caller_block_hash = ctx.keys.lookup_hash("phone-block", phones.block_of(number))
        event.caller_enc = ctx.keys.encrypt_text(number, "caller")
    elif raw_from and raw_from.strip().lower() not in HIDDEN_CALLERS:
        # A SIP URI or alphanumeric sender: still correlate repeats of it.
        event.caller_hash = ctx.keys.lookup_hash("caller-raw", raw_from.strip().lower())
        event.caller_enc = ctx.keys.encrypt_text(raw_from.strip()[:200], "caller")


def _build(
    ctx: Context,
    item: Inbound,
    kind: str,
    sid: str,
    parent_sid: str,
    payload: dict,
    via: str,
    now: dt.datetime,
) -> Event:
    event = Event(
        kind=kind,
        provider=PROVIDER,
        provider_sid=sid,
        parent_sid=parent_sid,
        occurred_at=item.occurred_at or now,
        received_at=now,
        via=via,
        classification="pending",
        detail={},
    )
    event.payload_enc = ctx.keys.encrypt_json(payload, _aad(kind, PROVIDER, sid))
    _set_caller(ctx, event, item.from_)
    return event


def _describe(item: Inbound, found: Match, contact_point: ContactPoint | None, at) -> dict:
    """Clear-text detail for attribution: ids, flags and counts, never personal data."""
    detail: dict[str, Any] = {"matched_on": found.matched_on}
    if found.candidates and found.contact_point is None:
        detail["candidate_contact_point_ids"] = list(found.candidates)
    if contact_point is not None:
        detail["in_quarantine"] = lifecycle.in_quarantine(contact_point, at)
        detail["contact_point_state"] = contact_point.state
    if item.status:
        detail["status"] = item.status
    if item.duration_seconds is not None:
        detail["duration_seconds"] = item.duration_seconds
    if item.recording_sid:
        detail["recording_sid"] = item.recording_sid
    if item.media_urls:
        detail["media_count"] = len(item.media_urls)
    if item.kind in ("sms", "transcription"):
        detail["text_chars"] = len(item.text)
    return detail


def _evidence(session: Session, ctx: Context, event: Event, payload: dict) -> None:
    """Append the event to the tamper-evident log, in the event's own transaction.

    A savepoint keeps a failing evidence log from losing the event: the event is
    stored either way and flagged so the gap is visible.
    """
    body = {
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
        # Lets an auditor check the decrypted payload is the one logged.
        "payload_sha256": hashlib.sha256(
            json.dumps(payload, ensure_ascii=False, sort_keys=True).encode()
        ).hexdigest(),
    }
    try:
        from canary.evidence import log as evidence_log

        with session.begin_nested():
            evidence_log.append(session, ctx.keys, "event", body, event_id=event.id)
    except Exception as exc:  # the event itself must survive any evidence failure
        log.warning("event %s stored without evidence entry: %s", event.id, type(exc).__name__)
        event.detail = {**event.detail, "evidence_pending": True}


def _store(
    session: Session,
    ctx: Context,
    item: Inbound,
    payload: dict,
    via: str,
) -> tuple[Event, bool, ContactPoint | None]:
    """Insert the event (and, for a status callback of an unseen call, the call)."""
    now = ctx.clock()
    existing = _existing(session, item.kind, item.sid)
    if existing is not None:
        point = (
            session.get(ContactPoint, existing.contact_point_id)
            if existing.contact_point_id
            else None
        )
        return existing, True, point
    if item.kind in ("call", "sms", "status"):
        found = match(session, ctx, item)
    else:
        found = Match(None, "", ())
    parent = None
    if item.parent_sid:
        parent_kind = "call" if item.parent_sid.startswith("CA") else "sms"
        parent = _existing(session, parent_kind, item.parent_sid)
        if parent is None and item.kind == "status" and parent_kind == "call" and item.to:
            # The voice webhook was missed but the status callback arrived: it carries
            # the call's parameters, so the call itself is not lost.
            parent = _build(ctx, item, "call", item.parent_sid, "", payload, "status", now)
            point = found.contact_point
            parent.contact_point_id = point.id if point else None
            parent.detail = _describe(item, found, point, parent.occurred_at)
            parent.classification = "pending" if (point or found.candidates) else "unmatched"
            session.add(parent)
            session.flush()
            _evidence(session, ctx, parent, payload)
    point = found.contact_point
    if point is None and parent is not None and parent.contact_point_id:
        point = session.get(ContactPoint, parent.contact_point_id)
        found = Match(point, "parent", (point.id,))
    event = _build(ctx, item, item.kind, item.sid, item.parent_sid, payload, via, now)
    if parent is not None and not item.from_:
        event.caller_hash, event.caller_block_hash = parent.caller_hash, parent.caller_block_hash
        event.caller_enc = parent.caller_enc
    event.contact_point_id = point.id if point else None
    event.detail = _describe(item, found, point, event.occurred_at)
    if item.kind in DETAIL_KINDS or (item.kind == "transcription" and parent is not None):
        event.classification = "evidence"
    elif point is None and not found.candidates:
        event.classification = "unmatched"
    session.add(event)
    session.flush()
    if item.kind in ("call", "sms") and point is not None and via != "webhook":
        # Recordings or statuses that arrived before their (backfilled) call now get its
        # number. A call's own webhook always precedes its callbacks, so skip it there.
        session.execute(
            update(Event)
            .where(Event.parent_sid == item.sid, Event.contact_point_id.is_(None))
            .values(contact_point_id=point.id)
        )
    _evidence(session, ctx, event, payload)
    return event, False, point


def receive(
    ctx: Context,
    kind: str,
    params: Mapping[str, Any],
    *,
    via: str = "webhook",
    raw_body: bytes | None = None,
    url: str = "",
) -> Received:
    """Check, store and commit one webhook or polled record, then process it.

    Raises ``inbound.BadWebhook`` (400) for missing or garbled parameters and
    ``WrongAccount`` (403) for another account's callback. Never raises after the
    event is committed.
    """
    item = inbound_mod.read(kind, params)
    expected = ctx.settings.twilio_account_sid
    if expected and item.account_sid != expected:
        raise WrongAccount("the webhook is for a different Twilio account")
    payload = {"params": _clean(item.params), "via": via, "url": url}
    if raw_body is not None:
        payload["raw_body_b64"] = base64.b64encode(raw_body).decode()
    try:
        with ctx.db.session() as session:
            event, duplicate, point = _store(session, ctx, item, payload, via)
            result = Received(
                event.id,
                kind,
                duplicate,
                point.id if point else None,
                point.country if point else "",
                event.classification,
            )
    except IntegrityError:
        # A concurrent delivery of the same SID won the insert: this one is a replay.
        with ctx.db.session() as session:
            event = _existing(session, item.kind, item.sid)
            if event is None:
                raise
            result = Received(
                event.id, kind, True, event.contact_point_id, "", event.classification
            )
    if result.duplicate:
        log.info("%s %s: duplicate of event %s, not stored again", via, kind, result.event_id)
        return result
    log.info(
        "%s %s stored as event %s (%s)",
        via,
        kind,
        result.event_id,
        "matched" if result.contact_point_id else result.classification,
    )
    from canary.telephony import followup

    followup.process(ctx, result.event_id, item)
    return result
