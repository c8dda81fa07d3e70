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


@pytest.fixture
def standin(settings):
    """The Twilio REST stand-in on loopback, with the account of the test settings."""
    from tests.support.twilio_standin import TwilioStandIn

    server = TwilioStandIn(settings.twilio_account_sid, settings.twilio_auth_token).start()
    yield server
    server.stop()


@pytest.fixture
def twilio_context(context, standin):
    """The context with the SDK pointed at the stand-in."""
    context.settings = context.settings.replace(twilio_api_base=standin.url)
    return context


@pytest.fixture
def cli(context, monkeypatch):
    """Run `canary ...` against the test's database and keys; returns the click result."""
    from click.testing import CliRunner

    from canary.cli import main

    s = context.settings
    env = {
        "CANARY_HOME": s.home,
        "CANARY_DATABASE_URL": s.database_url,
        "CANARY_TWILIO_ACCOUNT_SID": s.twilio_account_sid,
        "CANARY_TWILIO_AUTH_TOKEN": s.twilio_auth_token,
        "CANARY_PUBLIC_BASE_URL": s.public_base_url,
        "CANARY_SCHEDULER_IN_SERVE": "false",
    }

    def run(*args, extra_env=None):
        return CliRunner().invoke(main, list(args), env={**env, **(extra_env or {})})

    return run
