"""Who called: an event's caller fields, stored verbatim first and worked out later.

An event keeps its caller three ways: encrypted (``caller_enc``), as a keyed hash of
the normalised number (``caller_hash``, which the allowlist and repeat-caller
statistics compare) and as a keyed hash of its number block (``caller_block_hash``).

Normalising a number (``phonenumbers``) and hashing it cost 50-140 us of a webhook's
1,000-1,300 us of server CPU under gunicorn (docs/telephony.md), and nothing needs
them until the event is attributed or enters the evidence log. So intake stores the
caller's address as it came, encrypted, with both hashes empty (``as_received``), and
``resolve`` fills them in, rewriting ``caller_enc`` to the normalised number, before
anything reads them: the evidence entry (``canary.telephony.evidence``) and
attribution (``process_event``). A resolved row is exactly what storing with
``fields`` would have written.

Unresolved means: ``caller_enc`` set and ``caller_hash`` empty. A resolved caller
always has a hash, and a hidden caller has neither, so no extra column is needed.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from canary import phones
from canary.context import Context
from canary.telephony import pool

# Callers that hide their number: hashing "anonymous" would make every hidden caller
# look like one repeat caller, so they get no caller hash at all.
HIDDEN_CALLERS = {"anonymous", "restricted", "unknown", "unavailable", "private", "+266696687"}
_AAD = "caller"
_NO_CALLER = {"caller_hash": "", "caller_block_hash": "", "caller_enc": None}


def number_in(raw: str) -> str | None:
    """E.164 from a Twilio address: ``+8613800138000``, ``8613800138000``,
    ``13800138000`` or ``sip:+14155550100@x.sip.twilio.com;transport=udp``."""
    text = (raw or "").strip()
    if text.lower().startswith(("sip:", "sips:", "tel:")):
        text = text.split(":", 1)[1].split("@", 1)[0].split(";", 1)[0]
    if text.lower() in HIDDEN_CALLERS or not text:
        return None
    if not text.startswith("+"):
        digits = "".join(ch for ch in text if ch.isdigit())
        if len(digits) > 11:
            return phones.try_normalize("+" + digits) or phones.try_normalize(text)
    return phones.try_normalize(text)


def fields(ctx: Context, raw_from: str) -> dict[str, Any]:
    """The resolved caller columns of an event whose caller sent ``raw_from``."""
    number = number_in(raw_from)
    if number:
        return {
            "caller_hash": pool.phone_hash(ctx, number),
            "caller_block_hash": ctx.keys.lookup_hash("phone-block", phones.block_of(number)),
            "caller_enc": ctx.keys.encrypt_text(number, _AAD),
        }
    if raw_from and raw_from.strip().lower() not in HIDDEN_CALLERS:
        # A SIP URI or alphanumeric sender: still correlate repeats of it.
        return {
            "caller_hash": ctx.keys.lookup_hash("caller-raw", raw_from.strip().lower()),
            "caller_block_hash": "",
            "caller_enc": ctx.keys.encrypt_text(raw_from.strip()[:200], _AAD),
        }
    return dict(_NO_CALLER)


def as_received(ctx: Context, raw_from: str) -> dict[str, Any]:
    """The caller columns intake stores: ``raw_from`` verbatim and encrypted, for
    ``resolve`` to work out later (hidden and absent callers are final at once)."""
    if not raw_from or raw_from.strip().lower() in HIDDEN_CALLERS:
        return dict(_NO_CALLER)
    return {
        "caller_hash": "",
        "caller_block_hash": "",
        "caller_enc": ctx.keys.encrypt_text(raw_from, _AAD),
    }


def unresolved(event: Any) -> bool:
    return event.caller_enc is not None and not event.caller_hash


def resolve(ctx: Context, events: Iterable[Any]) -> int:
    """Fill in the caller columns of those ``events`` (ORM rows, changed in place and
    written by their session) still as received; returns how many it resolved."""
    done = 0
    for event in events:
        if unresolved(event):
            resolved = fields(ctx, ctx.keys.decrypt_text(event.caller_enc, _AAD))
            event.caller_hash = resolved["caller_hash"]
            event.caller_block_hash = resolved["caller_block_hash"]
            event.caller_enc = resolved["caller_enc"]
            done += 1
    return done


def text_of(ctx: Context, caller_enc: bytes | None) -> str | None:
    """The caller an event's ``caller_enc`` holds: the normalised number once resolved,
    the address as it came before."""
    return None if caller_enc is None else ctx.keys.decrypt_text(caller_enc, _AAD)
