"""UTC datetimes read and written the same way on every backend."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Column, Integer, MetaData, Table, create_engine, insert, select

from canary.db import UTCDateTime


def test_values_round_trip_and_compare_in_utc(database_url):
    table = Table(
        "t", MetaData(), Column("id", Integer, primary_key=True), Column("at", UTCDateTime)
    )
    engine = create_engine(database_url)
    try:
        table.create(engine)
        shanghai = dt.timezone(dt.timedelta(hours=8))
        values = [
            dt.datetime(2026, 11, 29, 20, 0, 0, 0, tzinfo=shanghai),  # 12:00 UTC
            dt.datetime(2026, 11, 29, 12, 0, 0, 1, tzinfo=dt.UTC),
            dt.datetime(2026, 11, 29, 11, 59, 59, 999999, tzinfo=dt.UTC),
        ]
        with engine.begin() as conn:
            conn.execute(insert(table), [{"id": i, "at": v} for i, v in enumerate(values)])
            read = [conn.scalar(select(table.c.at).where(table.c.id == i)) for i in range(3)]
            later = conn.scalars(
                select(table.c.id).where(table.c.at >= values[0]).order_by(table.c.at)
            ).all()
        assert read == values and all(v.tzinfo == dt.UTC for v in read)
        assert later == [0, 1]  # compared as instants, whatever offset they came with
    finally:
        table.drop(engine, checkfirst=True)
        engine.dispose()
