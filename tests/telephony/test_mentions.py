"""Name and birth-date mentions: pure matching, and linking through the webhooks."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from canary.canaries import registry
from canary.telephony import mentions, simulator
from canary.telephony.models import EventCanary
from tests.telephony.conftest import events, signed_post

TWILIO = "+14155550100"
MARKETER = "+8613912345678"


@pytest.mark.parametrize(
    "text,name",
    [
        ("王芳女士您好，恭喜喜得贵子", "王芳"),
        ("王方女士您好", "王芳"),  # speech-to-text homophone
        ("增小芳您好", "曾小芳"),  # 曾 read zeng as a surname
        ("请问是单丽吗", "单丽"),  # 单 read shan as a surname
        ("王 芳女士", "王芳"),  # a space slipped in
        ("Hello, is this Wang Fang?", "王芳"),  # English transcript spells pinyin
        ("hi fang wang congratulations", "王芳"),  # given name first
        ("吕丽华女士", "吕丽华"),
    ],
)
def test_names_match_on_toneless_pinyin(text, name):
    assert mentions.mentions_name(text, name)


@pytest.mark.parametrize(
    "text,name",
    [
        ("李芳女士您好", "王芳"),  # different surname
        ("王女士您好", "王芳"),  # surname alone is not the name
        ("往返上海", "王芳"),  # wang fan ≠ wang fang: no fuzzy finals
        ("刘芳女士", "牛芳"),  # liu ≠ niu: no fuzzy initials (they over-match)
    ],
)
def test_different_names_do_not_match(text, name):
    assert not mentions.mentions_name(text, name)


@pytest.mark.parametrize(
    "text",
    [
        "宝宝11月20号出生的吧",
        "您的宝宝是十一月二十日出生",
        "2026年11月20日出生",
        "二零二六年十一月廿日",
        "born 2026-11-20",
        "your baby born on November 20th",
        "the twentieth of November",
        "20 Nov 2026",
    ],
)
def test_birth_dates_in_spoken_and_written_forms(text):
    assert mentions.mentions_date(text, dt.date(2026, 11, 20))


@pytest.mark.parametrize("text", ["11月21号", "2025年11月20日", "November 2", "call 1120 now"])
def test_other_dates_do_not_match(text):
    assert not mentions.mentions_date(text, dt.date(2026, 11, 20))


def _canary(context, copy_id, cp_id, name, birth, slot=0):
    with context.db.session() as session:
        return registry.store(
            session,
            context.keys,
            copy_id=copy_id,
            period="2026-W48",
            slot=slot,
            row={},
            persona={"name": name, "birth_date": birth},
            contact_point_ids=[cp_id],
            live_from=context.clock() - dt.timedelta(days=1),
        ).id


def _links(context):
    with context.db.session() as session:
        rows = session.scalars(select(EventCanary))
        return {(link.event_id, link.canary_id, link.strength) for link in rows}


def test_sms_naming_a_canary_by_homophone_links_it(client, context, clock, copies, add_number):
    cp = add_number("+8613800138000", forwards_to=TWILIO)
    target = _canary(context, copies[0], cp, "曾小芳", "2026-11-20")
    other = _canary(context, copies[1], cp, "李娜", "2026-11-18")
    params = simulator.sms_params(
        TWILIO, MARKETER, "增小芳女士您好，宝宝11月20号出生的吧？", ForwardedFrom="+8613800138000"
    )
    assert signed_post(client, "/twilio/sms", params).status_code == 200
    [sms] = events(context, kind="sms")
    assert _links(context) >= {(sms.id, target, "name_mention"), (sms.id, target, "birth_date")}
    assert not any(c == other and s != "number" for _, c, s in _links(context))


def test_transcription_mention_is_attached_to_the_call(client, context, clock, copies, add_number):
    cp = add_number("+8613800138000", forwards_to=TWILIO)
    target = _canary(context, copies[0], cp, "王芳", "2026-11-20")
    call = simulator.call_params(TWILIO, MARKETER, forwarded_from="+8613800138000")
    signed_post(client, "/twilio/voice", call)
    transcription = {
        "AccountSid": call["AccountSid"],
        "CallSid": call["CallSid"],
        "RecordingSid": simulator.new_sid("RE"),
        "TranscriptionSid": simulator.new_sid("TR"),
        "TranscriptionStatus": "completed",
        "TranscriptionText": "Hello Wang Fang, congratulations on your baby born November 20th",
    }
    assert signed_post(client, "/twilio/transcription", transcription).status_code == 200
    [call_event] = events(context, kind="call")
    assert {
        (call_event.id, target, "name_mention"),
        (call_event.id, target, "birth_date"),
    } <= _links(context)


def test_name_resolves_which_local_number_an_ambiguous_forward_was_for(
    client, context, clock, copies, add_number
):
    a = add_number("+8613800138000", forwards_to=TWILIO)
    b = add_number("+8613900139000", forwards_to=TWILIO)
    _canary(context, copies[0], a, "王芳", "2026-11-20")
    _canary(context, copies[1], b, "陈静", "2026-10-02")
    params = simulator.sms_params(TWILIO, MARKETER, "陈静您好")  # no ForwardedFrom
    signed_post(client, "/twilio/sms", params)
    [sms] = events(context, kind="sms")
    assert sms.contact_point_id == b and sms.detail["matched_on"] == "mention"


def test_speech_to_text_hook_transcribes_mandarin_voicemail(
    client, context, clock, copies, add_number, monkeypatch
):
    import sys
    import types

    cp = add_number("+8613800138000", forwards_to=TWILIO)
    target = _canary(context, copies[0], cp, "王芳", "2026-11-20")
    seen = {}

    def transcribe(url, auth, locale):
        seen.update(url=url, auth=auth, locale=locale)
        return "王方女士您好，我们是宝贝写真"

    module = types.ModuleType("fake_stt")
    module.transcribe = transcribe
    monkeypatch.setitem(sys.modules, "fake_stt", module)
    context.settings = context.settings.replace(speech_to_text="fake_stt:transcribe")
    call = simulator.call_params(TWILIO, MARKETER, forwarded_from="+8613800138000")
    body = signed_post(client, "/twilio/voice", call).get_data(as_text=True)
    assert "transcribe" not in body  # Twilio cannot transcribe Mandarin
    recording = simulator.recording_params(call["CallSid"])
    signed_post(client, "/twilio/recording", recording)
    assert seen["locale"] == "zh_CN" and seen["url"] == recording["RecordingUrl"]
    [call_event] = events(context, kind="call")
    assert (call_event.id, target, "name_mention") in _links(context)
    assert len(events(context, kind="transcription")) == 1
