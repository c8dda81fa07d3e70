"""Twilio webhooks through the Flask app: signatures, storage, dedupe and bad input."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import logging
from urllib.parse import quote, urlencode

from werkzeug.test import EnvironBuilder, run_wsgi_app
from werkzeug.wrappers import Request

from canary.telephony import intake, simulator
from canary.telephony.intake import params_of, payload_of, raw_body_of
from tests.telephony.conftest import BASE, TOKEN, events, signed_post

TWILIO = "+14155550100"
LOCAL = "+8613800138000"
MARKETER = "+8613912345678"


def test_voice_webhook_stores_event_and_answers_with_voicemail(client, context, add_number):
    cp_id = add_number(LOCAL, forwards_to=TWILIO)
    params = simulator.call_params(TWILIO, MARKETER, forwarded_from=LOCAL)
    response = signed_post(client, "/twilio/voice", params)
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert "<Record" in body and "recordingStatusCallback" in body
    assert "请留言" in body  # Mandarin greeting for a CN number
    [event] = events(context)
    assert (event.kind, event.provider_sid, event.contact_point_id) == (
        "call",
        params["CallSid"],
        cp_id,
    )
    assert event.detail["matched_on"] == "forwarded_from"
    assert (
        MARKETER.encode() not in event.payload_enc
        and MARKETER[3:].encode() not in event.payload_enc
    )
    assert params_of(payload_of(context, event))["From"] == MARKETER
    assert event.caller_hash == context.keys.lookup_hash("phone", MARKETER)


def test_forged_signature_is_refused_and_nothing_is_stored(client, context, add_number, caplog):
    add_number(LOCAL, forwards_to=TWILIO)
    params = simulator.call_params(TWILIO, MARKETER)
    forged = simulator.sign("someone-elses-token", BASE + "/twilio/voice", params)
    with caplog.at_level(logging.WARNING):
        response = client.post("/twilio/voice", data=params, headers={"X-Twilio-Signature": forged})
    assert response.status_code == 403
    assert events(context) == []
    assert "signature does not match" in caplog.text and MARKETER not in caplog.text


def test_missing_signature_is_refused(client, context):
    response = client.post("/twilio/sms", data=simulator.sms_params(TWILIO, MARKETER, "hi"))
    assert response.status_code == 403
    assert events(context) == []


def test_signature_for_other_parameters_is_refused(client, context):
    """A captured signature replayed with altered parameters (a stale signature)."""
    params = simulator.call_params(TWILIO, MARKETER)
    signature = simulator.sign(TOKEN, BASE + "/twilio/voice", params)
    params["From"] = "+8613000000000"
    response = client.post("/twilio/voice", data=params, headers={"X-Twilio-Signature": signature})
    assert response.status_code == 403


def test_signature_for_another_path_is_refused(client, context):
    params = simulator.sms_params(TWILIO, MARKETER, "hello")
    signature = simulator.sign(TOKEN, BASE + "/twilio/voice", params)
    response = client.post("/twilio/sms", data=params, headers={"X-Twilio-Signature": signature})
    assert response.status_code == 403


def test_validation_uses_public_url_behind_a_tls_proxy(app, client, context, add_number):
    """The service sees http://127.0.0.1; Twilio signed https://canary.example.org/prefix."""
    public = "https://canary.example.org/hooks"
    context.settings = context.settings.replace(public_base_url=public)
    add_number(LOCAL, forwards_to=TWILIO)
    params = simulator.call_params(TWILIO, MARKETER, forwarded_from=LOCAL)
    assert signed_post(client, "/twilio/voice", params, base=public).status_code == 200
    assert signed_post(client, "/twilio/voice", params, base=BASE).status_code == 403


def test_replayed_webhook_is_answered_but_not_stored_twice(client, context, add_number):
    add_number(LOCAL, forwards_to=TWILIO)
    params = simulator.call_params(TWILIO, MARKETER, forwarded_from=LOCAL)
    first = signed_post(client, "/twilio/voice", params)
    again = signed_post(client, "/twilio/voice", params)
    assert first.status_code == again.status_code == 200
    assert "<Record" in again.get_data(as_text=True)
    assert len(events(context, kind="call")) == 1


