"""docs/verify_webhook.py verifies real deliveries, so the documentation cannot drift."""

from __future__ import annotations

import datetime as dt
import importlib.util
import threading
from pathlib import Path

import pytest

from canary.alerts import destinations, outbox
from canary.alerts.channels import Message
from canary.alerts.channels.webhook import WebhookChannel
from canary.attribution.models import Incident
from tests.alerts.conftest import make_incident

DOCS = Path(__file__).resolve().parents[2] / "docs"


@pytest.fixture
def verifier_module():
    spec = importlib.util.spec_from_file_location("verify_webhook", DOCS / "verify_webhook.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _LateVerifier:
    """The receiver must be listening before its URL is registered, and the secret
    exists only once the destination is registered."""

    inner = None

    def verify(self, body, headers):
        return self.inner.verify(body, headers)


@pytest.fixture
def docs_receiver(context, verifier_module):
    """The documented receiver on loopback, registered as a destination."""
    late = _LateVerifier()
    alerts = []
    server = verifier_module.make_server(late, "127.0.0.1", 0, alerts.append)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}/hook"
    with context.db.session() as s:
        _, secret = destinations.add(s, context.keys, "docs", "webhook", url, actor="t")
    late.inner = verifier_module.Verifier(secret)
    yield url, secret, alerts
    server.shutdown()
    server.server_close()


def test_documented_receiver_accepts_a_real_incident_alert(context, world, docs_receiver):
    url, secret, alerts = docs_receiver
    incident_id = make_incident(context, world)
    with context.db.session() as s:
        [delivery] = outbox.enqueue_incident(
            s, context, s.get(Incident, incident_id), "incident.opened"
        )
        message = Message(
            delivery.message_id, delivery.event_type, delivery.payload, dt.datetime.now(dt.UTC)
        )
    assert outbox.drain(context) == 1
    assert [a["data"]["incident_id"] for a in alerts] == [incident_id]
    with context.db.session() as s:
        assert outbox.deliveries(s)[0].status == "delivered"
    # canary retries when an answer is lost: the same webhook-id is acknowledged, not redone.
    replay = WebhookChannel().send(message, {"url": url}, secret, timeout=5)
    assert replay.ok and len(alerts) == 1


def test_documented_receiver_rejects_wrong_secret_and_stale_timestamp(context, docs_receiver):
    url, secret, alerts = docs_receiver
    now = dt.datetime.now(dt.UTC)
    payload = {"type": "test", "data": {"incident_id": None}}
    forged = WebhookChannel().send(
        Message("msg_forged", "test", payload, now),
        {"url": url},
        destinations.new_secret(),
        timeout=5,
    )
    stale = WebhookChannel().send(
        Message("msg_stale", "test", payload, now - dt.timedelta(minutes=6)),
        {"url": url},
        secret,
        timeout=5,
    )
    future = WebhookChannel().send(
        Message("msg_future", "test", payload, now + dt.timedelta(minutes=6)),
        {"url": url},
        secret,
        timeout=5,
    )
    assert (forged.status_code, stale.status_code, future.status_code) == (400, 400, 400)
    assert alerts == []


def test_webhooks_doc_names_every_header_and_the_verifier():
    text = (DOCS / "webhooks.md").read_text()
    for needle in (
        "webhook-id",
        "webhook-timestamp",
        "webhook-signature",
        "5 minutes",
        "verify_webhook.py",
        "whsec_",
        "canary alerts test",
        "redeliver",
    ):
        assert needle in text
