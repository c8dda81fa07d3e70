"""Fixtures for the telephony tests: a movable clock and a small data-flow map."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from canary.flow import service as flow
from canary.flow.models import Copy


class MovableClock:
    """A clock tests move by hand instead of sleeping."""

    def __init__(self, start: dt.datetime):
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta) -> dt.datetime:
        self.now += dt.timedelta(**delta)
        return self.now


@pytest.fixture
def clock(context):
    clock = MovableClock(dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC))
    context.clock = clock
    return clock


@pytest.fixture
def copies(context):
    """Three copies of one hospital's feed (ids), for allocation tests."""
    with context.db.session() as session:
        flow.add_source(session, "Hospital A", "test")
        flow.add_feed(session, "A newborns", "test", source="Hospital A")
        for name in ("head office", "clerk 1", "clerk 2"):
            flow.add_holder(session, name, "test", receives=["A newborns"])
        return list(session.scalars(select(Copy.id).order_by(Copy.id)))


BASE = "http://127.0.0.1:8080"  # settings.public_base_url in tests/conftest.py
TOKEN = "test-auth-token"


def signed_post(client, path, params, *, token=TOKEN, base=BASE, headers=None):
    """POST form params to the test client, signed as Twilio signs them."""
    from canary.telephony import simulator

    all_headers = {"X-Twilio-Signature": simulator.sign(token, base + path, params)}
    all_headers.update(headers or {})
    return client.post(path, data=params, headers=all_headers)


@pytest.fixture
def add_number(context):
    """Add a pool number, available at once unless told otherwise; returns its id."""
    from canary.telephony import pool

    def add(raw, **kw):
        kw.setdefault("quarantine_days", 0)
        with context.db.session() as session:
            return pool.add_number(session, context, raw, actor="test", **kw).id

    return add


def events(context, **filters):
    from canary.telephony.models import Event

    with context.db.session() as session:
        query = select(Event).order_by(Event.id)
        for key, value in filters.items():
            query = query.where(getattr(Event, key) == value)
        return list(session.scalars(query))
