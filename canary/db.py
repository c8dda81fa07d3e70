"""Database engine, sessions and schema migrations.

SQLite (WAL mode) is the embedded default; PostgreSQL is the production database.
The schema is owned by Alembic: ``upgrade()`` brings any database to head.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import DateTime, MetaData, create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on every backend (SQLite drops tzinfo)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


# Row ids are INTEGER columns (32-bit on PostgreSQL): a larger id names no row, and
# passing it to the driver raises an overflow instead of finding nothing.
MAX_ROW_ID = 2**31 - 1


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def sqlite_path(url: str) -> str:
    """The file of a SQLite URL ("" for an in-memory database)."""
    path = url.split("///", 1)[-1]
    return "" if path == ":memory:" else path


_QUEUES: dict[str, tuple[threading.Lock, int | None]] = {}
_QUEUES_LOCK = threading.Lock()


@contextlib.contextmanager
def sqlite_writer_turn(url: str) -> Iterator[None]:
    """On SQLite, make short write transactions queue for the database's write lock.

    SQLite has one writer at a time and a waiting writer polls, sleeping 1, 2, 5, 10 ms
    and more between tries: with several gunicorn workers, most of a webhook's time
    went to those sleeps. A blocking ``flock`` on a file beside the database (plus a
    thread lock, as flock does not exclude threads of one process) hands the turn to
    the next writer the moment the previous one commits. Other databases queue
    fairly by themselves.
    """
    if not url.startswith("sqlite"):
        yield
        return
    # Per process: a flock shared through fork() would not exclude the other process.
    key = f"{os.getpid()}:{url}"
    with _QUEUES_LOCK:
        if key not in _QUEUES:
            path = sqlite_path(url)
            fd = os.open(f"{path}-writers", os.O_RDWR | os.O_CREAT, 0o600) if path else None
            _QUEUES[key] = (threading.Lock(), fd)
        lock, fd = _QUEUES[key]
    with lock:
        if fd is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            if fd is not None:
                fcntl.flock(fd, fcntl.LOCK_UN)


def make_engine(url: str) -> Engine:
    """Create an engine; SQLite gets WAL, foreign keys and a busy timeout.

    Bound parameters are hidden from error messages: they hold phone hashes, names and
    webhook bodies, and a database error's text ends up in logs and tracebacks.
    """
    if url.startswith("sqlite"):
        path = sqlite_path(url)
        if path:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"timeout": 30, "check_same_thread": False},
            hide_parameters=True,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            # Every commit by another process empties this connection's page cache; with
            # the file memory-mapped, re-reading those pages costs no system calls.
            cur.execute("PRAGMA mmap_size=268435456")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True, hide_parameters=True)


class Database:
    """Owns one engine and its session factory."""

    def __init__(self, url: str):
        self.url = url
        self.engine = make_engine(url)
        self.sessionmaker = sessionmaker(self.engine, expire_on_commit=False)
        # What this process derives from the database's content and keeps, such as the
        # pool's snapshot (``canary.telephony.pool``): it goes with this object.
        self.memo: dict[str, Any] = {}

    def writer_turn(self):
        """Hold this while writing in a short transaction: on SQLite, writers queue."""
        return sqlite_writer_turn(self.url)

    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: commits on success, rolls back on error."""
        session = self.sessionmaker()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def upgrade(self) -> None:
        """Bring the schema up to the newest Alembic revision."""
        from canary.migrations import upgrade

        upgrade(self.engine)

    def dispose(self) -> None:
        self.engine.dispose()
