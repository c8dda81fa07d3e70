"""The organisation's own outbound numbers (after-sales, the nanny dispatch desk).

Their calls to a canary number are expected contact, not a leak: the company itself
holds the list. Stored only as keyed hashes, like every other number lookup.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from canary import phones
from canary.context import Context
from canary.errors import AlreadyExists, CanaryError, NotFound
from canary.security import audit
from canary.telephony.models import AllowedCaller
from canary.telephony.pool import mask, phone_hash


def allow(session: Session, ctx: Context, raw_number: str, *, label: str, actor: str):
    """Allowlist a caller number. ``label`` says whose line it is (not personal data)."""
    e164 = phones.normalize(raw_number)
    label = (label or "").strip()
    if not label:
        raise CanaryError("give the allowlisted number a --label (e.g. 'after-sales desk')")
    digest = phone_hash(ctx, e164)
    if session.scalar(select(AllowedCaller).where(AllowedCaller.number_hash == digest)):
        raise AlreadyExists(f"number {mask(e164)} is already allowlisted")
    row = AllowedCaller(number_hash=digest, label=label[:200], added_at=ctx.clock())
    session.add(row)
    session.flush()
    audit.record(session, actor, "allowlist.add", "allowed_caller", row.id)
    return row


def disallow(session: Session, ctx: Context, raw_number: str, *, actor: str) -> None:
    e164 = phones.normalize(raw_number)
    row = session.scalar(
        select(AllowedCaller).where(AllowedCaller.number_hash == phone_hash(ctx, e164))
    )
    if row is None:
        raise NotFound(f"number {mask(e164)} is not allowlisted")
    session.delete(row)
    audit.record(session, actor, "allowlist.remove", "allowed_caller", row.id)


def is_allowlisted(session: Session, ctx: Context, caller_e164: str | None) -> bool:
    """True if calls from this number are the organisation's own (expected contact)."""
    e164 = phones.try_normalize(caller_e164 or "")
    if e164 is None:
        return False
    digest = phone_hash(ctx, e164)
    return (
        session.scalar(select(AllowedCaller.id).where(AllowedCaller.number_hash == digest))
        is not None
    )


def is_allowlisted_hash(session: Session, caller_hash: str) -> bool:
    """Same check from an event's stored ``caller_hash`` (attribution has no clear number)."""
    if not caller_hash:
        return False
    return (
        session.scalar(select(AllowedCaller.id).where(AllowedCaller.number_hash == caller_hash))
        is not None
    )


def entries(session: Session) -> list[AllowedCaller]:
    return list(session.scalars(select(AllowedCaller).order_by(AllowedCaller.id)))
