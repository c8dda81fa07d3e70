"""`canary alerts ...` and /api/alerts: one code path, two faces."""

from __future__ import annotations

import json

from standardwebhooks.webhooks import Webhook

from canary.alerts import outbox
from canary.attribution.models import Incident
from tests.alerts.conftest import make_incident


def test_cli_add_prints_secret_once_and_test_delivery_verifies(cli, webhook_receiver, world):
    added = cli(
        "alerts",
        "add",
        "soc",
        "--kind",
        "webhook",
        "--url",
        webhook_receiver.url,
        "--holder",
        "clerk",
        "--min-confidence",
        "0.9",
    )
    assert added.exit_code == 0, added.output
    secret = next(w for w in added.output.split() if w.startswith("whsec_"))
    listing = cli("alerts", "list", "--json")
    [row] = json.loads(listing.output)
    assert row["filters"] == {"feeds": [], "holders": ["clerk"], "min_confidence": 0.9}
    assert secret not in listing.output and "/hook" not in listing.output  # redacted
    result = cli("alerts", "test", "soc")
    assert result.exit_code == 0 and "delivered (status 200)" in result.output
    [request] = webhook_receiver.wait_for(1)
    assert Webhook(secret).verify(request["body"], request["headers"])["type"] == "test"


def test_cli_rejects_unknown_holder_and_duplicate_name(cli, world):
    assert cli("alerts", "add", "a", "--url", "https://x.example/h").exit_code == 0
    again = cli("alerts", "add", "a", "--url", "https://x.example/h")
    assert again.exit_code == 2 and "already exists" in again.output
    bad = cli("alerts", "add", "b", "--url", "https://x.example/h", "--holder", "nobody")
    assert bad.exit_code == 2 and "no holder named 'nobody'" in bad.output
    scheme = cli("alerts", "add", "c", "--url", "ftp://x.example/h")
    assert scheme.exit_code == 2 and "http(s) URL" in scheme.output


def test_cli_failed_test_exits_non_zero_and_dead_letter_can_be_redelivered(
    cli, context, world, webhook_receiver
):
    cli("alerts", "add", "soc", "--url", webhook_receiver.url)
    webhook_receiver.status = 500
    failed = cli("alerts", "test", "soc")
    assert failed.exit_code == 1 and "FAILED (status 500): HTTP 500" in failed.output
    dead = json.loads(cli("alerts", "deliveries", "--dead", "--json").output)
    assert [d["status"] for d in dead] == ["dead"]
    webhook_receiver.status = 200
    assert cli("alerts", "redeliver", str(dead[0]["id"])).exit_code == 0
    assert "1 delivery attempt" in cli("alerts", "drain").output
    [row] = json.loads(cli("alerts", "deliveries", "--json").output)
    assert row["status"] == "delivered"
    assert webhook_receiver.wait_for(1)[0]["headers"]["webhook-id"] == dead[0]["message_id"]


def test_api_manages_destinations_with_permissions(
    client, context, world, admin_token, analyst_token, webhook_receiver
):
    admin = {"Authorization": f"Bearer {admin_token}"}
    analyst = {"Authorization": f"Bearer {analyst_token}"}
    body = {"name": "soc", "kind": "slack", "url": webhook_receiver.url, "feeds": ["newborns-a"]}
    assert client.post("/api/alerts/destinations", json=body, headers=analyst).status_code == 403
    created = client.post("/api/alerts/destinations", json=body, headers=admin)
    assert created.status_code == 201 and created.json["signing_secret"] is None
    assert created.json["filters"]["feeds"] == ["newborns-a"]
    listed = client.get("/api/alerts/destinations", headers=analyst)
    assert [d["name"] for d in listed.json["destinations"]] == ["soc"]
    bad = client.post(
        "/api/alerts/destinations", json={**body, "min_confidence": "high"}, headers=admin
    )
    assert bad.status_code == 400
    assert client.post("/api/alerts/destinations", data="x", headers=admin).status_code == 400
    tested = client.post("/api/alerts/destinations/soc/test", headers=admin)
    assert tested.status_code == 200 and tested.json["ok"] is True
    assert "blocks" in json.loads(webhook_receiver.wait_for(1)[0]["body"])
    off = client.post(
        "/api/alerts/destinations/soc/enabled", json={"enabled": False}, headers=admin
    )
    assert off.json["enabled"] is False
    assert client.get("/api/alerts/destinations", headers={}).status_code == 401


def test_api_lists_dead_letters_and_redelivers(client, context, world, admin_token, analyst_token):
    admin = {"Authorization": f"Bearer {admin_token}"}
    client.post(
        "/api/alerts/destinations",
        json={"name": "down", "url": "http://127.0.0.1:9/nothing"},
        headers=admin,
    )
    incident_id = make_incident(context, world)
    with context.db.session() as s:
        [delivery] = outbox.enqueue_incident(
            s, context, s.get(Incident, incident_id), "incident.opened"
        )
        delivery.status = "dead"
        delivery_id = delivery.id
    dead = client.get(
        "/api/alerts/deliveries?dead=1", headers={"Authorization": f"Bearer {analyst_token}"}
    )
    assert [d["id"] for d in dead.json["deliveries"]] == [delivery_id]
    assert "payload" not in dead.json["deliveries"][0]
    again = client.post(f"/api/alerts/deliveries/{delivery_id}/redeliver", headers=admin)
    assert again.status_code == 200 and again.json["status"] == "pending"
    twice = client.post(f"/api/alerts/deliveries/{delivery_id}/redeliver", headers=admin)
    assert twice.status_code == 400
    assert client.post("/api/alerts/deliveries/999/redeliver", headers=admin).status_code == 404


def test_cli_adds_an_email_destination_with_smtp_options(cli):
    added = cli(
        "alerts",
        "add",
        "ciso",
        "--kind",
        "email",
        "--url",
        "mailto:ciso@example.org",
        "--smtp-host",
        "smtp.example.org",
        "--smtp-from",
        "canary@example.org",
        "--smtp-user",
        "canary",
    )
    assert added.exit_code == 0, added.output
    assert "whsec_" not in added.output
    [row] = json.loads(cli("alerts", "list", "--json").output)
    assert row["target"] == "ciso@example.org via smtp.example.org:587"
    missing = cli("alerts", "add", "x", "--kind", "email", "--url", "mailto:a@example.org")
    assert missing.exit_code == 2 and "--smtp-" in missing.output
