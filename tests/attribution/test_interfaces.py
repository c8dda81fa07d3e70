"""`canary incidents` and /api/incidents: the same operations, two faces."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from click.testing import CliRunner

from canary.attribution.models import Incident, IncidentChange
from canary.cli import main

AT = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def incident_id(context) -> int:
    with context.db.session() as s:
        incident = Incident(
            status="open",
            opened_at=AT,
            updated_at=AT,
            unit_key="holder:7",
            period_from="2026-W40",
            period_to="2026-W44",
            confidence=0.9993,
            explanation="7 of 9 numbers were contacted",
            event_count=12,
            verdict={"candidates": [], "background": 1e-7},
        )
        s.add(incident)
        s.flush()
        return incident.id


def _cli(context, *args):
    s = context.settings
    env = {"CANARY_HOME": s.home, "CANARY_DATABASE_URL": s.database_url}
    return CliRunner().invoke(main, list(args), env=env)


def test_cli_lists_shows_and_acknowledges(context, incident_id):
    listed = _cli(context, "incidents", "--json")
    assert listed.exit_code == 0, listed.output
    rows = json.loads(listed.output)
    assert rows[0]["id"] == incident_id and rows[0]["period"] == "2026-W40–W44"
    shown = _cli(context, "incidents", "show", str(incident_id))
    assert shown.exit_code == 0 and "7 of 9 numbers" in shown.output
    acked = _cli(context, "incidents", "ack", str(incident_id), "--reason", "on it")
    assert acked.exit_code == 0, acked.output
    only_open = json.loads(_cli(context, "incidents", "--status", "open", "--json").output)
    assert only_open == []
    with context.db.session() as s:
        change = s.query(IncidentChange).one()
        assert change.reason == "on it" and change.actor.startswith("cli:")


def test_cli_refuses_an_invalid_transition_with_a_clear_message(context, incident_id):
    assert (
        _cli(context, "incidents", "resolve", str(incident_id), "--reason", "done").exit_code == 0
    )
    again = _cli(context, "incidents", "ack", str(incident_id), "--reason", "x")
    assert again.exit_code == 2 and "resolved" in again.output
    missing = _cli(context, "incidents", "show", "999")
    assert missing.exit_code == 2 and "no incident" in missing.output


def test_api_analyst_reads_and_changes_with_reason(client, incident_id, analyst_token):
    auth = {"Authorization": f"Bearer {analyst_token}"}
    listed = client.get("/api/incidents", headers=auth)
    assert listed.status_code == 200 and listed.json["incidents"][0]["id"] == incident_id
    assert client.get(f"/api/incidents/{incident_id}", headers=auth).json["changes"] == []
    no_reason = client.post(f"/api/incidents/{incident_id}/ack", headers=auth, json={})
    assert no_reason.status_code == 400
    ok = client.post(
        f"/api/incidents/{incident_id}/false-positive", headers=auth, json={"reason": "IT test"}
    )
    assert ok.status_code == 200 and ok.json["status"] == "false_positive"
    changes = client.get(f"/api/incidents/{incident_id}", headers=auth).json["changes"]
    assert changes[0]["reason"] == "IT test" and changes[0]["actor"].startswith("token:")


def test_api_refuses_operators_and_bad_input(client, incident_id, operator_token, analyst_token):
    op = {"Authorization": f"Bearer {operator_token}"}
    assert client.get("/api/incidents", headers=op).status_code == 403
    an = {"Authorization": f"Bearer {analyst_token}"}
    assert client.get("/api/incidents?status=bogus", headers=an).status_code == 400
    assert client.get("/api/incidents?limit=x", headers=an).status_code == 400
    assert client.get("/api/incidents/999", headers=an).status_code == 404
    assert (
        client.post(f"/api/incidents/{incident_id}/reopen", headers=an, json={}).status_code == 400
    )
    garbled = client.post(
        f"/api/incidents/{incident_id}/ack",
        headers=an,
        data=b"\xff\xfe",
        content_type="application/json",
    )
    assert garbled.status_code == 400
