"""The webhook journal: answered once journalled, stored in batches, never lost."""

from __future__ import annotations

import base64
import fcntl
import json
import os
import shutil
import time
from urllib.parse import urlencode

import pytest
from sqlalchemy import event
from sqlalchemy.exc import OperationalError

from canary.telephony import intake, journal, simulator
from canary.telephony import storer as storer_mod
from canary.web import close_app, create_app
from tests.support.servers import LiveServer
from tests.telephony.conftest import TOKEN, events

TWILIO = "+14155550100"
LOCAL = "+8613800138000"
CALLER = "+8613912345678"


def wait_for(condition, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.02)
    return result


@pytest.fixture
def journal_server(context):
    """The app with the journal on (as in production), served over loopback HTTP;
    ``start(storer)`` picks what stores it. A storer process is stopped afterwards."""
    server = None
    app = None

    def start(storer: str = journal.THREAD):
        nonlocal server, app
        context.settings = context.settings.replace(
            webhook_journal=True, webhook_journal_storer=storer
        )
        app = create_app(context=context)
        server = LiveServer(app)
        context.settings = context.settings.replace(public_base_url=server.url)
        server.start()
        return server, app

    yield start
    if server is not None:
        server.stop()
        close_app(app)
    assert storer_mod.stop_running(context.settings.journal_path)


def accepted_call(context, call_sid=None, **extra):
    params = simulator.call_params(TWILIO, CALLER, forwarded_from=LOCAL, **extra)
    if call_sid:
        params["CallSid"] = call_sid
    return intake.accept(context, "call", params, url="http://127.0.0.1:8080/twilio/voice")


def database_down(ctx, batch):
    """``intake.store_many`` while the database cannot be reached."""
    raise OperationalError("INSERT", {}, Exception("database is locked"))


def store_many_failing_on(bad, error: Exception | None = None):
    """``intake.store_many`` failing for any batch holding ``bad`` (by SID), as for
    input no check caught: not the database."""
    real = intake.store_many

    def store_many(ctx, batch):
        if any(acc.item.sid == bad.item.sid for acc in batch):
            raise error or ValueError("no check caught this")
        return real(ctx, batch)

    return store_many


@pytest.fixture
def hand_drained(context, add_number, monkeypatch):
    """A journal whose thread never stores by itself: the test drains it by hand."""
    add_number(LOCAL, forwards_to=TWILIO)
    monkeypatch.setattr(journal, "DRAIN_DELAY_SECONDS", 3600)
    monkeypatch.setattr(journal, "QUIET_SECONDS", 3600)
    book = journal.Journal(context, context.settings.journal_path)
    yield book
    book.close()


@pytest.mark.parametrize("storer", journal.STORERS)
def test_journalled_webhooks_are_answered_then_stored_once(
    context, add_number, journal_server, storer
):
    cp_id = add_number(LOCAL, forwards_to=TWILIO)
    us_id = add_number("+14155550199")  # a Twilio number of the pool, called directly
    server, app = journal_server(storer)
    call = simulator.send_call(server.url, TOKEN, TWILIO, CALLER, forwarded_from=LOCAL)
    assert call.status_code == 200 and "<Record" in call.text
    # Each answer greets in its pool number's language, looked up before it is stored.
    assert 'language="cmn-CN"' in call.text
    direct = simulator.send_call(server.url, TOKEN, "+14155550199", CALLER)
    assert 'language="en-US"' in direct.text
    params = simulator.sms_params(TWILIO, CALLER, "王芳女士您好", ForwardedFrom=LOCAL)
    for _ in range(2):  # Twilio's retry of the same message
        sms = simulator.post(server.url, "/twilio/sms", TOKEN, params)
        assert sms.status_code == 200
    wait_for(lambda: len(events(context)) >= 3)
    close_app(app)  # whatever is still journalled is stored now
    stored = events(context)
    assert sorted(e.kind for e in stored) == ["call", "call", "sms"]
    assert sorted(e.contact_point_id for e in stored) == sorted([cp_id, cp_id, us_id])
    sms_event = next(e for e in stored if e.kind == "sms")
    payload = intake.payload_of(context, sms_event)
    assert intake.params_of(payload)["Body"] == "王芳女士您好" and payload["via"] == "webhook"
    # A storer process deletes the file once its writer has let go of it.
    wait_for(lambda: list(context.settings.journal_path.glob("*" + journal.SUFFIX)) == [])
    assert len(events(context)) == 3