def test_duplicate_message_sid_is_stored_once(client, context, add_number):
    add_number(LOCAL, forwards_to=TWILIO)
    params = simulator.sms_params(TWILIO, MARKETER, "hello", ForwardedFrom=LOCAL)
    for _ in range(3):
        assert signed_post(client, "/twilio/sms", params).status_code == 200
    assert len(events(context, kind="sms")) == 1


def test_webhook_for_number_not_in_pool_is_stored_unmatched(client, context, add_number):
    add_number(LOCAL, forwards_to=TWILIO)
    params = simulator.call_params("+14155559999", MARKETER)
    response = signed_post(client, "/twilio/voice", params)
    assert response.status_code == 200
    [event] = events(context)
    assert event.contact_point_id is None and event.classification == "unmatched"


def test_missing_parameter_is_a_400_naming_it(client, context, caplog):
    params = simulator.call_params(TWILIO, MARKETER)
    del params["CallSid"]
    with caplog.at_level(logging.WARNING):
        response = signed_post(client, "/twilio/voice", params)
    assert response.status_code == 400
    assert "CallSid" in response.get_data(as_text=True) and "CallSid" in caplog.text
    assert events(context) == []


def test_garbled_parameters_are_400s(client, context):
    cases = [
        ("/twilio/voice", simulator.call_params(TWILIO, MARKETER, call_sid="CA-not-a-sid")),
        ("/twilio/voice", {**simulator.call_params(TWILIO, MARKETER), "AccountSid": "x"}),
        ("/twilio/sms", {**simulator.sms_params(TWILIO, MARKETER, "hi"), "NumMedia": "lots"}),
        (
            "/twilio/recording",
            {**simulator.recording_params(simulator.new_sid("CA")), "RecordingDuration": "-3"},
        ),
        (
            "/twilio/recording",
            {**simulator.recording_params(simulator.new_sid("CA")), "RecordingUrl": "javascript:x"},
        ),
        (
            "/twilio/status",
            {**simulator.call_params(TWILIO, MARKETER), "CallStatus": "<b>", "Timestamp": "x"},
        ),
    ]
    for path, params in cases:
        assert signed_post(client, path, params).status_code == 400, params
    assert events(context) == []


def test_webhook_for_another_account_is_refused(client, context):
    params = simulator.call_params(TWILIO, MARKETER, account_sid="AC" + "1" * 32)
    assert signed_post(client, "/twilio/voice", params).status_code == 403
    assert events(context) == []


def test_huge_body_is_refused_with_413(client, context):
    params = simulator.sms_params(TWILIO, MARKETER, "x" * 200_000)
    response = signed_post(client, "/twilio/sms", params)
    assert response.status_code == 413
    assert events(context) == []


def _chunked_sms(client, size: int):
    """A signed SMS whose form body is exactly ``size`` bytes, sent without a length."""
    params = simulator.sms_params(TWILIO, MARKETER, "")
    params["Body"] = "x" * (size - len(urlencode(params)))
    body = urlencode(params).encode()
    assert len(body) == size
    return client.post(
        "/twilio/sms",
        input_stream=io.BytesIO(body),
        content_type="application/x-www-form-urlencoded",
        headers={
            "X-Twilio-Signature": simulator.sign(TOKEN, BASE + "/twilio/sms", params),
            "Transfer-Encoding": "chunked",
        },
        environ_overrides={"wsgi.input_terminated": True},
    )


def test_huge_chunked_body_without_a_length_is_refused_with_413(client, context, add_number):
    add_number(LOCAL, forwards_to=TWILIO)
    limit = context.settings.webhook_max_bytes
    assert _chunked_sms(client, 200_000).status_code == 413
    assert _chunked_sms(client, limit + 1).status_code == 413
    assert events(context) == []
    # The limit itself is allowed, as it is with a Content-Length.
    assert _chunked_sms(client, limit).status_code == 200
    assert len(events(context, kind="sms")) == 1


