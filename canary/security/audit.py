"""The audit trail: who did what, including every read of the canary registry."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from canary.security.models import AuditEntry


def record(
    session: Session,
    actor: str,
    action: str,
    subject_type: str = "",
    subject_id: str | int = "",
    outcome: str = "ok",
    token_id: int | None = None,
    **detail: Any,
) -> AuditEntry:
    """Append an audit entry. ``detail`` must hold ids and counts, never personal data."""
    entry = AuditEntry(
        actor=actor,
        action=action,
        subject_type=subject_type,
        subject_id=str(subject_id),
        outcome=outcome,
        token_id=token_id,
        detail=detail,
    )
    session.add(entry)
    session.flush()
    return entry


def entries(session: Session, action: str | None = None, limit: int = 200) -> list[AuditEntry]:
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if action:
        query = query.where(AuditEntry.action == action)
    return list(session.scalars(query))
