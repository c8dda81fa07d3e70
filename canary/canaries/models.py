"""Canaries and the contact points they carry.

Personal fields live only in ``fields_enc`` (AES-GCM under the registry key, with the
canary's id-independent identity as associated data), so the database file never holds
a canary's name or phone in clear.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from canary.db import Base, UTCDateTime, utcnow


class Canary(Base):
    """A decoy record minted for one copy and one period."""

    __tablename__ = "canary"
    __table_args__ = (UniqueConstraint("copy_id", "period", "slot"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    copy_id: Mapped[int] = mapped_column(ForeignKey("copy.id"), index=True)
    period: Mapped[str] = mapped_column(String(20), index=True)  # e.g. "2026-W48"
    slot: Mapped[int] = mapped_column(Integer, default=0)
    # When the canary went out and until when a contact can still be blamed on it.
    live_from: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Encrypted JSON: {"row": {column: value}, "persona": {name, name_pinyin, birth_date,...}}.
    fields_enc: Mapped[bytes] = mapped_column(LargeBinary)
    # Keyed hash of the canary's name (pinyin, toneless) for name-collision checks.
    name_key: Mapped[str] = mapped_column(String(64), default="", index=True)

    copy = relationship("Copy")
    contacts: Mapped[list[CanaryContact]] = relationship(
        back_populates="canary", cascade="all, delete-orphan"
    )

    @property
    def aad(self) -> str:
        return f"canary:{self.copy_id}:{self.period}:{self.slot}"


class CanaryContact(Base):
    """Which contact points a canary carries (its codeword)."""

    __tablename__ = "canary_contact"
    __table_args__ = (UniqueConstraint("canary_id", "contact_point_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    canary_id: Mapped[int] = mapped_column(ForeignKey("canary.id"), index=True)
    contact_point_id: Mapped[int] = mapped_column(ForeignKey("contact_point.id"), index=True)
    role: Mapped[str] = mapped_column(String(20), default="phone")

    canary: Mapped[Canary] = relationship(back_populates="contacts")
    contact_point = relationship("ContactPoint")
