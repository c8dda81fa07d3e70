"""The durable outbox: enqueue with the incident, retry with jittered backoff,
dead-letter, redeliver, and never send one delivery twice."""

from __future__ import annotations

import random
import threading

from sqlalchemy import select
from standardwebhooks.webhooks import Webhook

from canary.alerts import outbox
from canary.alerts.models import AlertDelivery
from canary.attribution.models import Incident
from tests.alerts.conftest import add_webhook, make_incident


def _enqueue(context, incident_id, event_type="incident.opened"):
    with context.db.session() as s:
        incident = s.get(Incident, incident_id)
        return [d.id for d in outbox.enqueue_incident(s, context, incident, event_type)]


def _deliveries(context):
    with context.db.session() as s:
        return list(s.scalars(select(AlertDelivery).order_by(AlertDelivery.id)))


def test_delivery_is_signed_and_verifies_with_standardwebhooks(
    context, world, clock, webhook_receiver
):
    _, secret = add_webhook(context, url=webhook_receiver.url)
    incident_id = make_incident(context, world)
    _enqueue(context, incident_id)
    assert outbox.drain(context) == 1
    [request] = webhook_receiver.wait_for(1)
    body = Webhook(secret).verify(request["body"], request["headers"])
    data = body["data"]
    assert body["type"] == "incident.opened"
    assert data["incident_id"] == incident_id
    assert data["holder"]["name"] == "clerk" and data["feed"]["name"] == "newborns-a"
    assert data["period"]["label"] == "2026-W40–W44"
    assert data["confidence"] == 0.999
    assert data["evidence"]["calls"] == 3 and data["evidence"]["callers"] == 2
    assert data["link"] == f"http://127.0.0.1:8080/incidents/{incident_id}"
    assert "background" in data["explanation"]
    [delivery] = _deliveries(context)
    assert delivery.status == "delivered" and delivery.attempts == 1
    assert request["headers"]["webhook-id"] == delivery.message_id


def test_rolled_back_incident_change_queues_nothing(context, world, clock):
    add_webhook(context)
    incident_id = make_incident(context, world)
    try:
        with context.db.session() as s:
            outbox.enqueue_incident(s, context, s.get(Incident, incident_id), "incident.updated")
            raise RuntimeError("the incident change failed")
    except RuntimeError:
        pass
    assert _deliveries(context) == []


def test_receiver_down_then_back_loses_nothing(context, world, clock, webhook_receiver):
    add_webhook(context, url=webhook_receiver.url)
    for _ in range(3):
        _enqueue(context, make_incident(context, world))
    webhook_receiver.status = 503
    assert outbox.drain(context) == 3
    assert all(d.status == "pending" and d.attempts == 1 for d in _deliveries(context))
    assert "HTTP 503" in _deliveries(context)[0].last_error
    assert outbox.drain(context) == 0  # nothing is due before its backoff
    webhook_receiver.status = 200
    clock.advance(context.settings.alert_backoff_base_seconds)
    outbox.drain(context)
    assert {d.status for d in _deliveries(context)} == {"delivered"}
    ids = [r["headers"]["webhook-id"] for r in webhook_receiver.wait_for(3)]
    assert sorted(ids) == sorted(d.message_id for d in _deliveries(context))


def test_dead_letter_after_max_attempts_then_redelivered_with_same_id(
    context, world, clock, webhook_receiver
):
    add_webhook(context, url=webhook_receiver.url)
    _enqueue(context, make_incident(context, world))
    webhook_receiver.status = 500
    for _ in range(context.settings.alert_max_attempts):
        assert outbox.drain(context) == 1
        clock.advance(context.settings.alert_backoff_max_seconds)
    [dead] = _deliveries(context)
    assert dead.status == "dead" and dead.attempts == context.settings.alert_max_attempts
    assert outbox.drain(context) == 0
    with context.db.session() as s:
        assert [d.id for d in outbox.dead_letters(s)] == [dead.id]
        outbox.redeliver(s, dead.id, "tester", at=clock())
    webhook_receiver.status = 200
    assert outbox.drain(context) == 1
    [done] = _deliveries(context)
    assert done.status == "delivered"
    assert webhook_receiver.wait_for(1)[0]["headers"]["webhook-id"] == dead.message_id


