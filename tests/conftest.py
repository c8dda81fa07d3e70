"""Shared fixtures: every test gets its own database (SQLite file or PostgreSQL schema),
its own home folder and keys. Set CANARY_DATABASE_URL to a PostgreSQL URL to run the
suite on PostgreSQL."""

from __future__ import annotations

import os
import uuid

import pytest
from sqlalchemy import create_engine, text

from canary.context import Context, open_context
from canary.security import tokens
from canary.settings import load_settings
from tests.support.servers import LiveServer, WebhookReceiver

PG_URL = os.environ.get("CANARY_DATABASE_URL", "")


@pytest.fixture
def database_url(tmp_path):
    if not PG_URL.startswith("postgresql"):
        yield f"sqlite:///{tmp_path / 'canary.db'}"
        return
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in PG_URL else "?"
    yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture
def settings(tmp_path, database_url, monkeypatch):
    for key in list(os.environ):
        if key.startswith("CANARY_"):
            monkeypatch.delenv(key)
    return load_settings(
        {
            "home": str(tmp_path / "home"),
            "database_url": database_url,
            "public_base_url": "http://127.0.0.1:8080",
            "twilio_account_sid": "AC" + "0" * 32,
            "twilio_auth_token": "test-auth-token",
            "scheduler_in_serve": False,
            # Webhooks committed before the answer, so a test can look right away;
            # tests/telephony/test_journal.py covers the journal.
            "webhook_journal": False,
        },
        environ={},
    )


@pytest.fixture
def context(settings) -> Context:
    ctx = open_context(settings, initialise=True)
    yield ctx
    ctx.close()


@pytest.fixture
def app(context):
    from canary.web import create_app

    app = create_app(context=context)
    app.config["TESTING"] = True
    return app


@pytest.fixture
def client(app):
    return app.test_client()


def _token(context, role):
    with context.db.session() as session:
        _, plaintext = tokens.create_token(session, role, f"test-{role}", "test")
    return plaintext


@pytest.fixture
def admin_token(context):
    return _token(context, "admin")


@pytest.fixture
def operator_token(context):
    return _token(context, "operator")


@pytest.fixture
def analyst_token(context):
    return _token(context, "analyst")


@pytest.fixture
def live_server(app):
    """The real app on a loopback port, in a thread; stopped after the test."""
    server = LiveServer(app)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def webhook_receiver():
    """A real HTTP server on loopback that records what it receives."""
    receiver = WebhookReceiver()
    receiver.start()
    yield receiver
    receiver.stop()
