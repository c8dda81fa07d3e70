"""Reading Twilio's webhook parameters into one checked, typed record.

Twilio's parameter names differ per callback (CallSid vs MessageSid, To vs Called,
SmsSid as a legacy alias). This module is the one place that knows them, checks the
ones intake relies on, and says precisely what is missing or garbled — without ever
echoing a value (values are phone numbers and message text).
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from types import MappingProxyType
from typing import Any, NamedTuple

from canary.errors import CanaryError

KINDS = ("call", "sms", "status", "recording", "transcription")
# Twilio SIDs: two-letter type prefix and 32 lower-case hex digits, as Twilio writes
# them. A SID is the dedupe key, so only that one spelling is taken: another case, or
# a trailing newline (which ``$`` would let through), would store the same call twice.
SID = {
    "account": re.compile(r"AC[0-9a-f]{32}"),
    "call": re.compile(r"CA[0-9a-f]{32}"),
    "message": re.compile(r"(SM|MM|SL)[0-9a-f]{32}"),
    "recording": re.compile(r"RE[0-9a-f]{32}"),
    "transcription": re.compile(r"TR[0-9a-f]{32}"),
}
STATUS = re.compile(r"[a-z_-]{2,24}")  # whole value (``fullmatch``): partially_delivered
MAX_MEDIA = 10  # Twilio delivers at most 10 media items per MMS
# SIP headers a forwarding SIP server may use to pass the originally called number
# (DOMAIN.md: the reliable route for mainland-China numbers). Twilio delivers
# ``X-`` headers as ``SipHeader_X-...`` parameters; Diversion is the RFC 5806 header.
SIP_CALLED_HEADERS = ("SipHeader_X-Canary-Called", "SipHeader_X-Original-Called")
SIP_DIVERSION = "SipHeader_Diversion"
DIVERSION_NUMBER = re.compile(r"(?:sip|tel):(\+?\d{6,15})")


class BadWebhook(CanaryError):
    """A webhook missing a parameter intake needs, or carrying a garbled one."""

    http_status = 400


class Inbound(NamedTuple):
    """One webhook or polled record, checked. ``params`` keeps everything verbatim.

    A NamedTuple rather than a frozen dataclass: as immutable, and made four times
    faster (a frozen dataclass sets each of its sixteen fields through
    ``object.__setattr__``), which counts once per webhook.
    """

    kind: str
    sid: str  # our dedupe key within (provider, kind)
    parent_sid: str  # the call or message a recording/transcription/status belongs to
    account_sid: str
    to: str = ""
    from_: str = ""
    forwarded_from: str = ""
    sip_called: str = ""
    status: str = ""
    occurred_at: dt.datetime | None = None
    text: str = ""  # SMS body or transcription text, made safe for matching
    media_urls: tuple[str, ...] = ()
    recording_url: str = ""
    recording_sid: str = ""
    duration_seconds: int | None = None
    params: Mapping[str, Any] = MappingProxyType({})


def _get(params: Mapping[str, Any], *names: str) -> str:
    for name in names:
        value = params.get(name)
        if type(value) is str:  # nearly always: skip the conversions below
            if value:
                return value
            continue
        if isinstance(value, list):
            value = value[0] if value else None
        if value is not None and str(value) != "":
            return str(value)
    return ""


def _sid(params: Mapping[str, Any], kind: str, *names: str, required: bool = True) -> str:
    value = _get(params, *names)
    if not value:
        if required:
            raise BadWebhook(f"missing parameter {names[0]}")
        return ""
    if not SID[kind].fullmatch(value):
        raise BadWebhook(f"parameter {names[0]} is not a Twilio {kind} SID")
    return value


def valid_text(value: str) -> str:
    """``value`` with lone surrogates (which only a JSON body's escapes can make)
    replaced, so that it can be encoded as UTF-8 (hashed, encrypted, stored)."""
    return value if value.isascii() else value.encode("utf-8", "replace").decode("utf-8")


def _status(value: str) -> str:
    """A status as Twilio spells one, else "": it is kept in clear in the event's
    detail, so anything else (the verbatim value stays in the encrypted record) is not."""
    return value if STATUS.fullmatch(value) else ""


def _digits(value: str, max_digits: int) -> bool:
    # ``isdigit`` alone takes superscripts and other digits ``int`` refuses.
    return value.isascii() and value.isdigit() and len(value) <= max_digits


def safe_text(value: str, limit: int = 10_000) -> str:
    """Text for matching: invalid code points replaced, control characters spaced out.

    SMS bodies come from anyone; a NUL or a lone surrogate must neither crash the
    encoder nor the database driver (PostgreSQL rejects NUL in text).
    """
    value = value.encode("utf-8", "replace").decode("utf-8", "replace")[:limit]
    return "".join(
        " " if unicodedata.category(ch) in ("Cc", "Cs", "Cf") and ch not in "\n" else ch
        for ch in value
    )


def _timestamp(params: Mapping[str, Any]) -> dt.datetime | None:
    # Status callbacks carry an RFC 2822 Timestamp; other webhooks happen "now".
    raw = _get(params, "Timestamp")
    if not raw:
        return None
    try:
        value = parsedate_to_datetime(raw)
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        # Dates at the ends of the calendar overflow when moved to UTC.
        return value.astimezone(dt.UTC)
    except (TypeError, ValueError, IndexError, OverflowError):
        raise BadWebhook("parameter Timestamp is not an RFC 2822 date") from None


def _duration(params: Mapping[str, Any], name: str) -> int | None:
    raw = _get(params, name)
    if not raw:
        return None
    if not _digits(raw, 7):
        raise BadWebhook(f"parameter {name} is not a whole number of seconds")
    return int(raw)


def _url(params: Mapping[str, Any], name: str, required: bool) -> str:
    value = _get(params, name)
    if not value:
        if required:
            raise BadWebhook(f"missing parameter {name}")
        return ""
    if not value.startswith(("https://", "http://")) or len(value) > 2000:
        raise BadWebhook(f"parameter {name} is not an http(s) URL")
    return valid_text(value)


def _sip_called(params: Mapping[str, Any]) -> str:
    for name in SIP_CALLED_HEADERS:
        value = _get(params, name)
        if value:
            return value
    diversion = _get(params, SIP_DIVERSION)
    if not diversion:
        return ""
    # Diversion: <sip:+8613800138000@carrier.example>;reason=unconditional
    match = DIVERSION_NUMBER.search(diversion)
    return match.group(1) if match else ""


def _media(params: Mapping[str, Any]) -> tuple[str, ...]:
    raw = _get(params, "NumMedia") or "0"
    if not _digits(raw, 6):
        raise BadWebhook("parameter NumMedia is not a number")
    count = min(int(raw), MAX_MEDIA)
    return tuple(valid_text(u) for u in (_get(params, f"MediaUrl{i}") for i in range(count)) if u)


def read(kind: str, params: Mapping[str, Any]) -> Inbound:
    """Check and type one callback's parameters; raises BadWebhook naming the problem."""
    if kind not in KINDS:
        raise BadWebhook(f"unknown webhook kind {kind!r}")
    account = _sid(params, "account", "AccountSid")
    common = {
        "account_sid": account,
        "to": valid_text(_get(params, "To", "Called")),
        "from_": valid_text(_get(params, "From", "Caller")),
        "forwarded_from": valid_text(_get(params, "ForwardedFrom")),
        "sip_called": valid_text(_sip_called(params)),
        "occurred_at": _timestamp(params),
        "params": dict(params),
    }
    if kind == "call":
        sid = _sid(params, "call", "CallSid")
        if not common["to"]:
            raise BadWebhook("missing parameter To (or Called)")
        return Inbound(kind, sid, "", status=_status(_get(params, "CallStatus")), **common)
    if kind == "sms":
        sid = _sid(params, "message", "MessageSid", "SmsSid")
        if not common["to"]:
            raise BadWebhook("missing parameter To")
        return Inbound(
            kind,
            sid,
            "",
            text=safe_text(_get(params, "Body")),
            media_urls=_media(params),
            **common,
        )
    if kind == "status":
        call_sid = _sid(params, "call", "CallSid", required=False)
        message_sid = "" if call_sid else _sid(params, "message", "MessageSid", "SmsSid")
        status = _get(params, "CallStatus", "MessageStatus", "SmsStatus")
        if not _status(status):
            raise BadWebhook("missing or garbled parameter CallStatus/MessageStatus")
        parent = call_sid or message_sid
        return Inbound(
            kind,
            f"{parent}:{status}",
            parent,
            status=status,
            duration_seconds=_duration(params, "CallDuration"),
            **common,
        )
    call_sid = _sid(params, "call", "CallSid")
    if kind == "recording":
        recording = _sid(params, "recording", "RecordingSid")
        status = _get(params, "RecordingStatus") or "completed"
        if not _status(status):
            raise BadWebhook("garbled parameter RecordingStatus")
        # The <Record action> request and the status callback describe the same
        # recording: one event per recording and status.
        sid = recording if status == "completed" else f"{recording}:{status}"
        return Inbound(
            kind,
            sid,
            call_sid,
            status=status,
            recording_sid=recording,
            recording_url=_url(params, "RecordingUrl", status == "completed"),
            duration_seconds=_duration(params, "RecordingDuration"),
            **common,
        )
    transcription = _sid(params, "transcription", "TranscriptionSid")
    status = _get(params, "TranscriptionStatus") or "completed"
    if not _status(status):
        raise BadWebhook("garbled parameter TranscriptionStatus")
    # Optional here; kept in clear in the event's detail only when it is a SID.
    recording = _get(params, "RecordingSid")
    recording = recording if SID["recording"].fullmatch(recording) else ""
    return Inbound(
        kind,
        transcription,
        call_sid,
        status=status,
        text=safe_text(_get(params, "TranscriptionText")),
        recording_sid=recording,
        recording_url=_url(params, "RecordingUrl", False),
        **common,
    )