def test_bad_webhooks_are_refused_before_the_journal(context, add_number, journal_server):
    add_number(LOCAL, forwards_to=TWILIO)
    server, _ = journal_server()
    forged = simulator.send_call(server.url, "not-the-token", TWILIO, CALLER)
    params = simulator.call_params(TWILIO, CALLER)
    params["CallSid"] = "garbled"
    garbled = simulator.post(server.url, "/twilio/voice", TOKEN, params)
    assert (forged.status_code, garbled.status_code) == (403, 400)
    assert [p.stat().st_size for p in context.settings.journal_path.glob("*" + journal.SUFFIX)] in (
        [],
        [0],
    )


def test_recover_stores_a_stopped_process_journal_and_deletes_it(context, add_number):
    cp_id = add_number(LOCAL, forwards_to=TWILIO)
    directory = context.settings.journal_path
    directory.mkdir(parents=True)
    first, second = accepted_call(context), accepted_call(context)
    # What a worker killed before its drainer ran leaves behind: records, no lock.
    left = directory / "4242-dead.journal"
    left.write_bytes(journal.encode(context, first) + journal.encode(context, second))
    # A live worker's journal (its lock is held) is not touched.
    live = directory / "4343-live.journal"
    live.write_bytes(journal.encode(context, accepted_call(context)))
    holder = os.open(live, os.O_RDONLY)
    fcntl.flock(holder, fcntl.LOCK_EX)
    try:
        assert journal.recover(context, directory) == 2
        assert journal.recover(context, directory) == 0
    finally:
        os.close(holder)
    assert not left.exists() and live.exists()
    stored = events(context, kind="call")
    assert sorted(e.provider_sid for e in stored) == sorted([first.item.sid, second.item.sid])
    assert {e.contact_point_id for e in stored} == {cp_id}
    assert {e.received_at for e in stored} == {first.received_at, second.received_at}


def test_recover_twice_stores_nothing_twice(context, add_number):
    add_number(LOCAL, forwards_to=TWILIO)
    directory = context.settings.journal_path
    directory.mkdir(parents=True)
    acc = accepted_call(context)
    intake.store(context, acc)  # stored, then the process died before emptying its file
    (directory / "1-a.journal").write_bytes(journal.encode(context, acc))
    assert journal.recover(context, directory) == 1
    assert len(events(context, kind="call")) == 1


def test_a_torn_record_keeps_the_file_for_an_investigator(context, add_number, caplog):
    add_number(LOCAL, forwards_to=TWILIO)
    directory = context.settings.journal_path
    directory.mkdir(parents=True)
    good = accepted_call(context)
    torn = journal.encode(context, accepted_call(context))[:-7]  # power lost mid-write
    (directory / "7-torn.journal").write_bytes(journal.encode(context, good) + torn)
    assert journal.recover(context, directory) == 1
    assert [e.provider_sid for e in events(context, kind="call")] == [good.item.sid]
    assert [p.name for p in directory.iterdir()] == ["7-torn.unstored"]
    assert "truncated record" in caplog.text and CALLER not in caplog.text


