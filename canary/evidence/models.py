"""The evidence log: append-only, hash-chained, each entry signed with Ed25519."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from canary.db import Base, UTCDateTime, utcnow


class EvidenceEntry(Base):
    __tablename__ = "evidence_entry"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Position in the chain; unique so two writers cannot fork it.
    seq: Mapped[int] = mapped_column(Integer, unique=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    kind: Mapped[str] = mapped_column(String(30))  # event | incident_change | scan | note
    incident_id: Mapped[int | None] = mapped_column(
        ForeignKey("incident.id"), nullable=True, index=True
    )
    event_id: Mapped[int | None] = mapped_column(ForeignKey("event.id"), nullable=True, index=True)
    # Canonical JSON (sorted keys, no spaces) of what is attested.
    body: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    entry_hash: Mapped[str] = mapped_column(String(64), unique=True)
    signature: Mapped[str] = mapped_column(String(128))  # base64 Ed25519 over entry_hash
