"""Incidents and their change history."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from canary.db import Base, UTCDateTime, utcnow

INCIDENT_STATUSES = ("open", "acknowledged", "resolved", "false_positive")


class Incident(Base):
    """The conclusion drawn from events: which copy or holder leaked, when, how sure."""

    __tablename__ = "incident"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    status: Mapped[str] = mapped_column(String(20), default="open", index=True)
    opened_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Top candidate: a copy (feed → holder) or a holder, over a period range.
    # ``unit_key`` names it ("copy:3", "holder:5") so new evidence finds its incident.
    unit_key: Mapped[str] = mapped_column(String(40), default="", index=True)
    copy_id: Mapped[int | None] = mapped_column(ForeignKey("copy.id"), nullable=True)
    holder_id: Mapped[int | None] = mapped_column(ForeignKey("holder.id"), nullable=True)
    feed_id: Mapped[int | None] = mapped_column(ForeignKey("feed.id"), nullable=True)
    period_from: Mapped[str] = mapped_column(String(20), default="")
    period_to: Mapped[str] = mapped_column(String(20), default="")
    confidence: Mapped[float] = mapped_column(Float, default=0.0)
    # Ranked candidates with probabilities, as computed at the last re-evaluation.
    verdict: Mapped[dict] = mapped_column(JSON, default=dict)
    explanation: Mapped[str] = mapped_column(Text, default="")
    event_count: Mapped[int] = mapped_column(Integer, default=0)
    # What the last alert said, to alert again only on material change.
    alerted_key: Mapped[str] = mapped_column(String(200), default="")
    alerted_confidence: Mapped[float] = mapped_column(Float, default=0.0)


class IncidentChange(Base):
    """Every change to an incident, with who made it and why."""

    __tablename__ = "incident_change"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id"), index=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor: Mapped[str] = mapped_column(String(200))
    change: Mapped[str] = mapped_column(String(30))  # opened | verdict | status | evidence
    from_status: Mapped[str] = mapped_column(String(20), default="")
    to_status: Mapped[str] = mapped_column(String(20), default="")
    reason: Mapped[str] = mapped_column(Text, default="")
    detail: Mapped[dict] = mapped_column(JSON, default=dict)