def test_body_shorter_than_its_content_length_is_a_400(client, context, add_number):
    add_number(LOCAL, forwards_to=TWILIO)
    params = simulator.call_params(TWILIO, MARKETER, forwarded_from=LOCAL)
    body = urlencode(params).encode()
    response = client.post(
        "/twilio/voice",
        input_stream=io.BytesIO(body[:-10]),  # the client stopped sending early
        content_type="application/x-www-form-urlencoded",
        headers={"X-Twilio-Signature": simulator.sign(TOKEN, BASE + "/twilio/voice", params)},
        environ_overrides={"CONTENT_LENGTH": str(len(body))},
    )
    assert response.status_code == 400
    assert "shorter than its Content-Length" in response.get_data(as_text=True)
    assert events(context) == []


def _post_body(
    client,
    params,
    body: bytes,
    content_type="application/x-www-form-urlencoded",
    path="/twilio/voice",
):
    """POST ``body`` as it is to ``path``, signed for ``params``."""
    signature = simulator.sign(TOKEN, BASE + path, params)
    return client.post(
        path, data=body, content_type=content_type, headers={"X-Twilio-Signature": signature}
    )


def test_client_that_goes_away_mid_body_gets_a_400_not_a_500(client, context, add_number):
    add_number(LOCAL, forwards_to=TWILIO)
    params = simulator.call_params(TWILIO, MARKETER, forwarded_from=LOCAL)

    class Reset(io.RawIOBase):
        def readable(self):
            return True

        def readinto(self, buffer):
            raise ConnectionResetError("connection reset by peer")

    environ = EnvironBuilder(
        method="POST",
        path="/twilio/voice",
        data=urlencode(params),
        content_type="application/x-www-form-urlencoded",
        headers={"X-Twilio-Signature": simulator.sign(TOKEN, BASE + "/twilio/voice", params)},
    ).get_environ()
    environ["wsgi.input"] = Reset()  # the server's input, as the client resets it
    _, status, _ = run_wsgi_app(client.application, environ, buffered=True)
    assert status.startswith("400")
    assert events(context) == []


def test_form_body_that_is_not_utf8_is_refused_not_a_500(client, context, add_number):
    add_number(LOCAL, forwards_to=TWILIO)
    params = simulator.call_params(TWILIO, MARKETER, forwarded_from=LOCAL)
    body = urlencode(params).encode() + b"&Extra=\xff\xfe"
    response = _post_body(client, params, body)
    # As werkzeug reads it: no fields at all, so the signature cannot match.
    assert response.status_code == 403
    assert events(context) == []


def test_form_content_type_is_read_whatever_its_case_and_parameters(client, context, add_number):
    add_number(LOCAL, forwards_to=TWILIO)
    params = simulator.call_params(TWILIO, MARKETER, forwarded_from=LOCAL)
    body = urlencode(params).encode()
    content_type = "Application/X-WWW-Form-Urlencoded ; charset=UTF-8"
    response = _post_body(client, params, body, content_type)
    assert response.status_code == 200
    assert len(events(context, kind="call")) == 1


def test_sms_with_control_characters_and_invalid_unicode_is_stored(client, context, add_number):
    add_number(LOCAL, forwards_to=TWILIO)
    body = "王芳\x00女士\x1b[31m 您好\u202e\ufffe"
    params = simulator.sms_params(TWILIO, MARKETER, body, ForwardedFrom=LOCAL)
    assert signed_post(client, "/twilio/sms", params).status_code == 200
    # Raw bytes that are not UTF-8 at all. Sign what the server's form parser reads
    # from them, as Twilio signs the parameters it sends.
    sid = simulator.new_sid("SM")
    raw = (
        f"AccountSid=AC{'0' * 32}&MessageSid={sid}&To={quote(TWILIO)}&From={quote(MARKETER)}"
        "&Body=%FF%FE%ED%A0%80abc&ForwardedFrom=" + quote(LOCAL)
    )
    environ = EnvironBuilder(
        method="POST", data=raw, content_type="application/x-www-form-urlencoded"
    ).get_environ()
    decoded = Request(environ).form.to_dict()
    response = client.post(
        "/twilio/sms",
        data=raw,
        content_type="application/x-www-form-urlencoded",
        headers={"X-Twilio-Signature": simulator.sign(TOKEN, BASE + "/twilio/sms", decoded)},
    )
    assert response.status_code == 200
    stored = events(context, kind="sms")
    assert len(stored) == 2
    assert params_of(payload_of(context, stored[0]))["Body"] == body


