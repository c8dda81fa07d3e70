"""Over real HTTP on loopback: the simulator signs with the SDK, the app validates."""

from __future__ import annotations

import requests

from canary.telephony import simulator
from tests.telephony.conftest import TOKEN, events

TWILIO = "+14155550100"
LOCAL = "+8613800138000"


def test_signed_call_sms_and_recording_over_http(app, context, live_server, add_number):
    context.settings = context.settings.replace(public_base_url=live_server.url)
    cp_id = add_number(LOCAL, forwards_to=TWILIO)
    call = simulator.send_call(
        live_server.url, TOKEN, TWILIO, "+8613912345678", forwarded_from=LOCAL
    )
    assert call.status_code == 200 and call.headers["Content-Type"].startswith("application/xml")
    assert f"{live_server.url}/twilio/recording" in call.text
    [event] = events(context, kind="call")
    sms = simulator.send_sms(
        live_server.url, TOKEN, TWILIO, "+8613912345678", "您好", forwarded_from=LOCAL
    )
    assert sms.status_code == 200 and "<Response" in sms.text
    recording = simulator.send_recording(live_server.url, TOKEN, event.provider_sid)
    assert recording.status_code == 200
    assert {e.kind for e in events(context, contact_point_id=cp_id)} == {"call", "sms", "recording"}


def test_forwarded_call_matches_on_sip_header(app, context, live_server, add_number):
    context.settings = context.settings.replace(public_base_url=live_server.url)
    cp_id = add_number(LOCAL, forwards_to=TWILIO)
    add_number("+8613900139000", forwards_to=TWILIO)  # two local numbers share the target
    response = simulator.send_call(
        live_server.url,
        TOKEN,
        "sip:+14155550100@canary.sip.twilio.com",
        "+8613912345678",
        **{"SipHeader_X-Original-Called": "8613800138000"},
    )
    assert response.status_code == 200
    [event] = events(context)
    assert event.contact_point_id == cp_id and event.detail["matched_on"] == "sip_header"


def test_forwarded_call_matches_on_sip_diversion_header(app, context, live_server, add_number):
    context.settings = context.settings.replace(public_base_url=live_server.url)
    cp_id = add_number(LOCAL, forwards_to=TWILIO)
    add_number("+8613900139000", forwards_to=TWILIO)
    response = simulator.send_call(
        live_server.url,
        TOKEN,
        TWILIO,
        "+8613912345678",
        SipHeader_Diversion="<sip:+8613800138000@carrier.example>;reason=unconditional",
    )
    assert response.status_code == 200
    assert events(context)[0].contact_point_id == cp_id


def test_unsigned_and_forged_requests_over_http_are_refused(app, context, live_server):
    context.settings = context.settings.replace(public_base_url=live_server.url)
    params = simulator.call_params(TWILIO, "+8613912345678")
    assert (
        requests.post(live_server.url + "/twilio/voice", data=params, timeout=5).status_code == 403
    )
    forged = simulator.send_call(live_server.url, "wrong-token", TWILIO, "+8613912345678")
    assert forged.status_code == 403
    assert events(context) == []


def test_replayed_request_over_http_is_deduplicated(app, context, live_server, add_number):
    context.settings = context.settings.replace(public_base_url=live_server.url)
    add_number(LOCAL, forwards_to=TWILIO)
    params = simulator.call_params(TWILIO, "+8613912345678", forwarded_from=LOCAL)
    for _ in range(2):
        response = simulator.post(live_server.url, "/twilio/voice", TOKEN, params)
        assert response.status_code == 200 and "<Record" in response.text
    assert len(events(context)) == 1


def test_huge_body_over_http_is_413(app, context, live_server):
    context.settings = context.settings.replace(public_base_url=live_server.url)
    params = simulator.sms_params(TWILIO, "+8613912345678", "x" * 300_000)
    response = simulator.post(live_server.url, "/twilio/sms", TOKEN, params)
    assert response.status_code == 413
    assert events(context) == []


def test_simulate_command_sends_signed_webhooks_to_a_running_service(
    app, context, live_server, add_number, cli
):
    context.settings = context.settings.replace(public_base_url=live_server.url)
    add_number(LOCAL, forwards_to=TWILIO)
    env = {"CANARY_PUBLIC_BASE_URL": live_server.url}
    call = cli(
        "simulate",
        "call",
        "--to",
        TWILIO,
        "--from",
        "+8613912345678",
        "--forwarded-from",
        LOCAL,
        extra_env=env,
    )
    assert call.exit_code == 0 and "HTTP 200" in call.output and "<Record" in call.output
    sms = cli(
        "simulate",
        "sms",
        "--to",
        TWILIO,
        "--from",
        "+8613912345678",
        "--body",
        "您好",
        extra_env=env,
    )
    assert sms.exit_code == 0, sms.output
    [event] = events(context, kind="call")
    rec = cli("simulate", "recording", "--call-sid", event.provider_sid, extra_env=env)
    assert rec.exit_code == 0, rec.output
    assert {e.kind for e in events(context)} == {"call", "sms", "recording"}
    bad = cli(
        "simulate",
        "call",
        "--to",
        TWILIO,
        "--from",
        "+8613912345678",
        extra_env={**env, "CANARY_TWILIO_AUTH_TOKEN": "wrong"},
    )
    assert bad.exit_code == 1 and "HTTP 403" in bad.output
