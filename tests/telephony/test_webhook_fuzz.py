"""Signed webhooks garbled at random, through each way the service stores them.

The bad-input tests in ``tests/telephony`` name the inputs someone thought of. Here
Hypothesis draws its own: each of Twilio's five callbacks, as a form or a JSON body,
with parameters dropped, repeated or replaced by anything, and signed as Twilio
signs, so that what is tested is everything behind the signature check. Whatever
the webhook, the service must:

- answer 200, 400, 403 (another account) or 413 (too large), never a 500;
- store a webhook it answered with 200, exactly once, readable again (its record
  decrypts and keeps the body byte for byte), and Twilio's retry of it adds nothing;
- store nothing for a webhook it refused;
- set nothing aside and leave nothing in a journal: every record it took is stored.

Each storing mode runs: committed before the answer, the journal stored by a thread
of the web process, and the journal stored by the storer (played here by hand).
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from collections.abc import Mapping
from typing import Any, NamedTuple
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import event as tally
from hypothesis import strategies as st
from sqlalchemy import func, select
from werkzeug.datastructures import MultiDict

from canary.telephony import inbound, journal, simulator, storer
from canary.telephony.forms import parse_form
from canary.telephony.inbound import BadWebhook
from canary.telephony.intake import params_of, payload_of, raw_body_of
from canary.telephony.models import Event
from canary.web import close_app, create_app
from canary.web.twilio_hooks import JOURNAL
from tests.telephony.conftest import BASE, TOKEN, events, signed_post

TWILIO = "+14155550100"
LOCAL = "+8613800138000"
CALLER = "+8613912345678"
PATHS = {
    "call": "/twilio/voice",
    "sms": "/twilio/sms",
    "status": "/twilio/status",
    "recording": "/twilio/recording",
    "transcription": "/twilio/transcription",
}
# Values on the edges of what intake checks, by the kind of parameter they go in.
NUMBERS = ("", "0", "-1", "1e3", "12.5", " 12", "9" * 40, "１２", "²", "٣")  # noqa: RUF001
PHONES = (
    "",
    LOCAL,
    "+86 138 0013 8000",
    "008613800138000",
    "+999999999999999999",
    "client:alice",
    "sip:alice@example.com",
    "anonymous",
    "+",
    LOCAL + "\n",
    "\u202e" + LOCAL,
)
STATUSES = ("", "completed", "in-progress", "COMPLETED", "absent", "x" * 25, "a", "ok!", "\x00")
URLS = (
    "",
    "https://api.twilio.com/2010-04-01/Accounts/x/Recordings/y",
    "http://x",
    "https://" + "x" * 3000,
    "javascript:alert(1)",
    "HTTPS://X",
    "https://例え.jp/录音",
)
DATES = (
    "",
    "Mon, 30 Nov 2026 09:00:00 +0000",
    "Fri, 31 Dec 9999 23:59:59 -2359",
    "Mon, 01 Jan 0001 00:00:00 +2359",
    "Mon, 30 Nov 2026 25:61:61 +0000",
    "2026-11-30T09:00:00Z",
    "yesterday",
)
SIP = (
    "<sip:+8613800138000@carrier.example>;reason=unconditional",
    "<tel:+1>",
    "sip:",
    "<sip:" + "8" * 40 + "@x>",
)
EDGES = {
    **dict.fromkeys(("CallDuration", "RecordingDuration", "NumMedia"), NUMBERS),
    **dict.fromkeys(("To", "Called", "From", "Caller", "ForwardedFrom"), PHONES),
    **dict.fromkeys(("SipHeader_X-Canary-Called", "SipHeader_X-Original-Called"), PHONES),
    **dict.fromkeys(("CallStatus", "MessageStatus", "SmsStatus"), STATUSES),
    **dict.fromkeys(("RecordingStatus", "TranscriptionStatus"), STATUSES),
    **dict.fromkeys(("MediaUrl0", "MediaUrl9", "RecordingUrl"), URLS),
    "Timestamp": DATES,
    "SipHeader_Diversion": SIP,
}
SIDS = ("AccountSid", "CallSid", "MessageSid", "SmsSid", "RecordingSid", "TranscriptionSid")
# Every parameter intake reads, and a few it does not.
NAMES = (*SIDS, *EDGES, "Body", "TranscriptionText", "Direction", "")
_ANY_TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=30)
# A SID in the right shape, fresh: a stored webhook is then a new one (a value
# Hypothesis repeats would replay an earlier example's webhook).
_SID = st.sampled_from(("AC", "CA", "SM", "MM", "SL", "RE", "TR", "ca", "XX")).map(
    lambda prefix: prefix + secrets.token_hex(16)
)
_SID_LIKE = st.one_of(
    _SID, _SID.map(str.upper), _SID.map(lambda sid: sid + "\n"), _SID.map(lambda sid: sid[:-1])
)


def _value_for(name: str) -> st.SearchStrategy[str]:
    """Mostly values of the parameter's own kind, else any text; now and then one
    beyond webhook_max_bytes."""
    if name == "AccountSid":  # also another account's
        own = _SID_LIKE | st.builds(lambda: "AC" + secrets.token_hex(16))
    elif name in SIDS:
        own = _SID_LIKE
    elif name in EDGES:
        own = st.sampled_from(EDGES[name])
    else:
        own = _ANY_TEXT
    return st.integers(0, 39).flatmap(
        lambda die: st.just("x" * 70_000) if die == 0 else (_ANY_TEXT if die < 10 else own)
    )


# The parameters each callback's checks read: most changes go to these.
READS = {
    "call": ("AccountSid", "CallSid", "To", "Called", "From", "ForwardedFrom", "CallStatus"),
    "sms": ("AccountSid", "MessageSid", "SmsSid", "To", "From", "Body", "NumMedia", "MediaUrl0"),
    "status": ("AccountSid", "CallSid", "MessageSid", "CallStatus", "CallDuration", "Timestamp"),
    "recording": (
        "AccountSid",
        "CallSid",
        "RecordingSid",
        "RecordingStatus",
        "RecordingUrl",
        "RecordingDuration",
    ),
    "transcription": (
        "AccountSid",
        "CallSid",
        "TranscriptionSid",
        "TranscriptionStatus",
        "TranscriptionText",
        "RecordingSid",
    ),
}


def _changes(kind: str) -> st.SearchStrategy[list[tuple[str, str, str]]]:
    """Parameters dropped, set or repeated: (what, name, value)."""
    name = st.one_of(*[st.sampled_from(READS[kind])] * 3, st.sampled_from(NAMES))
    change = name.flatmap(
        lambda name: st.tuples(
            st.sampled_from(("drop", "set", "set", "repeat")), st.just(name), _value_for(name)
        )
    )
    return st.lists(change, max_size=6)


_JSON_VALUE = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner),
    max_leaves=6,
)
ACCOUNT = "AC" + "0" * 32  # settings.twilio_account_sid in tests/conftest.py


def _params(kind: str, call_sid: str) -> dict[str, str]:
    """What Twilio sends for ``kind`` (the call it belongs to: ``call_sid``)."""
    if kind == "call":
        return simulator.call_params(TWILIO, CALLER, forwarded_from=LOCAL, account_sid=ACCOUNT)
    if kind == "sms":
        return simulator.sms_params(
            TWILIO, CALLER, "你好", ForwardedFrom=LOCAL, account_sid=ACCOUNT
        )
    if kind == "recording":
        return simulator.recording_params(call_sid, account_sid=ACCOUNT)
    if kind == "status":
        params = simulator.call_params(
            TWILIO, CALLER, forwarded_from=LOCAL, account_sid=ACCOUNT, status="completed"
        )
        return {**params, "CallSid": call_sid, "CallDuration": "31", "Timestamp": DATES[1]}
    return {
        "AccountSid": ACCOUNT,
        "CallSid": call_sid,
        "RecordingSid": simulator.new_sid("RE"),
        "TranscriptionSid": simulator.new_sid("TR"),
        "TranscriptionStatus": "completed",
        "TranscriptionText": "王女士您好，恭喜宝宝出生",
        "RecordingUrl": "https://api.twilio.com/2010-04-01/Recordings/x",
    }


class Webhook(NamedTuple):
    kind: str
    path: str  # with its query
    body: bytes
    content_type: str
    signature: str
    params: Mapping[str, Any]  # what the service reads from the body
    call_sid: str  # the call a status, recording or transcription callback is about
    call_first: bool  # that call's own webhook comes first


@st.composite
def webhooks(draw) -> Webhook:
    """One of Twilio's callbacks with parameters dropped, replaced or repeated (and,
    in a JSON body, given values of any JSON type), signed as Twilio signs it."""
    kind = draw(st.sampled_from(tuple(PATHS)))
    call_sid = simulator.new_sid("CA")
    call_first = kind in ("status", "recording", "transcription") and draw(st.booleans())
    pairs = list(_params(kind, call_sid).items())
    for change, name, value in draw(_changes(kind)):
        if change != "repeat":
            pairs = [(n, v) for n, v in pairs if n != name]
        if change != "drop":
            pairs.append((name, value))
    path = PATHS[kind]
    if draw(st.booleans()):
        body = urlencode(pairs).encode()
        signature = simulator.sign(TOKEN, BASE + path, MultiDict(pairs))
        form = parse_form(body.decode()).flat()
        content_type = "application/x-www-form-urlencoded"
        return Webhook(kind, path, body, content_type, signature, form, call_sid, call_first)
    document = dict(pairs)
    for name in draw(st.lists(st.sampled_from(NAMES), max_size=2)):
        document[name] = draw(_JSON_VALUE | _value_for(name))
    try:
        text = json.dumps(document, ensure_ascii=draw(st.booleans()))
        body = text.encode()
    except UnicodeEncodeError:  # a lone surrogate: only a JSON escape can carry it
        text = json.dumps(document)
        body = text.encode()
    path = f"{path}?bodySHA256={hashlib.sha256(body).hexdigest()}"
    signature = simulator.sign(TOKEN, BASE + path, {})
    params = json.loads(text)
    return Webhook(kind, path, body, "application/json", signature, params, call_sid, call_first)


def expected_answer(hook: Webhook, max_bytes: int) -> tuple[int, str | None]:
    """The status the service must answer, and the SID it stores the webhook under."""
    if len(hook.body) > max_bytes:
        return 413, None
    try:
        item = inbound.read(hook.kind, hook.params)
    except BadWebhook:
        return 400, None
    return (200, item.sid) if item.account_sid == ACCOUNT else (403, None)


MODES = ("committed", journal.THREAD, journal.PROCESS)


@pytest.fixture(params=MODES)
def service(request, context, add_number, monkeypatch):
    """A test client of the app storing webhooks one way, and what stores what it
    took so far (a drainer thread's drain, or a storer process's polls)."""
    add_number(LOCAL, forwards_to=TWILIO)
    mode = request.param
    journalled = mode != "committed"
    context.settings = context.settings.replace(
        webhook_journal=journalled, webhook_journal_storer=mode if journalled else journal.THREAD
    )
    # The storer process is played by this test: none is started.
    monkeypatch.setattr(storer.Watch, "check", lambda self: None)
    app = create_app(context=context)
    the_storer = storer.Storer(context, context.settings.journal_path)

    def store_what_was_taken() -> None:
        if mode == journal.THREAD:
            app.extensions[JOURNAL].drain()
        elif mode == journal.PROCESS:
            while the_storer.poll():
                pass

    yield app.test_client(), store_what_was_taken
    close_app(app)
    the_storer.close()
    folder = context.settings.journal_path
    assert not folder.exists() or list(folder.glob("*" + journal.UNSTORED)) == []


def _count(context) -> int:
    with context.db.session() as session:
        return session.scalar(select(func.count()).select_from(Event))


# CI runs the same examples every time, so that it fails only when the code does;
# CANARY_FUZZ_EXAMPLES=5000 explores that many new ones (Hypothesis prints how to
# reproduce a failure).
_EXPLORE = int(os.environ.get("CANARY_FUZZ_EXAMPLES") or 0)


@settings(
    max_examples=_EXPLORE or 150,
    deadline=None,
    derandomize=not _EXPLORE,
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,  # examples share the app and database
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
@given(hook=webhooks())
def test_any_signed_webhook_is_stored_once_or_refused_never_a_500(service, context, hook):
    client, store_what_was_taken = service
    if hook.call_first:
        call = simulator.call_params(TWILIO, CALLER, forwarded_from=LOCAL, call_sid=hook.call_sid)
        assert signed_post(client, PATHS["call"], call).status_code == 200
        store_what_was_taken()
    status, sid = expected_answer(hook, context.settings.webhook_max_bytes)
    stored_before = events(context, kind=hook.kind, provider_sid=sid) if sid else []
    counts = [_count(context)]
    answers = []
    for _delivery in range(2):  # the second: Twilio's retry of a webhook it thinks failed
        response = client.post(
            hook.path,
            data=hook.body,
            content_type=hook.content_type,
            headers={"X-Twilio-Signature": hook.signature},
        )
        answers.append(response.status_code)
        store_what_was_taken()
        counts.append(_count(context))
    tally(f"answer {status}")
    assert answers == [status, status]
    before, after_first, after_retry = counts
    assert after_retry == after_first  # the retry stored nothing
    if status != 200:
        assert after_first == before
        return
    [event] = events(context, kind=hook.kind, provider_sid=sid)
    payload = payload_of(context, event)  # decrypts under the row's AAD
    assert inbound.read(hook.kind, params_of(payload)).sid == sid  # and reads back
    if not stored_before:
        assert after_first > before
        assert raw_body_of(payload) == hook.body