def test_the_record_keeps_the_form_body_verbatim_and_reads_its_parameters_from_it(
    client, context, add_number
):
    add_number(LOCAL, forwards_to=TWILIO)
    params = simulator.sms_params(TWILIO, MARKETER, "王芳 女士+您好 & 100%", ForwardedFrom=LOCAL)
    # A repeated field, escapes of "&", "=" and "+", and an empty value.
    body = (urlencode(params) + "&Tag=a%3Db&Tag=c%26d&Plus=1%2B1&Empty=").encode()
    environ = EnvironBuilder(
        method="POST", data=body, content_type="application/x-www-form-urlencoded"
    ).get_environ()
    read_by_werkzeug = Request(environ).form  # a MultiDict: the SDK signs every value
    response = _post_body(client, read_by_werkzeug, body, path="/twilio/sms")
    assert response.status_code == 200
    [event] = events(context, kind="sms")
    payload = payload_of(context, event)
    # The body once, byte for byte; the parameters are not stored a second time.
    assert raw_body_of(payload) == body and "params" not in payload
    assert payload["raw_body"] == body.decode()  # kept as text: no base64
    assert params_of(payload) == {**params, "Tag": ["a=b", "c&d"], "Plus": "1+1", "Empty": ""}


def test_the_record_keeps_a_json_body_verbatim_and_reads_its_parameters_from_it(
    client, context, add_number
):
    add_number(LOCAL, forwards_to=TWILIO)
    params = simulator.sms_params(TWILIO, MARKETER, "您好", ForwardedFrom=LOCAL)
    raw = json.dumps({**params, "NumSegments": 1}, ensure_ascii=False)
    assert _json_post(client, raw).status_code == 200
    [event] = events(context, kind="sms")
    payload = payload_of(context, event)
    assert raw_body_of(payload) == raw.encode() and "params" not in payload
    assert payload["raw_body"] == raw
    assert params_of(payload) == {**params, "NumSegments": 1}


def test_a_body_that_is_not_utf8_is_kept_byte_for_byte_in_base64(context):
    params = simulator.sms_params(TWILIO, MARKETER, "hi", ForwardedFrom=LOCAL)
    params["AccountSid"] = context.settings.twilio_account_sid or params["AccountSid"]
    body = urlencode(params).encode() + b"&Odd=\xff\xfe%FF"
    accepted = intake.accept(context, "sms", params, raw_body=body, body_format=intake.BODY_FORM)
    payload = json.loads(accepted.payload)
    assert "raw_body" not in payload and base64.b64decode(payload["raw_body_b64"]) == body
    assert raw_body_of(payload) == body


def test_a_record_is_serialised_exactly_as_json_dumps_would(context):
    import random

    rng = random.Random(8)
    alphabet = [
        '"',
        "\\",
        "/",
        "\n",
        "\t",
        "\x00",
        "\x1f",
        "\x7f",
        "é",
        "王",
        "😀",
        "\u2028",
        "a",
        " ",
    ]
    params = simulator.sms_params(TWILIO, MARKETER, "hi", ForwardedFrom=LOCAL)
    params["AccountSid"] = context.settings.twilio_account_sid or params["AccountSid"]
    for _ in range(300):
        body = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 30)))
        url = "https://canary.example.org/twilio/sms?" + "".join(
            rng.choice(alphabet) for _ in range(rng.randrange(0, 5))
        )
        for body_format in (intake.BODY_FORM, ""):  # a flat record, and one with params
            accepted = intake.accept(
                context, "sms", params, raw_body=body.encode(), body_format=body_format, url=url
            )
            again = json.dumps(json.loads(accepted.payload), ensure_ascii=False, sort_keys=True)
            assert accepted.payload == again.encode(), (body, url)


def _json_post(client, payload: dict | str, *, sign_body: str | None = None, tamper=False):
    raw = payload if isinstance(payload, str) else json.dumps(payload, ensure_ascii=False)
    digest = hashlib.sha256((sign_body or raw).encode("utf-8", "surrogatepass")).hexdigest()
    path = f"/twilio/sms?bodySHA256={digest}"
    signature = simulator.sign(TOKEN, BASE + path, {})
    body = raw + (" " if tamper else "")
    return client.post(
        path,
        data=body.encode("utf-8", "surrogatepass"),
        content_type="application/json",
        headers={"X-Twilio-Signature": signature},
    )


