"""The canary registry: the crown jewels.

If an insider can list the canaries, they strip them before selling. So every read
of a canary's fields goes through this module, checks the caller's permission, and
writes an audit entry. Domain code that must look inside canaries (attribution,
forensics, evidence) uses ``system_read`` with a stated purpose, which is audited too.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from canary.canaries.models import Canary, CanaryContact
from canary.errors import NotFound
from canary.security import audit
from canary.security.crypto import KeyRing
from canary.security.tokens import Principal, require


def store(
    session: Session,
    keys: KeyRing,
    *,
    copy_id: int,
    period: str,
    slot: int,
    row: dict[str, Any],
    persona: dict[str, Any],
    contact_point_ids: Iterable[int],
    live_from: dt.datetime,
    name_key: str = "",
    actor: str = "system",
) -> Canary:
    """Save a newly minted canary with its fields encrypted."""
    canary = Canary(
        copy_id=copy_id,
        period=period,
        slot=slot,
        live_from=live_from,
        name_key=name_key,
        fields_enc=b"",
    )
    canary.fields_enc = keys.encrypt_json({"row": row, "persona": persona}, canary.aad)
    for cp_id in contact_point_ids:
        canary.contacts.append(CanaryContact(contact_point_id=cp_id))
    session.add(canary)
    session.flush()
    audit.record(session, actor, "canary.mint", "canary", canary.id, copy_id=copy_id, period=period)
    return canary


def existing(session: Session, copy_id: int, period: str) -> list[Canary]:
    """Canaries already minted for a copy and period (metadata only, nothing decrypted)."""
    return list(
        session.scalars(
            select(Canary)
            .where(Canary.copy_id == copy_id, Canary.period == period)
            .order_by(Canary.slot)
        )
    )


def _decrypt(keys: KeyRing, canary: Canary) -> dict[str, Any]:
    return keys.decrypt_json(canary.fields_enc, canary.aad)


def _view(keys: KeyRing, canary: Canary) -> dict[str, Any]:
    fields = _decrypt(keys, canary)
    return {
        "id": canary.id,
        "copy_id": canary.copy_id,
        "period": canary.period,
        "slot": canary.slot,
        "live_from": canary.live_from.isoformat(),
        "row": fields["row"],
        "persona": fields["persona"],
        "contact_point_ids": [c.contact_point_id for c in canary.contacts],
    }


def read(session: Session, keys: KeyRing, principal: Principal, canary_id: int) -> dict[str, Any]:
    """One canary's fields, for a principal allowed to read the registry. Audited."""
    require(session, principal, "canaries:read", subject=f"canary:{canary_id}")
    canary = session.get(Canary, canary_id)
    if canary is None:
        raise NotFound(f"no canary with id {canary_id}")
    audit.record(
        session, principal.actor, "canary.read", "canary", canary_id, token_id=principal.token_id
    )
    return _view(keys, canary)


def list_canaries(
    session: Session,
    keys: KeyRing,
    principal: Principal,
    copy_id: int | None = None,
    period: str | None = None,
) -> list[dict[str, Any]]:
    """Canaries with their fields, for a principal allowed to read the registry. Audited."""
    require(session, principal, "canaries:read", subject="canary:list")
    query = select(Canary).order_by(Canary.id)
    if copy_id is not None:
        query = query.where(Canary.copy_id == copy_id)
    if period is not None:
        query = query.where(Canary.period == period)
    rows = list(session.scalars(query))
    audit.record(
        session,
        principal.actor,
        "canary.list",
        "canary",
        "",
        token_id=principal.token_id,
        count=len(rows),
        copy_id=copy_id,
        period=period,
    )
    return [_view(keys, c) for c in rows]


def system_read(
    session: Session, keys: KeyRing, canaries: Iterable[Canary], purpose: str
) -> list[dict[str, Any]]:
    """Decrypt canaries for an internal purpose (attribution, scan, evidence). Audited."""
    rows = list(canaries)
    audit.record(
        session,
        f"system:{purpose}",
        "canary.read",
        "canary",
        "",
        count=len(rows),
        ids=[c.id for c in rows][:100],
    )
    return [_view(keys, c) for c in rows]


def for_contact_point(session: Session, contact_point_id: int) -> list[Canary]:
    """Canaries carrying a contact point (metadata only)."""
    return list(
        session.scalars(
            select(Canary)
            .join(CanaryContact)
            .where(CanaryContact.contact_point_id == contact_point_id)
            .order_by(Canary.live_from)
        )
    )
