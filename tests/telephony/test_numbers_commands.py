"""`canary numbers ...` and /api/numbers, buying through the real SDK against the stand-in."""

from __future__ import annotations

import json

from canary.telephony import lifecycle


def test_cli_add_list_and_allow(cli, context):
    result = cli(
        "numbers", "add", "138 0013 8000", "--forwards-to", "+14155550100", "--cost", "3.5"
    )
    assert result.exit_code == 0, result.output
    assert "quarantine" in result.output and "13800138000" not in result.output
    again = cli("numbers", "add", "+8613800138000")
    assert again.exit_code == 2 and "already in the pool" in again.output
    listing = cli("numbers", "list", "--json")
    [row] = json.loads(listing.output)
    assert row["number"] == "+8613800138000" and row["forwards_to"] == "+14155550100"
    assert row["state"] == "quarantine" and row["cost_per_month"] == 3.5
    assert abs(row["background_per_day"] - lifecycle.PRIOR_RATE_PER_DAY) < 1e-6
    assert "canary" not in json.dumps(row)  # never which canary uses a number
    assert cli("numbers", "allow", "+8621555501", "--label", "after-sales").exit_code == 0
    human = cli("numbers", "list")
    assert "+8613800138000" in human.output and "3.50 USD" in human.output


def test_cli_rejects_a_non_number_with_a_clear_message(cli):
    result = cli("numbers", "add", "call me maybe")
    assert result.exit_code == 2 and "not a phone number" in result.output


def test_cli_buy_and_release_go_through_the_sdk(cli, context, standin):
    standin.offer("US", "local", "+14155550101", "+14155550102")
    standin.prices["US"] = {
        "country": "United States",
        "iso_country": "US",
        "phone_number_prices": [
            {"number_type": "local", "base_price": "1.15", "current_price": "1.15"}
        ],
        "price_unit": "USD",
        "url": "",
    }
    env = {"CANARY_TWILIO_API_BASE": standin.url}
    result = cli(
        "numbers",
        "buy",
        "--country",
        "US",
        "--type",
        "local",
        "--area-code",
        "415",
        "--json",
        extra_env=env,
    )
    assert result.exit_code == 0, result.output
    bought = json.loads(result.output)
    [record] = standin.incoming.values()
    assert record["phone_number"] == bought["number"] == "+14155550101"
    assert record["voice_url"] == "http://127.0.0.1:8080/twilio/voice"
    assert record["sms_url"] == "http://127.0.0.1:8080/twilio/sms"
    assert record["status_callback"] == "http://127.0.0.1:8080/twilio/status"
    assert bought["cost_per_month"] == 1.15 and bought["state"] == "quarantine"
    released = cli("numbers", "release", "+14155550101", extra_env=env)
    assert released.exit_code == 0, released.output
    assert standin.incoming == {}
    [row] = json.loads(cli("numbers", "list", "--json").output)
    assert row["state"] == "released"


def test_buy_reports_when_nothing_is_offered(cli, standin):
    result = cli(
        "numbers",
        "buy",
        "--country",
        "US",
        "--type",
        "mobile",
        extra_env={"CANARY_TWILIO_API_BASE": standin.url},
    )
    assert result.exit_code == 2 and "offers no mobile numbers" in result.output


def test_provider_failure_is_a_clear_error_not_a_traceback(cli, standin):
    standin.offer("US", "local", "+14155550101")
    standin.fail_next = 500
    result = cli(
        "numbers", "buy", "--country", "US", extra_env={"CANARY_TWILIO_API_BASE": standin.url}
    )
    assert result.exit_code == 2 and "Twilio refused" in result.output


def test_api_numbers_requires_permissions(client, operator_token, analyst_token, admin_token):
    body = {"number": "+8613800138000", "forwards_to": "+14155550100", "quarantine_days": 0}
    denied = client.post(
        "/api/numbers", json=body, headers={"Authorization": f"Bearer {analyst_token}"}
    )
    assert denied.status_code == 403
    ok = client.post(
        "/api/numbers", json=body, headers={"Authorization": f"Bearer {operator_token}"}
    )
    assert ok.status_code == 201 and ok.json["state"] == "available"
    # Every pool number is some canary's phone: an operator sees only a hint, an admin
    # (who may read canaries) the number itself.
    listing = client.get("/api/numbers", headers={"Authorization": f"Bearer {operator_token}"})
    [hint] = [n["number"] for n in listing.json["numbers"]]
    assert hint.startswith("+86") and hint.endswith("00") and "138" not in hint
    assert "0013800" not in str(listing.json)
    full = client.get("/api/numbers", headers={"Authorization": f"Bearer {admin_token}"})
    assert [n["number"] for n in full.json["numbers"]] == ["+8613800138000"]
    assert client.get("/api/numbers").status_code == 401


def test_api_rejects_bad_input_with_4xx(client, operator_token):
    headers = {"Authorization": f"Bearer {operator_token}"}
    assert client.post("/api/numbers", json={"number": "nope"}, headers=headers).status_code == 400
    assert client.post("/api/numbers", json=[1], headers=headers).status_code == 400
    bad_cost = {"number": "+8613800138000", "cost_per_month": "lots"}
    assert client.post("/api/numbers", json=bad_cost, headers=headers).status_code == 400
    allow = {"number": "+862155550100", "label": "dispatch desk"}
    assert client.post("/api/numbers/allowlist", json=allow, headers=headers).status_code == 201
    assert client.post("/api/numbers/allowlist", json=allow, headers=headers).status_code == 409