def test_json_bodied_callback_is_validated_against_its_body_hash(client, context, add_number):
    add_number(LOCAL, forwards_to=TWILIO)
    payload = simulator.sms_params(TWILIO, MARKETER, "hi", ForwardedFrom=LOCAL)
    assert _json_post(client, payload).status_code == 200
    assert len(events(context, kind="sms")) == 1
    # Same signed URL, different body: the hash no longer matches.
    other = {**payload, "MessageSid": simulator.new_sid("SM")}
    assert _json_post(client, json.dumps(other), sign_body=json.dumps(payload)).status_code == 403
    assert _json_post(client, payload, tamper=True).status_code == 403


def test_json_body_without_body_hash_is_refused(client, context):
    payload = json.dumps(simulator.sms_params(TWILIO, MARKETER, "hi"))
    signature = simulator.sign(TOKEN, BASE + "/twilio/sms", {})
    response = client.post(
        "/twilio/sms",
        data=payload,
        content_type="application/json",
        headers={"X-Twilio-Signature": signature},
    )
    assert response.status_code == 403


def test_json_body_with_lone_surrogates_is_stored_without_error(client, context, add_number):
    add_number(LOCAL, forwards_to=TWILIO)
    params = simulator.sms_params(TWILIO, MARKETER, "x", ForwardedFrom=LOCAL)
    raw = json.dumps(params).replace('"Body": "x"', '"Body": "\\ud800 \\u0000 hi"')
    assert _json_post(client, raw).status_code == 200
    [event] = events(context, kind="sms")
    assert "hi" in params_of(payload_of(context, event))["Body"]


def test_json_body_that_does_not_parse_is_a_400(client, context):
    assert _json_post(client, "{not json").status_code == 400
    assert _json_post(client, "[1, 2]").status_code == 400


def test_recording_callback_stores_url_duration_and_sid_on_the_call(client, context, add_number):
    cp_id = add_number(LOCAL, forwards_to=TWILIO)
    call = simulator.call_params(TWILIO, MARKETER, forwarded_from=LOCAL)
    signed_post(client, "/twilio/voice", call)
    recording = simulator.recording_params(call["CallSid"], duration=17)
    response = signed_post(client, "/twilio/recording", recording)
    assert response.status_code == 200 and "<Hangup" in response.get_data(as_text=True)
    # Twilio also posts the same recording to the <Record action>: stored once.
    signed_post(client, "/twilio/recording", recording)
    [event] = events(context, kind="recording")
    assert event.parent_sid == call["CallSid"] and event.contact_point_id == cp_id
    assert event.detail["duration_seconds"] == 17
    assert event.detail["recording_sid"] == recording["RecordingSid"]
    assert params_of(payload_of(context, event))["RecordingUrl"] == recording["RecordingUrl"]
    assert event.classification == "evidence"


def test_status_callback_for_a_missed_call_stores_the_call(client, context, add_number):
    cp_id = add_number(LOCAL, forwards_to=TWILIO)
    params = simulator.call_params(
        TWILIO,
        MARKETER,
        forwarded_from=LOCAL,
        status="completed",
        Timestamp="Mon, 23 Nov 2026 09:15:02 +0000",
        CallDuration="31",
    )
    assert signed_post(client, "/twilio/status", params).status_code == 200
    assert signed_post(client, "/twilio/status", params).status_code == 200
    [call] = events(context, kind="call")
    [status] = events(context, kind="status")
    assert call.provider_sid == params["CallSid"] and call.contact_point_id == cp_id
    assert call.via == "status" and call.occurred_at.isoformat() == "2026-11-23T09:15:02+00:00"
    assert status.parent_sid == params["CallSid"] and status.detail["duration_seconds"] == 31


def test_attribution_failure_keeps_the_event_pending(client, context, add_number, monkeypatch):
    from canary.attribution import service

    def exploding(session, ctx, event):
        raise RuntimeError("attribution exploded")

    monkeypatch.setattr(service, "process_event", exploding)
    add_number(LOCAL, forwards_to=TWILIO)
    params = simulator.call_params(TWILIO, MARKETER, forwarded_from=LOCAL)
    response = signed_post(client, "/twilio/voice", params)
    assert response.status_code == 200 and "<Record" in response.get_data(as_text=True)
    [event] = events(context)
    assert event.classification == "pending"


