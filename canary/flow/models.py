"""Sources send feeds; holders receive copies of feeds and pass data on to other holders."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from canary.db import Base, UTCDateTime, utcnow


class Source(Base):
    """Where personal records originate, such as a hospital."""

    __tablename__ = "source"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(50), default="hospital")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    feeds: Mapped[list[Feed]] = relationship(back_populates="source")


class Feed(Base):
    """A recurring dataset, from a source or assembled by a holder (an aggregate)."""

    __tablename__ = "feed"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    source_id: Mapped[int | None] = mapped_column(ForeignKey("source.id"), nullable=True)
    # An aggregate feed is produced by a holder who merges other feeds (head office).
    produced_by_holder_id: Mapped[int | None] = mapped_column(
        ForeignKey("holder.id"), nullable=True
    )
    format: Mapped[str] = mapped_column(String(20), default="csv")
    # role -> column name, e.g. {"name": "产妇姓名", "phone": "联系电话"}.
    column_map: Mapped[dict] = mapped_column(JSON, default=dict)
    locale: Mapped[str] = mapped_column(String(20), default="zh_CN")
    # Optional: preferred sheet for XLSX inputs; watched folder for automation.
    sheet: Mapped[str] = mapped_column(String(200), default="")
    inbox_dir: Mapped[str] = mapped_column(String(1000), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    source: Mapped[Source | None] = relationship(back_populates="feeds")
    copies: Mapped[list[Copy]] = relationship(back_populates="feed")


class Holder(Base):
    """A party that receives data: head office, a clerk, a partner."""

    __tablename__ = "holder"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(50), default="internal")
    outbox_dir: Mapped[str] = mapped_column(String(1000), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    copies: Mapped[list[Copy]] = relationship(back_populates="holder")


class Copy(Base):
    """One feed delivered to one holder. Canaries are minted per copy and period."""

    __tablename__ = "copy"
    __table_args__ = (UniqueConstraint("feed_id", "holder_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    feed_id: Mapped[int] = mapped_column(ForeignKey("feed.id"))
    holder_id: Mapped[int] = mapped_column(ForeignKey("holder.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    feed: Mapped[Feed] = relationship(back_populates="copies")
    holder: Mapped[Holder] = relationship(back_populates="copies")

    @property
    def label(self) -> str:
        return f"{self.feed.name} → {self.holder.name}"


class HolderLink(Base):
    """Data passes from one holder to another (clerk → buyer, head office → clerk)."""

    __tablename__ = "holder_link"
    __table_args__ = (UniqueConstraint("from_holder_id", "to_holder_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    from_holder_id: Mapped[int] = mapped_column(ForeignKey("holder.id"))
    to_holder_id: Mapped[int] = mapped_column(ForeignKey("holder.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