def test_a_record_under_another_key_is_not_stored(context, add_number, tmp_path):
    from canary.security.crypto import KeyRing

    add_number(LOCAL, forwards_to=TWILIO)
    directory = context.settings.journal_path
    directory.mkdir(parents=True)
    other = KeyRing.load(base64.b64encode(os.urandom(32)).decode(), tmp_path / "none.key")
    foreign = type(context)(context.settings, context.db, other)
    (directory / "9-x.journal").write_bytes(journal.encode(foreign, accepted_call(context)))
    assert journal.recover(context, directory) == 0
    assert events(context) == [] and (directory / "9-x.unstored").exists()


def _legacy_frame(context, acc) -> bytes:
    """A record as journals wrote them before records kept the row's ciphertext."""
    header = {"kind": acc.item.kind, "via": acc.via, "at": acc.received_at.isoformat()}
    blob = context.keys.encrypt(
        json.dumps(header).encode() + b"\n" + acc.payload, b"webhook-journal"
    )
    return len(blob).to_bytes(4, "big") + blob


def test_the_row_keeps_the_ciphertext_the_journal_wrote(context, add_number):
    add_number(LOCAL, forwards_to=TWILIO)
    acc = accepted_call(context)
    frame = journal.encode(context, acc)
    intake.store_many(context, [acc])
    [event] = events(context, kind="call")
    # Encrypted once, in the request: the drainer stored those very bytes (a second
    # encryption would have drawn another nonce).
    assert frame.endswith(event.payload_enc)
    assert intake.payload_of(context, event) == json.loads(acc.payload)


def test_a_journal_written_before_records_kept_the_row_ciphertext_is_recovered(context, add_number):
    add_number(LOCAL, forwards_to=TWILIO)
    directory = context.settings.journal_path
    directory.mkdir(parents=True)
    old, new = accepted_call(context), accepted_call(context)
    (directory / "5-old.journal").write_bytes(
        _legacy_frame(context, old) + journal.encode(context, new)
    )
    assert journal.recover(context, directory) == 2
    stored = {e.provider_sid: e for e in events(context, kind="call")}
    assert set(stored) == {old.item.sid, new.item.sid}
    assert intake.payload_of(context, stored[old.item.sid]) == json.loads(old.payload)
    assert list(directory.iterdir()) == []


def test_a_record_whose_header_was_altered_is_not_stored(context, add_number):
    add_number(LOCAL, forwards_to=TWILIO)
    directory = context.settings.journal_path
    directory.mkdir(parents=True)
    good, other = accepted_call(context), accepted_call(context)
    frame = journal.encode(context, good)
    # Another SID of the same length in the clear header: the ciphertext's AAD names
    # the original one, so the record no longer decrypts.
    forged = frame.replace(good.item.sid.encode(), other.item.sid.encode())
    assert forged != frame
    (directory / "6-forged.journal").write_bytes(forged)
    assert journal.recover(context, directory) == 0
    assert events(context) == [] and (directory / "6-forged.unstored").exists()


def test_the_last_records_are_stored_once_webhooks_stop_coming(context, add_number, monkeypatch):
    add_number(LOCAL, forwards_to=TWILIO)
    # Records wait for company at most this long, but not once appends have stopped.
    monkeypatch.setattr(journal, "DRAIN_DELAY_SECONDS", 60)
    book = journal.Journal(context, context.settings.journal_path)
    try:
        for _ in range(3):
            book.append(accepted_call(context))
        wait_for(lambda: len(events(context, kind="call")) == 3, timeout=10)
    finally:
        book.close()


def test_drain_keeps_records_while_the_database_is_down(context, add_number, monkeypatch):
    add_number(LOCAL, forwards_to=TWILIO)
    monkeypatch.setattr(journal, "DRAIN_DELAY_SECONDS", 3600)  # drained by hand below
    book = journal.Journal(context, context.settings.journal_path)
    first, second = accepted_call(context), accepted_call(context)
    book.append(first)
    book.append(second)
    size = book.path.stat().st_size
    real = intake.store_many
    monkeypatch.setattr(intake, "store_many", database_down)
    with pytest.raises(OperationalError):
        book.drain()
    assert book.path.stat().st_size == size and events(context) == []
    monkeypatch.setattr(intake, "store_many", real)
    assert book.drain() == 2
    assert book.path.stat().st_size == 0  # everything stored: the file starts afresh
    path = book.path
    book.close()
    assert not path.exists()
    assert len(events(context, kind="call")) == 2