def test_english_number_asks_twilio_to_transcribe(client, context, add_number):
    add_number("+14155550123")
    params = simulator.call_params("+14155550123", "+12125550100")
    body = signed_post(client, "/twilio/voice", params).get_data(as_text=True)
    assert 'transcribe="true"' in body and "leave a message" in body


def test_deferred_attribution_leaves_the_call_pending_for_the_scheduler(
    client, context, add_number
):
    context.settings = context.settings.replace(attribute_in_webhook=False)
    add_number(LOCAL, forwards_to=TWILIO)
    params = simulator.call_params(TWILIO, MARKETER, forwarded_from=LOCAL)
    assert signed_post(client, "/twilio/voice", params).status_code == 200
    [event] = events(context)
    assert event.classification == "pending"


def test_database_outage_is_a_503_not_a_500(client, context, add_number, monkeypatch):
    from sqlalchemy.exc import OperationalError

    from canary.telephony import intake

    def locked(*args, **kwargs):
        raise OperationalError("INSERT", {}, Exception("database is locked"))

    monkeypatch.setattr(intake, "_store", locked)
    params = simulator.call_params(TWILIO, MARKETER)
    assert signed_post(client, "/twilio/voice", params).status_code == 503


def test_call_from_allowlisted_number_is_expected_contact(client, context, add_number):
    from canary.telephony import allowlist

    add_number(LOCAL, forwards_to=TWILIO)
    desk = "+862155550100"
    with context.db.session() as session:
        allowlist.allow(session, context, desk, label="after-sales desk", actor="test")
        assert allowlist.is_allowlisted(session, context, "021-5555-0100")
        assert not allowlist.is_allowlisted(session, context, MARKETER)
    params = simulator.call_params(TWILIO, desk, forwarded_from=LOCAL)
    assert signed_post(client, "/twilio/voice", params).status_code == 200
    [event] = events(context)
    assert event.classification == "expected"


def test_pool_changes_in_this_process_are_seen_by_the_next_webhook(client, context, add_number):
    """Webhooks remember pool lookups briefly; a change to the pool must not be hidden."""
    first = add_number(LOCAL, forwards_to=TWILIO)
    signed_post(client, "/twilio/voice", simulator.call_params(TWILIO, MARKETER))
    second = add_number("+8613800138001", forwards_to=TWILIO)  # two numbers forward there now
    signed_post(client, "/twilio/voice", simulator.call_params(TWILIO, MARKETER))
    matched, ambiguous = events(context)
    assert matched.contact_point_id == first and matched.detail["matched_on"] == "to"
    assert ambiguous.contact_point_id is None
    assert sorted(ambiguous.detail["candidate_contact_point_ids"]) == sorted([first, second])


