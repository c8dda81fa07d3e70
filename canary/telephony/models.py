"""Contact points (numbers in the pool), the allowlist, and observed events."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from canary.db import Base, UTCDateTime, utcnow


class ContactPoint(Base):
    """A phone number (or e-mail alias) that canary watches.

    The number itself is stored encrypted; ``value_hash`` is a keyed hash of its E.164
    form used for lookups. A local number that forwards to a Twilio number keeps the
    Twilio number in ``forwards_to_*``; a call is matched on ForwardedFrom or on the
    called number, whichever is in the pool.
    """

    __tablename__ = "contact_point"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(10), default="phone")
    value_enc: Mapped[bytes] = mapped_column(LargeBinary)
    value_hash: Mapped[str] = mapped_column(String(64), unique=True)
    forwards_to_enc: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    forwards_to_hash: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    country: Mapped[str] = mapped_column(String(2), default="")  # ISO region, e.g. "CN"
    number_type: Mapped[str] = mapped_column(String(20), default="mobile")
    # Carrier prefix (first three digits of a CN mobile), for plausibility checks.
    prefix: Mapped[str] = mapped_column(String(8), default="")
    provider: Mapped[str] = mapped_column(String(20), default="manual")  # manual | twilio
    provider_sid: Mapped[str] = mapped_column(String(64), default="")
    # quarantine -> available -> in_use -> cooldown -> available ...; released at the end.
    state: Mapped[str] = mapped_column(String(20), default="quarantine", index=True)
    quarantine_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    cooldown_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    cost_per_month: Mapped[float] = mapped_column(Float, default=0.0)
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    added_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    released_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)


class PoolRevision(Base):
    """One row whose ``revision`` grows with every change to what matching reads of
    the pool (a number added, removed, or its country, state, quarantine or hashes
    changed). Database triggers keep it (migration 0004), so a change by any process,
    or by hand in SQL, is counted: each process checks this one row to know whether
    its in-memory copy of the pool (``pool._snapshot``) still holds, instead of
    reading the whole pool again. A batch migration that rebuilds ``contact_point``
    on SQLite drops its triggers and must create them again.
    """

    __tablename__ = "pool_revision"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    revision: Mapped[int] = mapped_column(Integer, default=0)


class AllowedCaller(Base):
    """The organisation's own outbound numbers: their calls are expected contact."""

    __tablename__ = "allowed_caller"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number_hash: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(200), default="")
    added_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Event(Base):
    """Anything observed on a contact point, stored verbatim (encrypted) with provider ids.

    ``classification`` is set by attribution: background (quarantine), expected
    (allowlisted caller), canary (reached a live canary), unmatched (not in the pool).
    """

    __tablename__ = "event"
    __table_args__ = (UniqueConstraint("provider", "kind", "provider_sid"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(
        String(20)
    )  # call | sms | recording | transcription | status | manual | scan
    provider: Mapped[str] = mapped_column(String(20), default="twilio")
    provider_sid: Mapped[str] = mapped_column(String(64))
    # For recordings and status callbacks: the call or message they belong to.
    parent_sid: Mapped[str] = mapped_column(String(64), default="", index=True)
    contact_point_id: Mapped[int | None] = mapped_column(
        ForeignKey("contact_point.id"), nullable=True, index=True
    )
    occurred_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Caller identity: keyed hash for correlation, encrypted for the investigator.
    # Not indexed: attribution reads callers of events it selected by time and number.
    caller_hash: Mapped[str] = mapped_column(String(64), default="")
    # Keyed hash of the caller's number block (all but the last 4 digits).
    caller_block_hash: Mapped[str] = mapped_column(String(64), default="")
    caller_enc: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    # The full webhook or API record, verbatim, encrypted (it carries personal data).
    payload_enc: Mapped[bytes] = mapped_column(LargeBinary)
    via: Mapped[str] = mapped_column(String(20), default="webhook")  # webhook | poll | cli | api
    classification: Mapped[str] = mapped_column(String(20), default="pending", index=True)
    incident_id: Mapped[int | None] = mapped_column(
        ForeignKey("incident.id"), nullable=True, index=True
    )
    detail: Mapped[dict] = mapped_column(JSON, default=dict)
    # Stored (committed) but not yet in the evidence log: the webhook only stores, and
    # ``canary.telephony.evidence.log_pending`` appends the hash-chained, signed entries
    # in id order. Indexed because that job looks for the few rows where it is true.
    evidence_pending: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false(), index=True
    )

    canaries: Mapped[list[EventCanary]] = relationship(
        back_populates="event", cascade="all, delete-orphan"
    )

    @staticmethod
    def payload_aad(provider: str, kind: str, sid: str) -> str:
        """Associated data binding an encrypted payload to its event's identity, so a
        payload cannot be moved to another row unnoticed."""
        return f"event:{provider}:{kind}:{sid}"


class EventCanary(Base):
    """A canary an event points at, and how strongly (number, name_mention, birth_date, file)."""

    __tablename__ = "event_canary"
    __table_args__ = (UniqueConstraint("event_id", "canary_id", "strength"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("event.id"), index=True)
    canary_id: Mapped[int] = mapped_column(ForeignKey("canary.id"), index=True)
    strength: Mapped[str] = mapped_column(String(20), default="number")

    event: Mapped[Event] = relationship(back_populates="canaries")


class PollCursor(Base):
    """How far the provider's call and message lists have been read."""

    __tablename__ = "poll_cursor"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    provider: Mapped[str] = mapped_column(String(20))
    resource: Mapped[str] = mapped_column(String(20))  # calls | messages
    polled_until: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    __table_args__ = (UniqueConstraint("provider", "resource"),)
