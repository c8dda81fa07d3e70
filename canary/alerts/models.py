"""Alert destinations and deliveries (the outbox)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from canary.db import Base, UTCDateTime, utcnow


class Destination(Base):
    """Where alerts go: a signed webhook, Slack, Teams or e-mail."""

    __tablename__ = "destination"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(20))  # webhook | slack | teams | email
    # URL or e-mail address and the signing secret, encrypted (they are credentials).
    target_enc: Mapped[bytes] = mapped_column(LargeBinary)
    secret_enc: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    # {"feeds": [...], "holders": [...], "min_confidence": 0.9}; empty means everything.
    filters: Mapped[dict] = mapped_column(JSON, default=dict)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class AlertDelivery(Base):
    """One message to one destination, retried until delivered or dead-lettered."""

    __tablename__ = "alert_delivery"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    destination_id: Mapped[int] = mapped_column(ForeignKey("destination.id"), index=True)
    incident_id: Mapped[int | None] = mapped_column(
        ForeignKey("incident.id"), nullable=True, index=True
    )
    # Stable id sent as webhook-id, so receivers can deduplicate retries.
    message_id: Mapped[str] = mapped_column(String(64), unique=True)
    event_type: Mapped[str] = mapped_column(String(50), default="incident.opened")
    payload: Mapped[dict] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(
        String(20), default="pending", index=True
    )  # pending | delivered | dead
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    last_error: Mapped[str] = mapped_column(Text, default="")
    last_status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_latency_ms: Mapped[float | None] = mapped_column(Float, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # A worker claims a delivery before sending so two workers never send it twice.
    claimed_by: Mapped[str] = mapped_column(String(100), default="")
    claimed_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)

    destination: Mapped[Destination] = relationship()