def test_close_leaves_what_it_cannot_store_for_recovery(context, add_number, monkeypatch):
    add_number(LOCAL, forwards_to=TWILIO)
    monkeypatch.setattr(journal, "DRAIN_DELAY_SECONDS", 3600)
    book = journal.Journal(context, context.settings.journal_path)
    book.append(accepted_call(context))
    path = book.path

    def database_down(ctx, batch):
        raise OperationalError("INSERT", {}, Exception("connection refused"))

    monkeypatch.setattr(intake, "store_many", database_down)
    book.close(timeout=1)
    monkeypatch.undo()
    assert path.exists()
    assert journal.recover(context, context.settings.journal_path) == 1
    assert len(events(context, kind="call")) == 1 and not path.exists()


def test_an_unwritable_journal_falls_back_to_storing_directly(context, add_number, journal_server):
    add_number(LOCAL, forwards_to=TWILIO)
    context.settings.journal_path.parent.mkdir(parents=True, exist_ok=True)
    context.settings.journal_path.write_text("not a folder")
    server, _ = journal_server()
    call = simulator.send_call(server.url, TOKEN, TWILIO, CALLER, forwarded_from=LOCAL)
    assert call.status_code == 200
    assert len(events(context, kind="call")) == 1  # committed before the answer


def test_what_a_thread_still_queues_moves_to_a_fresh_file_when_its_file_is_removed(
    context, hand_drained
):
    book = hand_drained
    queued = [accepted_call(context) for _ in range(2)]
    book.append(queued[0])
    shutil.rmtree(context.settings.journal_path)
    book.append(queued[1])
    book.keep_file()
    # Were the process to die now, recovery would find both in the fresh file.
    fd = os.open(book.path, os.O_RDONLY)
    try:
        assert [a.item.sid for a in journal.read(context, fd).records] == [
            a.item.sid for a in queued
        ]
    finally:
        os.close(fd)
    assert book.drain() == 2 and len(events(context, kind="call")) == 2


def test_a_thread_closing_with_records_left_keeps_them_out_of_a_removed_file(
    context, hand_drained, monkeypatch
):
    monkeypatch.setattr(journal.Journal, "_run", lambda self: None)  # only close() acts
    book = hand_drained
    sent = accepted_call(context)
    book.append(sent)
    shutil.rmtree(context.settings.journal_path)
    monkeypatch.setattr(intake, "store_many", database_down)
    book.close()  # the database is down: the record stays in a file for recovery
    monkeypatch.undo()
    assert journal.recover(context, context.settings.journal_path) == 1
    assert [e.provider_sid for e in events(context, kind="call")] == [sent.item.sid]


def test_the_drainer_moves_what_it_cannot_store_yet_out_of_a_removed_file(
    context, add_number, monkeypatch
):
    add_number(LOCAL, forwards_to=TWILIO)
    tries = []

    def store_many(ctx, batch):
        tries.append(len(batch))
        database_down(ctx, batch)

    monkeypatch.setattr(intake, "store_many", store_many)
    book = journal.Journal(context, context.settings.journal_path)
    try:
        sent = accepted_call(context)
        book.append(sent)
        wait_for(lambda: tries)  # it failed once, and retries after a second
        shutil.rmtree(context.settings.journal_path)
        folder = context.settings.journal_path
        [fresh] = wait_for(lambda: journal.files(folder) if folder.is_dir() else [])
        fd = os.open(fresh, os.O_RDONLY)
        try:
            assert [a.item.sid for a in journal.read(context, fd).records] == [sent.item.sid]
        finally:
            os.close(fd)
    finally:
        monkeypatch.undo()
        book.close()
    assert [e.provider_sid for e in events(context, kind="call")] == [sent.item.sid]


