"""Inserting many event rows at once and learning their ids.

The webhook journal stores its records in batches (``intake.store_many``). On SQLite a
multi-row ``INSERT ... RETURNING`` is the cheapest way. On PostgreSQL (psycopg) a
large multi-row INSERT costs the server a parse and plan of a statement with
thousands of parameters; ``COPY`` streams the same rows for about half the time of
the whole insert. COPY returns nothing, so the ids are drawn from the table's
sequence first and written explicitly.

Either way the rows are inserted in the caller's transaction and errors surface as
SQLAlchemy's (``IntegrityError`` for a unique-constraint violation), so callers need
not know which path ran.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, insert, text
from sqlalchemy.exc import DBAPIError

from canary.telephony.models import Event

_EVENT = Event.__table__
_INSERT_RETURNING = insert(_EVENT).returning(_EVENT.c.id, _EVENT.c.kind, _EVENT.c.provider_sid)
_NEXT_IDS = text(
    "SELECT nextval(pg_get_serial_sequence('event', 'id')) FROM generate_series(1, :count)"
)


def insert_events(conn: Connection, rows: list[dict[str, Any]]) -> list[int]:
    """Insert ``rows`` (all with the same columns) and return their ids, in order."""
    if not rows:
        return []
    if conn.dialect.name == "postgresql" and conn.dialect.driver == "psycopg":
        return _copy(conn, rows)
    returned = conn.execute(_INSERT_RETURNING, rows)
    # RETURNING order is not guaranteed on every backend: match ids back by (kind, SID).
    ids = {(kind, sid): event_id for event_id, kind, sid in returned}
    return [ids[(row["kind"], row["provider_sid"])] for row in rows]


def _copy(conn: Connection, rows: list[dict[str, Any]]) -> list[int]:
    import psycopg

    columns = list(rows[0])
    if any(row.keys() != rows[0].keys() for row in rows):
        raise ValueError("insert_events needs rows with the same columns")
    # SQLAlchemy's own conversions (UTC datetimes, JSON), so COPY writes exactly what
    # an INSERT through SQLAlchemy would.
    dialect = conn.dialect
    processors = [
        _EVENT.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in columns
    ]
    ids = list(conn.execute(_NEXT_IDS, {"count": len(rows)}).scalars())
    names = ", ".join(dialect.identifier_preparer.quote(name) for name in ["id", *columns])
    cursor = conn.connection.dbapi_connection.cursor()
    try:
        with cursor.copy(f"COPY event ({names}) FROM STDIN") as copy:
            for event_id, row in zip(ids, rows, strict=True):
                values = [event_id]
                for name, process in zip(columns, processors, strict=True):
                    value = row[name]
                    values.append(process(value) if process is not None else value)
                copy.write_row(values)
    except psycopg.Error as exc:
        # As SQLAlchemy would have raised it (IntegrityError for a replayed SID).
        raise DBAPIError.instance("COPY event", None, exc, psycopg.Error) from exc
    finally:
        cursor.close()
    return ids
