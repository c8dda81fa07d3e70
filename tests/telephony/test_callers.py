"""Callers are stored as they came and worked out before anything reads them."""

from __future__ import annotations

import json

import pytest

from canary.attribution import service
from canary.evidence import log as evidence_log
from canary.telephony import allowlist, callers, evidence, intake, simulator
from tests.telephony.conftest import events

TWILIO = "+14155550100"
LOCAL = "+8613800138000"
E164 = "+8613912345678"


@pytest.fixture
def deferred(context):
    """Attribution and evidence left to the scheduler, as for a large registry."""
    context.settings = context.settings.replace(attribute_in_webhook=False)
    return context


def store_call(context, caller: str) -> int:
    params = simulator.call_params(TWILIO, caller, forwarded_from=LOCAL)
    return intake.store(context, intake.accept(context, "call", params)).event_id


def test_the_webhook_stores_the_caller_verbatim_and_the_evidence_job_resolves_it(
    deferred, add_number
):
    add_number(LOCAL, forwards_to=TWILIO)
    store_call(deferred, "8613912345678")  # the form a carrier may pass on
    [stored] = events(deferred)
    assert (stored.caller_hash, stored.caller_block_hash) == ("", "")
    assert intake.caller_of(deferred, stored) == "8613912345678"
    assert b"8613912345678" not in stored.caller_enc

    assert evidence.log_pending(deferred) == 1
    [logged] = events(deferred)
    assert logged.caller_hash == deferred.keys.lookup_hash("phone", E164)
    assert logged.caller_block_hash == deferred.keys.lookup_hash("phone-block", E164[:-4])
    assert intake.caller_of(deferred, logged) == E164
    with deferred.db.session() as session:
        [entry] = [e for e in evidence_log.iter_entries(session) if e.kind == "event"]
        assert json.loads(entry.body)["caller_hash"] == logged.caller_hash


def test_attribution_compares_the_resolved_caller_with_the_allowlist(deferred, add_number):
    add_number(LOCAL, forwards_to=TWILIO)
    with deferred.db.session() as session:
        allowlist.allow(session, deferred, E164, label="after-sales desk", actor="test")
    store_call(deferred, E164)
    # Attribution before the evidence job has run: it must not see an empty hash.
    service.process_pending(deferred)
    [event] = events(deferred)
    assert event.classification == "expected"
    assert event.caller_hash == deferred.keys.lookup_hash("phone", E164)


@pytest.mark.parametrize(
    "raw",
    [
        E164,
        "8613912345678",
        "13912345678",
        "sip:+14155550123@example.sip.twilio.com;transport=udp",
        "sip:desk@pbx.example.org",
        "ShopName",
        "  ",
        "x" * 300,
    ],
)
def test_a_resolved_caller_is_what_storing_it_resolved_would_have_written(context, raw):
    class Row:
        pass

    row = Row()
    for name, value in callers.as_received(context, raw).items():
        setattr(row, name, value)
    assert callers.resolve(context, [row]) == 1
    assert callers.resolve(context, [row]) == 0  # already resolved
    expected = callers.fields(context, raw)
    assert (row.caller_hash, row.caller_block_hash) == (
        expected["caller_hash"],
        expected["caller_block_hash"],
    )
    assert row.caller_hash
    assert callers.text_of(context, row.caller_enc) == callers.text_of(
        context, expected["caller_enc"]
    )


@pytest.mark.parametrize("raw", ["", "anonymous", "Restricted", "+266696687"])
def test_hidden_callers_have_nothing_to_resolve(context, raw):
    fields = callers.as_received(context, raw)
    assert (
        fields
        == callers.fields(context, raw)
        == {
            "caller_hash": "",
            "caller_block_hash": "",
            "caller_enc": None,
        }
    )


def test_a_status_callback_of_a_missed_call_resolves_like_the_call(deferred, add_number):
    add_number(LOCAL, forwards_to=TWILIO)
    params = {
        **simulator.call_params(TWILIO, E164, forwarded_from=LOCAL),
        "CallStatus": "completed",
    }
    intake.store(deferred, intake.accept(deferred, "status", params))
    assert {e.kind for e in events(deferred)} == {"call", "status"}
    evidence.log_pending(deferred)
    assert {e.caller_hash for e in events(deferred)} == {deferred.keys.lookup_hash("phone", E164)}