def test_a_replay_stored_by_another_writer_meanwhile_is_still_answered(context, monkeypatch):
    old = accepted_call(context)
    intake.store_many(context, [old])
    new = [accepted_call(context) for _ in range(3)]
    real = intake._stored_before

    def racing(conn, plans):
        found = real(conn, plans)
        intake.store(context, new[1])  # another writer wins this one
        return found

    monkeypatch.setattr(intake, "_stored_before", racing)
    results = intake.store_many(context, [new[0], old, new[1], new[2]])
    assert [r.duplicate for r in results] == [False, True, True, False]
    assert len(events(context, kind="call")) == 4


def test_store_many_matches_store_and_answers_replays(context, add_number):
    cp_id = add_number(LOCAL, forwards_to=TWILIO)
    before = accepted_call(context)
    intake.store(context, before)
    fresh = [accepted_call(context) for _ in range(3)]
    replay_in_batch = accepted_call(context, call_sid=fresh[0].item.sid)
    status = intake.accept(
        context,
        "status",
        {
            **simulator.call_params(TWILIO, CALLER, forwarded_from=LOCAL),
            "CallSid": fresh[1].item.sid,
            "CallStatus": "completed",
        },
    )
    batch = [*fresh, before, replay_in_batch, status]
    results = intake.store_many(context, batch)
    assert [r.duplicate for r in results] == [False, False, False, True, True, False]
    assert results[4].event_id == results[0].event_id
    assert {r.contact_point_id for r in results} == {cp_id}
    calls = events(context, kind="call")
    assert len(calls) == 4 and len(events(context, kind="status")) == 1
    assert {e.id for e in calls} == {results[i].event_id for i in (0, 1, 2, 3)}


def test_store_many_reads_back_only_the_ids_something_follows_up_on(
    context, add_number, monkeypatch
):
    # Attribution is the scheduler's: calls need nothing more here, an SMS still has
    # its text matched for mentions, which needs the stored event's id.
    context.settings = context.settings.replace(attribute_in_webhook=False)
    from canary.telephony import followup

    followed = []
    real = followup.process
    monkeypatch.setattr(
        followup,
        "process",
        lambda ctx, received, item: followed.append(received) or real(ctx, received, item),
    )
    cp_id = add_number(LOCAL, forwards_to=TWILIO)
    calls = [accepted_call(context) for _ in range(3)]
    sms = intake.accept(context, "sms", simulator.sms_params(TWILIO, CALLER, "你好"))
    results = intake.store_many(context, [*calls, sms])
    assert [r.event_id for r in results[:3]] == [None, None, None]
    assert [(r.duplicate, r.contact_point_id, r.classification) for r in results[:3]] == [
        (False, cp_id, "pending")
    ] * 3
    stored_sms = events(context, kind="sms")
    assert [r.event_id for r in followed] == [results[3].event_id] == [stored_sms[0].id]
    stored = events(context, kind="call")
    assert sorted(e.provider_sid for e in stored) == sorted(acc.item.sid for acc in calls)
    assert all(e.evidence_pending and e.contact_point_id == cp_id for e in stored)
    # A replay is answered with its event; the new record still needs no id.
    again = [accepted_call(context), accepted_call(context, call_sid=calls[0].item.sid)]
    results = intake.store_many(context, again)
    assert [r.duplicate for r in results] == [False, True]
    by_sid = {e.provider_sid: e.id for e in events(context, kind="call")}
    assert [r.event_id for r in results] == [None, by_sid[calls[0].item.sid]]
    assert len(by_sid) == 4