def test_backoff_is_full_jitter_within_exponential_bounds():
    rng = random.Random(7)
    for attempt in range(1, 12):
        ceiling = min(600.0, 5.0 * 2 ** (attempt - 1))
        samples = [outbox.backoff_delay(attempt, 5.0, 600.0, rng) for _ in range(300)]
        assert all(0.0 <= s <= ceiling for s in samples)
        # Full jitter spreads over the whole range, not a band near the ceiling.
        assert min(samples) < 0.1 * ceiling and max(samples) > 0.9 * ceiling


def test_filters_choose_destinations(context, world, clock):
    add_webhook(context, "all")
    add_webhook(context, "feed-b", feeds=["newborns-b"])
    add_webhook(context, "clerk", holders=["clerk"])
    add_webhook(context, "sure", min_confidence=0.99999)
    incident_id = make_incident(context, world, copy="newborns-a>clerk", confidence=0.999)
    _enqueue(context, incident_id)
    with context.db.session() as s:
        names = {d.destination.name for d in s.scalars(select(AlertDelivery))}
    assert names == {"all", "clerk"}


def test_disabled_destination_gets_nothing_queued(context, world, clock):
    from canary.alerts import destinations

    add_webhook(context, "off")
    with context.db.session() as s:
        destinations.set_enabled(s, "off", False, actor="t")
    _enqueue(context, make_incident(context, world))
    assert _deliveries(context) == []


def test_two_concurrent_drains_never_send_the_same_delivery(
    context, world, clock, webhook_receiver
):
    add_webhook(context, url=webhook_receiver.url)
    incident_id = make_incident(context, world)
    for _ in range(12):
        _enqueue(context, incident_id)
    counts, errors = [], []
    start = threading.Barrier(3)

    def run():
        try:
            start.wait()
            counts.append(outbox.drain(context))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sum(counts) == 12
    received = [r["headers"]["webhook-id"] for r in webhook_receiver.wait_for(12)]
    assert len(received) == len(set(received)) == 12


def test_claim_of_a_crashed_worker_expires_and_another_worker_sends(
    context, world, clock, webhook_receiver
):
    add_webhook(context, url=webhook_receiver.url)
    _enqueue(context, make_incident(context, world))
    assert outbox._claim(context, "crashed-worker", 10)  # claimed, never sent
    assert outbox.drain(context) == 0  # the lease still holds
    clock.advance(outbox._lease(context).total_seconds() + 1)
    assert outbox.drain(context) == 1
    assert [d.status for d in _deliveries(context)] == ["delivered"]


def test_drain_with_a_stand_in_channel_that_raises_keeps_the_delivery(context, world, clock):
    class Broken:
        def send(self, message, target, secret, *, timeout):
            raise RuntimeError("secret-looking detail")

    add_webhook(context)
    _enqueue(context, make_incident(context, world))
    assert outbox.drain(context, channels={"webhook": Broken()}) == 1
    [delivery] = _deliveries(context)
    assert delivery.status == "pending" and delivery.attempts == 1
    assert delivery.last_error == "channel error (RuntimeError)"


def test_drain_holds_one_lease_at_a_time_so_slow_sends_cannot_outlive_it(context, world, clock):
    """Claiming a whole batch behind a slow receiver would let later leases lapse and
    another drain send the same deliveries; only the one being sent is claimed."""
    from canary.alerts.channels import SendResult

    held = []

    class Spy:
        def send(self, message, target, secret, *, timeout):
            with context.db.session() as s:
                held.append(
                    len(
                        s.scalars(select(AlertDelivery).where(AlertDelivery.claimed_by != "")).all()
                    )
                )
            clock.advance(40)  # slow: five of these exceed one lease
            return SendResult(True, 204)

    add_webhook(context)
    for _ in range(5):
        _enqueue(context, make_incident(context, world))
    assert outbox.drain(context, channels={"webhook": Spy()}) == 5
    assert held == [1, 1, 1, 1, 1]
    assert {d.status for d in _deliveries(context)} == {"delivered"}
