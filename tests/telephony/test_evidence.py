"""Events reach the evidence log after the webhook answers: exactly once, in id order."""

from __future__ import annotations

import json
import threading

from sqlalchemy import select

from canary.evidence import collect, log
from canary.evidence.models import EvidenceEntry
from canary.scheduling import jobs
from canary.telephony import evidence, simulator
from canary.telephony.intake import payload_of
from canary.telephony.models import Event
from tests.telephony.conftest import events, signed_post

TWILIO = "+14155550100"
LOCAL = "+8613800138000"
MARKETER = "+8613912345678"


def _entries(context) -> list[EvidenceEntry]:
    with context.db.session() as session:
        return list(session.scalars(select(EvidenceEntry).order_by(EvidenceEntry.seq)))


def _deferred(context):
    context.settings = context.settings.replace(attribute_in_webhook=False)


def _call(client, caller=MARKETER):
    params = simulator.call_params(TWILIO, caller, forwarded_from=LOCAL)
    assert signed_post(client, "/twilio/voice", params).status_code == 200
    return params


def test_a_stored_event_not_yet_logged_gets_its_entry_from_the_job(client, context, add_number):
    _deferred(context)
    add_number(LOCAL, forwards_to=TWILIO)
    _call(client)
    [event] = events(context)
    assert event.evidence_pending and _entries(context) == []

    assert jobs.attribute_pending(context) >= 1

    [event] = events(context)
    [entry] = _entries(context)
    assert not event.evidence_pending
    assert (entry.kind, entry.event_id) == ("event", event.id)
    body = json.loads(entry.body)
    assert body["provider_sid"] == event.provider_sid
    assert body["caller_hash"] == context.keys.lookup_hash("phone", MARKETER)
    # The log attests the payload the investigator will decrypt, and no phone number.
    assert body["payload_sha256"] == collect.payload_sha256(payload_of(context, event))
    assert MARKETER[3:] not in entry.body and LOCAL[3:] not in entry.body
    with context.db.session() as session:
        assert log.verify_chain(session, context.keys.evidence_public_key()).ok


def test_the_job_logs_each_event_once_and_in_id_order(client, context, add_number):
    _deferred(context)
    add_number(LOCAL, forwards_to=TWILIO)
    for i in range(5):
        _call(client, caller=f"+86139000000{i:02d}")
    assert evidence.log_pending(context, batch=2) == 5
    assert evidence.log_pending(context) == 0
    ids = [e.id for e in events(context)]
    assert [e.event_id for e in _entries(context)] == ids


def test_concurrent_runs_never_log_an_event_twice(client, context, add_number):
    _deferred(context)
    add_number(LOCAL, forwards_to=TWILIO)
    for i in range(12):
        _call(client, caller=f"+86139000000{i:02d}")
    counts: list[int] = []
    runners = [
        threading.Thread(target=lambda: counts.append(evidence.log_pending(context, batch=3)))
        for _ in range(3)
    ]
    for runner in runners:
        runner.start()
    for runner in runners:
        runner.join()
    assert sum(counts) == 12
    logged = [e.event_id for e in _entries(context)]
    assert sorted(logged) == [e.id for e in events(context)]
    with context.db.session() as session:
        assert log.verify_chain(session, context.keys.evidence_public_key()).ok


def test_with_attribution_in_the_webhook_the_entry_is_appended_at_once(client, context, add_number):
    add_number(LOCAL, forwards_to=TWILIO)
    _call(client)
    [event] = events(context)
    assert not event.evidence_pending
    assert [e.event_id for e in _entries(context) if e.kind == "event"] == [event.id]


def test_a_missed_call_stored_from_its_status_callback_is_logged_too(client, context, add_number):
    add_number(LOCAL, forwards_to=TWILIO)
    status = simulator.call_params(TWILIO, MARKETER, forwarded_from=LOCAL, status="completed")
    assert signed_post(client, "/twilio/status", status).status_code == 200
    stored = events(context)
    assert {e.kind for e in stored} == {"call", "status"}
    assert not any(e.evidence_pending for e in stored)
    assert sorted(e.event_id for e in _entries(context)) == [e.id for e in stored]


def test_a_failing_evidence_log_leaves_the_event_stored_and_pending(
    client, context, add_number, monkeypatch
):
    add_number(LOCAL, forwards_to=TWILIO)

    def broken(*args, **kwargs):
        raise RuntimeError("signing key unavailable")

    monkeypatch.setattr(log, "append_many", broken)
    _call(client)
    [event] = events(context)
    assert event.evidence_pending and _entries(context) == []
    monkeypatch.undo()
    assert evidence.log_pending(context) == 1
    assert [e.event_id for e in _entries(context)] == [event.id]


def test_the_investigators_record_of_a_webhook_shows_its_text_and_recording(
    client, context, add_number
):
    _deferred(context)
    add_number(LOCAL, forwards_to=TWILIO)
    sms = simulator.sms_params(
        TWILIO, MARKETER, "王芳女士您好，宝宝满月照优惠", ForwardedFrom=LOCAL
    )
    assert signed_post(client, "/twilio/sms", sms).status_code == 200
    call = _call(client)
    recording = simulator.recording_params(call["CallSid"], duration=21)
    assert signed_post(client, "/twilio/recording", recording).status_code == 200
    with context.db.session() as session:
        by_kind = {e.kind: e for e in session.scalars(select(Event))}
        sms_record = collect.event_record(context, by_kind["sms"], [])
        recording_record = collect.event_record(context, by_kind["recording"], [])
        sms_payload = payload_of(context, by_kind["sms"])

    assert sms_record["text"] == sms["Body"] and sms_record["params"]["From"] == MARKETER
    # The payload itself stays exactly what the log attests.
    assert sms_record["payload_sha256"] == collect.payload_sha256(sms_payload)
    assert recording_record["recording"]["RecordingDuration"] == "21"
    assert recording_record["recording"]["RecordingUrl"] == recording["RecordingUrl"]