def test_a_batch_read_again_is_answered_from_one_query_not_one_record_at_a_time(
    context, add_number
):
    # A storer that starts again reads a live journal file from its start: most of
    # what it reads was stored before.
    cp_id = add_number(LOCAL, forwards_to=TWILIO)
    stored_before = [accepted_call(context) for _ in range(6)]
    intake.store_many(context, stored_before)
    statements = []

    def count(conn, cursor, statement, parameters, context_, executemany):
        statements.append(" ".join(statement.split()[:3]).upper())

    event.listen(context.db.engine, "before_cursor_execute", count)
    try:
        new = [accepted_call(context) for _ in range(3)]
        batch = [*stored_before[:3], new[0], *stored_before[3:], *new[1:]]
        results = intake.store_many(context, batch)
    finally:
        event.remove(context.db.engine, "before_cursor_execute", count)
    assert [r.duplicate for r in results] == [True] * 3 + [False] + [True] * 3 + [False] * 2
    by_sid = {e.provider_sid: e for e in events(context, kind="call")}
    assert len(by_sid) == 9
    for acc, result in zip(batch, results, strict=True):
        stored = by_sid[acc.item.sid]
        if result.duplicate:  # as the stored event is now (attributed since)
            assert (result.event_id, result.classification) == (stored.id, stored.classification)
        assert (result.contact_point_id, result.country) == (cp_id, "CN")
    # The INSERT that met the replays, one SELECT for them, one INSERT of the rest.
    assert statements.count("INSERT INTO EVENT") == 2


@pytest.mark.parametrize("keyed", [True, False], ids=["ids-read-back", "driver-insert"])
def test_batch_stored_rows_read_back_as_singly_stored_rows_do(context, add_number, keyed):
    # A batch is one multi-row INSERT: every column must come back as a single
    # INSERT leaves it, NULLs included. Rows whose ids nothing needs (attribution left
    # to the scheduler) go through the driver's executemany with SQLAlchemy's bind
    # processors applied by intake itself: they must come back the same.
    context.settings = context.settings.replace(attribute_in_webhook=keyed)
    cp_id = add_number(LOCAL, forwards_to=TWILIO)
    single = accepted_call(context)
    batch = [accepted_call(context) for _ in range(3)]
    # A call to no pool number first: NULLs where the others have values.
    stray_params = simulator.call_params("+14155550199", "anonymous")
    stray = intake.accept(context, "call", stray_params, url="https://h/twilio/voice")
    intake.store(context, single)
    results = intake.store_many(context, [stray, *batch])
    stored = {e.provider_sid: e for e in events(context, kind="call")}
    lost = stored[stray.item.sid]
    assert (lost.id if keyed else None, lost.contact_point_id, lost.classification) == (
        results[0].event_id,
        None,
        "unmatched",
    )
    assert (lost.caller_hash, lost.caller_enc) == ("", None)
    results = results[1:]

    def shape(event):
        return (
            event.provider,
            event.parent_sid,
            event.contact_point_id,
            event.via,
            event.classification,
            event.incident_id,
            event.detail,
            event.evidence_pending,
            event.caller_hash,
            event.caller_block_hash,
            intake.caller_of(context, event),
        )

    expected = shape(stored[single.item.sid])
    assert expected[2] == cp_id and expected[-1] == CALLER
    for acc, result in zip(batch, results, strict=True):
        event = stored[acc.item.sid]
        assert shape(event) == expected
        assert (event.id if keyed else None) == result.event_id
        assert event.occurred_at == acc.received_at and event.received_at == acc.received_at
        assert intake.payload_of(context, event) == json.loads(acc.payload)