def test_concurrent_webhooks_are_each_stored_once(context, add_number):
    """Writers queue for the database instead of failing; replays stay single events."""
    import threading

    from canary.telephony import intake

    add_number(LOCAL, forwards_to=TWILIO)
    calls = [simulator.call_params(TWILIO, MARKETER, forwarded_from=LOCAL) for _ in range(24)]
    errors: list[Exception] = []

    def deliver(batch):
        for params in batch:
            try:
                intake.receive(context, "call", params)
                intake.receive(context, "call", params)  # Twilio's retry of the same call
            except Exception as exc:  # any failure here is a lost webhook
                errors.append(exc)

    threads = [threading.Thread(target=deliver, args=(calls[i::4],)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(e.provider_sid for e in events(context)) == sorted(c["CallSid"] for c in calls)


def test_sid_and_status_spellings_that_would_duplicate_a_call_are_refused(
    client, context, add_number
):
    add_number(LOCAL, forwards_to=TWILIO)
    params = simulator.call_params(TWILIO, MARKETER, forwarded_from=LOCAL)
    assert signed_post(client, "/twilio/voice", params).status_code == 200
    sid = params["CallSid"]
    for other in (sid + "\n", "CA" + sid[2:].upper(), " " + sid):
        again = {**params, "CallSid": other}
        assert signed_post(client, "/twilio/voice", again).status_code == 400, repr(other)
    status = {**params, "CallStatus": "completed"}
    assert signed_post(client, "/twilio/status", status).status_code == 200
    status["CallStatus"] = "completed\n"
    assert signed_post(client, "/twilio/status", status).status_code == 400
    # A message status Twilio spells with an underscore is a status.
    message = simulator.sms_params(TWILIO, MARKETER, "hi", ForwardedFrom=LOCAL)
    delivered = {**message, "MessageStatus": "partially_delivered"}
    assert signed_post(client, "/twilio/status", delivered).status_code == 200
    assert len(events(context, kind="call")) == 1
    assert len(events(context, kind="status")) == 2


def test_numbers_and_dates_python_cannot_convert_are_400s_not_500s(client, context):
    call = simulator.call_params(TWILIO, MARKETER)
    sms = simulator.sms_params(TWILIO, MARKETER, "hi")
    recording = simulator.recording_params(simulator.new_sid("CA"))
    cases = [
        ("/twilio/sms", {**sms, "NumMedia": "²"}),
        ("/twilio/sms", {**sms, "NumMedia": "9" * 5000}),
        ("/twilio/status", {**call, "CallStatus": "completed", "CallDuration": "¹"}),
        ("/twilio/recording", {**recording, "RecordingDuration": "³"}),
        (
            "/twilio/status",
            {**call, "CallStatus": "completed", "Timestamp": "Fri, 31 Dec 9999 23:59:59 -1200"},
        ),
    ]
    for path, params in cases:
        assert signed_post(client, path, params).status_code == 400, params
    assert events(context) == []


def test_json_bodies_that_are_not_utf8_or_nested_too_deep_are_refused_not_500s(client, context):
    # Not UTF-8: refused at the signature, whatever the signature says.
    response = client.post(
        "/twilio/sms?bodySHA256=00",
        data=b'{"Body": "\xff"}',
        content_type="application/json",
        headers={"X-Twilio-Signature": "anything"},
    )
    assert response.status_code == 403
    assert _json_post(client, "[" * 30_000 + "]" * 30_000).status_code == 400
    assert events(context) == []


def test_json_body_with_a_lone_surrogate_in_a_number_is_stored_not_a_500(
    client, context, add_number
):
    add_number(LOCAL, forwards_to=TWILIO)
    params = simulator.sms_params(TWILIO, MARKETER, "hi", ForwardedFrom=LOCAL)
    for name in ("From", "To", "ForwardedFrom"):
        one = {**params, "MessageSid": simulator.new_sid("SM")}
        raw = json.dumps(one).replace(
            json.dumps(one[name]), json.dumps(one[name])[:-1] + '\\udc80"'
        )
        assert _json_post(client, raw).status_code == 200, name
    assert len(events(context, kind="sms")) == 3


def test_the_signature_settings_header_is_not_echoed(client, context, caplog):
    params = simulator.sms_params(TWILIO, MARKETER, "hi")
    header = "algorithm=+8613912345678" + "x" * 5000
    with caplog.at_level(logging.WARNING):
        response = signed_post(
            client, "/twilio/sms", params, headers={"X-Twilio-Webhooks-Signature-Settings": header}
        )
    assert response.status_code == 403
    assert MARKETER not in caplog.text and MARKETER not in response.get_data(as_text=True)
    assert len(response.get_data()) < 200


def test_garbled_call_status_and_recording_sid_stay_out_of_the_clear_detail(
    client, context, add_number
):
    add_number(LOCAL, forwards_to=TWILIO)
    call = simulator.call_params(TWILIO, MARKETER, forwarded_from=LOCAL)
    call["CallStatus"] = MARKETER
    assert signed_post(client, "/twilio/voice", call).status_code == 200
    transcription = {
        "AccountSid": call["AccountSid"],
        "CallSid": call["CallSid"],
        "TranscriptionSid": simulator.new_sid("TR"),
        "TranscriptionStatus": "completed",
        "TranscriptionText": "hello",
        "RecordingSid": MARKETER,
    }
    assert signed_post(client, "/twilio/transcription", transcription).status_code == 200
    for event in events(context):
        assert MARKETER not in json.dumps(event.detail), event.kind
