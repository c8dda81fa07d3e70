"""Polling backfill through the real SDK against the REST stand-in."""

from __future__ import annotations

import datetime as dt

from canary.telephony import polling, simulator
from tests.telephony.conftest import events, signed_post

TWILIO = "+14155550100"
LOCAL = "+8613800138000"
MARKETER = "+8613912345678"


def test_poll_backfills_calls_and_messages_a_webhook_missed(
    twilio_context, clock, standin, add_number
):
    cp_id = add_number(LOCAL, forwards_to=TWILIO)
    assert polling.poll(twilio_context) == 0  # sets the cursors
    clock.advance(minutes=30)
    call_sid = standin.add_call(
        TWILIO, MARKETER, clock.now - dt.timedelta(minutes=10), forwarded_from=LOCAL
    )
    standin.add_message(TWILIO, MARKETER, clock.now - dt.timedelta(minutes=5), "王芳女士您好")
    standin.add_call(TWILIO, MARKETER, clock.now, direction="outbound-api")  # not inbound
    standin.add_call("+14155559999", MARKETER, clock.now)  # not a pool number's line
    clock.advance(minutes=5)
    assert polling.poll(twilio_context) == 2
    [call] = events(twilio_context, kind="call")
    assert call.provider_sid == call_sid and call.via == "poll" and call.contact_point_id == cp_id
    assert call.occurred_at == clock.now - dt.timedelta(minutes=15)
    [sms] = events(twilio_context, kind="sms")
    assert sms.via == "poll"


def test_poll_skips_what_webhooks_already_stored(
    twilio_context, client, clock, standin, add_number
):
    add_number(LOCAL, forwards_to=TWILIO)
    params = simulator.call_params(TWILIO, MARKETER, forwarded_from=LOCAL)
    assert signed_post(client, "/twilio/voice", params).status_code == 200
    standin.add_call(TWILIO, MARKETER, clock.now, forwarded_from=LOCAL, sid=params["CallSid"])
    clock.advance(minutes=1)
    assert polling.poll(twilio_context) == 0
    assert len(events(twilio_context, kind="call")) == 1


def test_poll_after_a_day_of_downtime_reads_the_whole_day_across_pages(
    twilio_context, clock, standin, add_number
):
    add_number(LOCAL, forwards_to=TWILIO)
    polling.poll(twilio_context)
    last_poll = clock.now
    # The service is down for 26 hours; calls keep arriving every 10 minutes,
    # across a UTC date boundary (the API's filter is date-only).
    sids = set()
    for i in range(1, 26 * 6 + 1):
        sids.add(
            standin.add_call(
                TWILIO,
                f"+86139{i:08d}",
                last_poll + dt.timedelta(minutes=10 * i),
                forwarded_from=LOCAL,
            )
        )
    clock.advance(hours=26, minutes=5)
    assert polling.poll(twilio_context) == len(sids) == 156
    assert {e.provider_sid for e in events(twilio_context, kind="call")} == sids
    # More than one page of 100 was read through the SDK's paging.
    pages = [q for m, path, q in standin.requests if path.endswith("/Calls.json") and q.get("Page")]
    assert pages
    # The filter sent was the UTC date of the window start, not a local time.
    first = next(
        q for m, path, q in standin.requests if path.endswith("/Calls.json") and "StartTime>" in q
    )
    assert first["StartTime>"].startswith((last_poll - polling.OVERLAP).date().isoformat())


def test_poll_keeps_the_cursor_when_the_provider_fails(twilio_context, clock, standin, add_number):
    add_number(LOCAL, forwards_to=TWILIO)
    polling.poll(twilio_context)
    clock.advance(minutes=10)
    standin.add_call(TWILIO, MARKETER, clock.now - dt.timedelta(minutes=5), forwarded_from=LOCAL)
    standin.fail_next = 503
    clock.advance(minutes=1)
    assert polling.poll(twilio_context) == 0  # calls failed; messages fine
    clock.advance(minutes=5)
    assert polling.poll(twilio_context) == 1  # retried from the old cursor


def test_poll_without_twilio_configured_does_nothing(context):
    context.settings = context.settings.replace(twilio_account_sid="", twilio_auth_token="")
    assert polling.poll(context) == 0