def test_a_journalled_webhook_is_read_back_from_the_body_it_keeps(context, add_number):
    from urllib.parse import urlencode

    from canary.telephony.forms import parse_form

    add_number(LOCAL, forwards_to=TWILIO)
    params = simulator.sms_params(TWILIO, CALLER, "王芳女士 100% & 您好", ForwardedFrom=LOCAL)
    body = urlencode(params).encode()
    read = parse_form(body.decode()).flat()
    acc = intake.accept(context, "sms", read, raw_body=body, body_format=intake.BODY_FORM)
    assert "params" not in json.loads(acc.payload)
    again = journal.decode(context, journal.encode(context, acc)[4:])
    assert again.payload == acc.payload and again.item == acc.item
    assert again.via == acc.via and again.received_at == acc.received_at
    assert again.item.text == params["Body"] and again.item.from_ == CALLER


def test_journal_records_keep_text_that_is_not_valid_unicode(context, add_number):
    add_number(LOCAL, forwards_to=TWILIO)
    params = simulator.sms_params(TWILIO, CALLER, "bad \udc80 text\x00", ForwardedFrom=LOCAL)
    acc = intake.accept(context, "sms", params)
    again = journal.decode(context, journal.encode(context, acc)[4:])
    assert again.payload == acc.payload and again.item.text == acc.item.text
    assert again.received_at == acc.received_at


def test_a_record_that_cannot_be_stored_is_set_aside_not_retried_forever(
    context, hand_drained, monkeypatch, caplog
):
    book = hand_drained
    good, bad, later = accepted_call(context), accepted_call(context), accepted_call(context)
    for acc in (good, bad, later):
        book.append(acc)
    error = UnicodeEncodeError("utf-8", "\udc80", 0, 1, "surrogates not allowed")
    monkeypatch.setattr(intake, "store_many", store_many_failing_on(bad, error))
    with caplog.at_level("ERROR", logger="canary.telephony.journal"):
        assert book.drain() == 3
    stored = {e.provider_sid for e in events(context, kind="call")}
    assert stored == {good.item.sid, later.item.sid}
    assert book.path.stat().st_size == 0  # the queue is empty: the file starts afresh
    [kept] = context.settings.journal_path.glob("*-set-aside" + journal.UNSTORED)
    assert oct(kept.stat().st_mode & 0o777) == "0o600"
    # Kept in the journal's framing, for an investigator: it decodes to the record.
    fd = os.open(kept, os.O_RDONLY)
    try:
        [again] = journal.read(context, fd).records
    finally:
        os.close(fd)
    assert again.item.sid == bad.item.sid and again.payload == bad.payload
    assert bad.item.sid in caplog.text and "set aside" in caplog.text
    assert CALLER not in caplog.text
    monkeypatch.undo()
    book.close()
    assert journal.recover(context, context.settings.journal_path) == 0  # not adopted


@pytest.mark.parametrize("storer", journal.STORERS)
def test_a_json_webhook_with_a_lone_surrogate_in_a_number_is_stored_by_the_journal(
    context, add_number, journal_server, storer
):
    import hashlib
    import http.client

    add_number(LOCAL, forwards_to=TWILIO)
    server, app = journal_server(storer)
    params = simulator.sms_params(TWILIO, CALLER, "hi", ForwardedFrom=LOCAL)
    raw = json.dumps(params).replace(json.dumps(CALLER), '"+86139\\udc80"')
    path = f"/twilio/sms?bodySHA256={hashlib.sha256(raw.encode()).hexdigest()}"
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    signature = simulator.sign(TOKEN, server.url + path, {})
    conn.request(
        "POST",
        path,
        raw.encode(),
        {"Content-Type": "application/json", "X-Twilio-Signature": signature},
    )
    assert conn.getresponse().status == 200
    conn.close()
    [event] = wait_for(lambda: events(context, kind="sms"))
    # Webhooks after it are stored too: it did not stop the drainer.
    later = simulator.sms_params(TWILIO, CALLER, "next", ForwardedFrom=LOCAL)
    signed = simulator.sign(TOKEN, server.url + "/twilio/sms", later)
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    conn.request(
        "POST",
        "/twilio/sms",
        urlencode(later).encode(),
        {"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signed},
    )
    assert conn.getresponse().status == 200
    wait_for(lambda: len(events(context, kind="sms")) == 2)


def test_recovery_sets_aside_a_record_it_cannot_store_and_stores_the_rest(
    context, add_number, monkeypatch, caplog
):
    add_number(LOCAL, forwards_to=TWILIO)
    folder = context.settings.journal_path
    folder.mkdir(parents=True, exist_ok=True)
    good, bad = accepted_call(context), accepted_call(context)
    left = folder / f"12345-{'ab' * 6}{journal.SUFFIX}"  # a stopped process's journal
    left.write_bytes(journal.encode(context, good) + journal.encode(context, bad))
    monkeypatch.setattr(intake, "store_many", store_many_failing_on(bad))
    with caplog.at_level("ERROR", logger="canary.telephony.journal"):
        assert journal.recover(context, folder) == 2
    assert [e.provider_sid for e in events(context, kind="call")] == [good.item.sid]
    assert not left.exists()
    [kept] = folder.glob("*-set-aside" + journal.UNSTORED)
    assert bad.item.sid in caplog.text and kept.name in caplog.text


def test_when_every_record_fails_none_is_set_aside_and_all_are_stored_later(
    context, hand_drained, monkeypatch
):
    book = hand_drained
    records = [accepted_call(context) for _ in range(3)]
    for acc in records:
        book.append(acc)
    real = intake.store_many

    def service_fault(ctx, batch):  # not one record's fault: a bug, a full disk
        raise OSError(24, "Too many open files")

    monkeypatch.setattr(intake, "store_many", service_fault)
    with pytest.raises(OSError):
        book.drain()
    assert not list(context.settings.journal_path.glob("*" + journal.UNSTORED))
    monkeypatch.setattr(intake, "store_many", real)
    assert book.drain() == 3
    assert {e.provider_sid for e in events(context, kind="call")} == {
        acc.item.sid for acc in records
    }
    book.close()


def test_a_bad_record_alone_is_kept_until_a_good_one_is_stored_beside_it(
    context, hand_drained, monkeypatch
):
    book = hand_drained
    bad, good = accepted_call(context), accepted_call(context)
    monkeypatch.setattr(intake, "store_many", store_many_failing_on(bad))
    book.append(bad)
    with pytest.raises(ValueError):
        book.drain()  # alone, its fault cannot be told from the service's: kept
    assert not list(context.settings.journal_path.glob("*" + journal.UNSTORED))
    book.append(good)
    assert book.drain() == 2
    assert [e.provider_sid for e in events(context, kind="call")] == [good.item.sid]
    assert len(list(context.settings.journal_path.glob("*-set-aside" + journal.UNSTORED))) == 1
    monkeypatch.undo()
    book.close()


def test_a_failed_set_aside_keeps_the_record_and_leaves_no_torn_frame(
    context, hand_drained, monkeypatch
):
    book = hand_drained
    good, bad = accepted_call(context), accepted_call(context)
    book.append(good)
    book.append(bad)
    real_fsync = os.fsync

    def disk_error(fd):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(intake, "store_many", store_many_failing_on(bad))
    monkeypatch.setattr(journal.os, "fsync", disk_error)
    size = book.path.stat().st_size
    with pytest.raises(OSError):
        book.drain()
    assert book.path.stat().st_size == size  # both records are still in the journal
    [kept] = context.settings.journal_path.glob("*-set-aside" + journal.UNSTORED)
    assert kept.stat().st_size == 0  # cut back: no torn frame hides later ones
    monkeypatch.setattr(journal.os, "fsync", real_fsync)
    assert book.drain() == 2
    fd = os.open(kept, os.O_RDONLY)
    try:
        assert [acc.item.sid for acc in journal.read(context, fd).records] == [bad.item.sid]
    finally:
        os.close(fd)
    monkeypatch.undo()
    book.close()
