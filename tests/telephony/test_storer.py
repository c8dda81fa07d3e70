"""The journal storer: one process per journal folder stores what web processes append."""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import shutil
import threading

import pytest
from sqlalchemy import event
from sqlalchemy.exc import OperationalError

from canary.security.crypto import KeyMaterialError
from canary.telephony import intake, journal, storer
from tests.telephony.conftest import events
from tests.telephony.test_journal import LOCAL, TWILIO, accepted_call, database_down, wait_for


@pytest.fixture
def folder(context, add_number):
    add_number(LOCAL, forwards_to=TWILIO)
    return context.settings.journal_path


@pytest.fixture
def writer(context, folder, monkeypatch):
    """A web process's journal for a storer process, which this test plays by hand."""
    monkeypatch.setattr(storer.Watch, "check", lambda self: None)
    book = journal.Journal(context, folder, storer=journal.PROCESS)
    yield book
    book.close()


def stored_sids(context) -> list[str]:
    return sorted(e.provider_sid for e in events(context, kind="call"))


def test_records_of_a_live_file_are_stored_once_as_they_come(context, folder, writer):
    the_storer = storer.Storer(context, folder)
    first = [accepted_call(context) for _ in range(3)]
    for acc in first:
        writer.append(acc)
    assert the_storer.poll() == 3
    assert the_storer.poll() == 0  # nothing new: nothing read or stored again
    later = accepted_call(context)
    writer.append(later)
    assert the_storer.poll() == 1
    assert stored_sids(context) == sorted(a.item.sid for a in [*first, later])
    # The writer still holds its file: it stays until the writer lets go of it.
    assert writer.path.exists()
    writer.close()
    assert the_storer.poll() == 0
    assert list(folder.glob("*" + journal.SUFFIX)) == []


def test_a_record_still_being_written_waits_for_the_next_poll(context, folder, writer):
    the_storer = storer.Storer(context, folder)
    writer.append(accepted_call(context))
    frame = journal.encode(context, accepted_call(context))
    # The writer's write(2) copied only part of the record so far.
    with open(writer.path, "ab") as file:
        file.write(frame[:100])
    assert the_storer.poll() == 1
    with open(writer.path, "ab") as file:
        file.write(frame[100:])
    assert the_storer.poll() == 1
    assert len(events(context, kind="call")) == 2


def test_a_writer_moves_to_a_fresh_file_and_the_full_one_is_stored_and_deleted(
    context, folder, writer, monkeypatch
):
    monkeypatch.setattr(journal, "ROTATE_BYTES", 2500)  # about two records
    the_storer = storer.Storer(context, folder)
    sent = []
    for i in range(9):
        sent.append(accepted_call(context))
        writer.append(sent[-1])
        if i % 4 == 0:
            the_storer.poll()
    the_storer.poll()
    assert stored_sids(context) == sorted(a.item.sid for a in sent)
    # Only the file the writer still appends to is left.
    assert list(folder.glob("*" + journal.SUFFIX)) == [writer.path]


def test_a_new_storer_goes_on_where_a_stopped_one_left_without_storing_twice(
    context, folder, writer
):
    first = storer.Storer(context, folder)
    writer.append(accepted_call(context))
    assert first.poll() == 1
    first.close()  # stopped; what it stored is not remembered
    writer.append(accepted_call(context))
    second = storer.Storer(context, folder)
    second.poll()  # reads the file from the start: the first record is a duplicate
    assert len(events(context, kind="call")) == 2


def test_records_wait_in_their_file_while_the_database_is_down(
    context, folder, writer, monkeypatch
):
    the_storer = storer.Storer(context, folder)
    writer.append(accepted_call(context))
    real = intake.store_many
    monkeypatch.setattr(intake, "store_many", database_down)
    with pytest.raises(OperationalError):
        the_storer.poll()
    writer.close()  # and its writer stops meanwhile: the file is kept
    with pytest.raises(OperationalError):
        the_storer.poll()
    assert len(list(folder.glob("*" + journal.SUFFIX))) == 1
    monkeypatch.setattr(intake, "store_many", real)
    assert the_storer.poll() == 1
    assert len(events(context, kind="call")) == 1
    assert list(folder.glob("*" + journal.SUFFIX)) == []


def test_a_record_that_does_not_decode_is_set_aside_and_later_ones_are_stored(
    context, folder, writer, caplog
):
    the_storer = storer.Storer(context, folder)
    good = accepted_call(context)
    writer.append(good)
    frame = bytearray(journal.encode(context, accepted_call(context)))
    frame[-5] ^= 0xFF  # a flipped bit in the ciphertext: whole, but does not decrypt
    with open(writer.path, "ab") as file:
        file.write(bytes(frame))
    after = accepted_call(context)
    writer.append(after)
    assert the_storer.poll() == 2  # the records on both sides of the bad one
    assert stored_sids(context) == sorted([good.item.sid, after.item.sid])
    [kept] = folder.glob("*-set-aside" + journal.UNSTORED)
    assert kept.read_bytes() == bytes(frame)
    assert "does not decode" in caplog.text


def test_a_file_a_thread_stores_is_left_to_its_own_process(context, folder):
    # A process storing in a thread empties its own file; a storer reading it too would
    # lose its place when the file is cut back.
    book = journal.Journal(context, folder, storer=journal.THREAD)
    the_storer = storer.Storer(context, folder)
    try:
        book.append(accepted_call(context))
        wait_for(lambda: len(events(context, kind="call")) == 1)
        for _ in range(3):
            book.append(accepted_call(context))
            assert the_storer.poll() == 0
        wait_for(lambda: len(events(context, kind="call")) == 4)
    finally:
        book.close()


def test_one_storer_per_folder(context, folder):
    first, second = storer.Storer(context, folder), storer.Storer(context, folder)
    assert not storer.running(folder)
    assert first.claim()
    try:
        assert storer.running(folder) and storer.pid_of(folder) == os.getpid()
        assert not second.claim(attempts=2)
    finally:
        first.close()
    assert not storer.running(folder) and storer.pid_of(folder) is None


def test_a_storer_leaves_once_stopped_after_storing_what_is_there(context, folder, writer):
    the_storer = storer.Storer(context, folder)
    assert the_storer.claim()
    stop = threading.Event()
    thread = threading.Thread(target=the_storer.run, args=(stop,))
    thread.start()
    try:
        writer.append(accepted_call(context))
        wait_for(lambda: len(events(context, kind="call")) == 1)
    finally:
        stop.set()
        thread.join(10)
    assert not thread.is_alive() and not storer.running(folder)


def test_a_storer_stores_what_came_once_its_files_stop_growing(
    context, folder, writer, monkeypatch
):
    # Only the folder going quiet can bring the records in before the end of the test:
    # the longest wait is an hour.
    monkeypatch.setattr(storer, "POLL_SECONDS", 3600)
    the_storer = storer.Storer(context, folder)
    assert the_storer.claim()
    stop = threading.Event()
    thread = threading.Thread(target=the_storer.run, args=(stop,))
    writer.append(accepted_call(context))  # the first poll finds this file
    thread.start()
    another_process = journal.Journal(context, folder, storer=journal.PROCESS)
    try:
        wait_for(lambda: len(events(context, kind="call")) == 1)
        writer.append(accepted_call(context))  # the file it reads grows
        writer.append(accepted_call(context))
        wait_for(lambda: len(events(context, kind="call")) == 3)
        # A web process that started since: its file was not there when the storer
        # last looked at the folder.
        another_process.append(accepted_call(context))
        wait_for(lambda: len(events(context, kind="call")) == 4)
    finally:
        another_process.close()
        stop.set()
        thread.join(10)
    assert not thread.is_alive()


@pytest.mark.parametrize("removed", ["the folder", "the file"])
def test_records_written_to_a_removed_journal_file_are_not_lost(context, folder, writer, removed):
    first, second, third = (accepted_call(context) for _ in range(3))
    writer.append(first)
    assert storer.Storer(context, folder).poll() == 1
    writer.append(second)
    if removed == "the folder":
        shutil.rmtree(folder)
    else:
        writer.path.unlink()
    writer.append(third)  # into the removed file: no error, and answered
    writer.keep_file()
    assert writer.path.exists() and writer.path.parent == folder
    # A storer reading the fresh file stores both; the first is a duplicate.
    storer.Storer(context, folder).poll()
    assert stored_sids(context) == sorted(a.item.sid for a in (first, second, third))
    writer.keep_file()  # the file is where it should be: nothing moves
    assert len(journal.files(folder)) == 1


@pytest.mark.parametrize("then", ["moves on to a fresh file", "closes"])
def test_a_writer_letting_go_of_a_removed_file_takes_its_records_along(
    context, folder, writer, monkeypatch, then
):
    # No watch thread: only the writer itself can carry the records over.
    monkeypatch.setattr(storer.Watch, "start", lambda self: None)
    first, second = accepted_call(context), accepted_call(context)
    writer.append(first)
    writer.path.unlink()  # e.g. a clean-up job, between two checks of the watch
    if then == "closes":
        writer.append(second)
        writer.close()
    else:
        monkeypatch.setattr(journal, "ROTATE_BYTES", 1)
        writer.append(second)  # into the removed file, then on to a fresh one
    storer.Storer(context, folder).poll()
    assert stored_sids(context) == sorted(a.item.sid for a in (first, second))


def test_a_web_process_carries_on_after_its_journal_folder_is_deleted(context, folder):
    book = journal.Journal(context, folder, storer=journal.PROCESS)
    try:
        book.append(accepted_call(context))
        wait_for(lambda: len(events(context, kind="call")) == 1, timeout=30)
        shutil.rmtree(folder)  # the storer's lock goes with it: it leaves
        book.append(accepted_call(context))
        # The web process's watch moves its records to a fresh file and starts a
        # storer for the new folder.
        wait_for(lambda: len(events(context, kind="call")) == 2, timeout=30)
    finally:
        book.close()
        storer.stop_running(folder)


def test_a_web_process_starts_a_storer_process_when_none_runs(context, folder):
    book = journal.Journal(context, folder, storer=journal.PROCESS)
    try:
        book.append(accepted_call(context))
        wait_for(lambda: storer.running(folder), timeout=30)
        assert storer.pid_of(folder) != os.getpid()  # a process of its own
        wait_for(lambda: len(events(context, kind="call")) == 1, timeout=30)
        book.append(accepted_call(context))
        wait_for(lambda: len(events(context, kind="call")) == 2)
    finally:
        book.close()
        assert storer.stop_running(folder)
    assert list(folder.glob("*" + journal.SUFFIX)) == []


def test_a_web_process_stores_in_a_thread_when_no_storer_process_can_start(
    context, folder, monkeypatch, caplog
):
    def cannot(ctx):
        raise OSError("no such executable")

    monkeypatch.setattr(storer, "spawn", cannot)
    book = journal.Journal(context, folder, storer=journal.PROCESS)
    try:
        book.append(accepted_call(context))
        wait_for(lambda: len(events(context, kind="call")) == 1)
        assert storer.pid_of(folder) == os.getpid()
        assert "storing in this process" in caplog.text
    finally:
        book.close()


def test_a_storer_whose_folder_was_replaced_leaves_without_touching_the_new_one(
    context, folder, writer
):
    import shutil

    the_storer = storer.Storer(context, folder)
    assert the_storer.claim()
    shutil.rmtree(folder)  # an operator moved the folder away and made it again
    writer.append(accepted_call(context))
    with pytest.raises(storer.FolderLost):
        the_storer.poll()
    the_storer.run(threading.Event())  # leaves at once
    assert events(context) == [] and writer.path.exists()


HOLDER = """
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
fcntl.flock(fd, fcntl.LOCK_EX)
os.write(fd, f"{os.getpid()} {sys.argv[2]} {sys.argv[3]}".encode())
print("locked", flush=True)
time.sleep(60)
"""


@pytest.mark.parametrize(
    ("code", "age", "replaced"),
    [
        ("0123456789abcdef", 3600, True),  # other code, started before this process
        ("0123456789abcdef", -3600, False),  # other code, started after: a rolling restart
        (None, 3600, False),  # this code
    ],
)
def test_a_storer_running_other_code_is_replaced_once_a_newer_process_sees_it(
    context, folder, monkeypatch, code, age, replaced
):
    import subprocess
    import sys
    import time

    folder.mkdir(parents=True, exist_ok=True)
    code = code or storer.code_fingerprint()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            HOLDER,
            str(folder / storer.LOCK_NAME),
            code,
            str(time.time() - age),
        ],
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout.readline() == b"locked\n"
        started = []
        monkeypatch.setattr(storer, "spawn", lambda ctx: started.append(ctx))
        watch = storer.Watch(context, folder)
        watch.check()
        if replaced:
            assert holder.wait(10) == -15  # SIGTERM
        else:
            time.sleep(0.2)
            assert holder.poll() is None
        assert started == []  # the next check starts this code's storer, not this one
    finally:
        holder.kill()
        holder.wait()


def _records(context):
    from canary.telephony import simulator

    url = "https://canary.example/twilio/x"
    call = simulator.call_params(TWILIO, "+8613912345678", forwarded_from=LOCAL)
    sms = simulator.sms_params(
        TWILIO, "+8613912345678", "王芳\u0007女士 \ud83d", media_urls=("https://m/1", "https://m/2")
    )
    recording = simulator.recording_params(call["CallSid"], duration=31)
    status = dict(call, CallStatus="completed", CallDuration="42")
    hidden = simulator.call_params(TWILIO, "anonymous")
    return [
        intake.accept(context, "call", call, url=url),
        intake.accept(context, "sms", sms, url=url),
        intake.accept(context, "recording", recording, url=url, via="poll"),
        intake.accept(context, "status", status, url=url),
        intake.accept(context, "call", hidden, url=url),
    ]


def test_a_record_for_a_storer_carries_its_checked_fields(context):
    for acc in _records(context):
        frame = journal.encode(context, acc, fields=True)
        again = journal.decode(context, frame[4:])
        # Everything storing uses, as checked in the web process; the verbatim
        # parameters stay in the payload only.
        assert again.item == acc.item._replace(params=again.item.params)
        assert not again.item.params
        assert (again.payload, again.via, again.received_at) == (
            acc.payload,
            acc.via,
            acc.received_at,
        )
        # Encrypted once, for the journal: the storer encrypts the payload for its row.
        assert acc.payload_enc is None and again.payload_enc is None
        assert acc.item.sid.encode() in frame and acc.payload[-40:] not in frame
        # Read again from the payload, as a record without them is: the same fields.
        plain = journal.decode(context, journal.encode(context, acc)[4:])
        assert plain.item._replace(params={}) == again.item._replace(params={})


def _parts(frame: bytes) -> tuple[bytes, bytes]:
    """(clear header, what follows it) of a framed record."""
    size = int.from_bytes(frame[4:6], "big")
    return frame[6 : 6 + size], frame[6 + size :]


def _reframe(header: bytes, rest: bytes) -> bytes:
    """What follows the length word of a record with this header."""
    return len(header).to_bytes(2, "big") + header + rest


def test_a_checked_record_whose_header_was_altered_does_not_decode(context):
    first, second = _records(context)[:2]
    header, content = _parts(journal.encode(context, second, fields=True))
    foreign_header, _ = _parts(journal.encode(context, first, fields=True))
    with pytest.raises(KeyMaterialError):  # another record's SID and kind
        journal.decode(context, _reframe(foreign_header, content))
    *names, at = header.split(b"\0")
    moved = dt.datetime.fromisoformat(at.decode()) + dt.timedelta(hours=1)
    later = b"\0".join((*names, moved.isoformat().encode()))  # the time received moved
    with pytest.raises(KeyMaterialError):
        journal.decode(context, _reframe(later, content))


def test_a_storer_started_from_elsewhere_serves_the_folder_the_web_process_uses(
    context, folder, tmp_path, monkeypatch
):
    # A relative home (the default is "var"), as resolved by the web process's working
    # folder: the storer process gets the paths resolved, and the same working folder.
    monkeypatch.chdir(tmp_path)
    context.settings = context.settings.replace(home="home")
    assert context.settings.journal_path == folder
    resolved = storer.absolute(context.settings.replace(key_file="keys/master.key"))
    assert resolved.home == str(folder.parent) and resolved.key_file == str(
        tmp_path / "keys" / "master.key"
    )
    assert resolved.database_url == context.settings.resolved_database_url
    book = journal.Journal(context, folder, storer=journal.PROCESS)
    try:
        book.append(accepted_call(context))
        wait_for(lambda: len(events(context, kind="call")) == 1, timeout=30)
    finally:
        book.close()
        assert storer.stop_running(folder)


def test_a_file_whose_record_cannot_be_stored_holds_back_no_other_file(
    context, folder, writer, monkeypatch
):
    from tests.telephony.test_journal import store_many_failing_on

    bad = accepted_call(context)
    writer.append(bad)  # alone in its file: nothing tells its fault from the service's
    other = journal.Journal(context, folder, storer=journal.PROCESS)
    try:
        good = [accepted_call(context) for _ in range(3)]
        for acc in good:
            other.append(acc)
        monkeypatch.setattr(intake, "store_many", store_many_failing_on(bad))
        the_storer = storer.Storer(context, folder)
        assert the_storer.poll() == 3
        assert stored_sids(context) == sorted(a.item.sid for a in good)
        assert the_storer.poll() == 0  # the failing file waits for its retry
    finally:
        other.close()


def test_what_several_web_processes_wrote_is_stored_in_one_batch(context, folder, writer):
    other = journal.Journal(context, folder, storer=journal.PROCESS)
    statements = []

    def count(conn, cursor, statement, parameters, context_, executemany):
        statements.append(" ".join(statement.split()[:3]).upper())

    try:
        sent = [accepted_call(context) for _ in range(6)]
        for i, acc in enumerate(sent):
            (writer if i % 2 else other).append(acc)
        event.listen(context.db.engine, "before_cursor_execute", count)
        try:
            assert storer.Storer(context, folder).poll() == 6
        finally:
            event.remove(context.db.engine, "before_cursor_execute", count)
    finally:
        other.close()
    assert stored_sids(context) == sorted(a.item.sid for a in sent)
    assert statements.count("INSERT INTO EVENT") == 1  # one batch, not one per file


def test_a_storer_that_died_is_replaced_without_another_webhook(context, folder):
    import signal

    book = journal.Journal(context, folder, storer=journal.PROCESS)
    try:
        book.append(accepted_call(context))
        wait_for(lambda: len(events(context, kind="call")) == 1, timeout=30)
        os.kill(storer.pid_of(folder), signal.SIGKILL)
        wait_for(lambda: not storer.running(folder))
        book.append(accepted_call(context))  # the last webhook for a while
        wait_for(lambda: len(events(context, kind="call")) == 2, timeout=30)
    finally:
        book.close()
        assert storer.stop_running(folder)


def test_a_record_that_does_not_decode_in_a_finished_file_holds_back_nothing(
    context, folder, writer
):
    writer.append(accepted_call(context))
    frame = bytearray(journal.encode(context, accepted_call(context), fields=True))
    frame[-5] ^= 0xFF
    with open(writer.path, "ab") as file:
        file.write(bytes(frame))
    after = accepted_call(context)
    writer.append(after)
    writer.close()  # read only once its writer has let go of it
    assert storer.Storer(context, folder).poll() == 2
    assert after.item.sid in stored_sids(context)
    assert list(folder.glob("*" + journal.SUFFIX)) == []
    assert list(folder.glob("*" + journal.UNSTORED)) == list(folder.glob("*-set-aside*"))


def test_fields_written_by_another_version_are_read_from_the_payload_instead(context):
    import marshal

    acc = _records(context)[1]
    header, _ = _parts(journal.encode(context, acc, fields=True))
    # The same record with fields of another layout (as many of them, in another
    # order), encrypted as the service does.
    values = [getattr(acc.item, name) for name in reversed(journal._FIELDS)]
    values = [v.isoformat() if hasattr(v, "isoformat") else v for v in values]
    other = context.keys.encrypt(
        marshal.dumps(("another-layout", "webhook", acc.payload, *values)),
        journal._AAD_CHECKED + header,
    )
    again = journal.decode(context, _reframe(header, other))
    assert again.item.params  # read again from the payload, not from the fields
    assert again.item._replace(params={}) == acc.item._replace(params={})
    assert again.via == acc.via


def _json_header_frame(context, acc, *, fields: bool) -> bytes:
    """A record as the service wrote them before header tags: a JSON header, then
    (for a storer process) the fields encrypted on their own, then the row's
    ciphertext."""
    import marshal

    item = acc.item
    aad = intake.payload_aad(item.kind, item.sid)
    header = {"kind": item.kind, "at": acc.received_at.isoformat(), "sid": item.sid}
    sealed_fields = b""
    if fields:
        values = [getattr(item, name) for name in journal._FIELDS]
        values = [v.isoformat() if hasattr(v, "isoformat") else v for v in values]
        layout = journal._JSON_HEADER_LAYOUT
        sealed_fields = context.keys.encrypt(
            marshal.dumps((layout, acc.via, *values), 4), b"journal-fields\x00" + aad
        )
        header["fields"] = len(sealed_fields)
    clear = json.dumps(header).encode()
    body = _reframe(clear, sealed_fields + context.keys.encrypt(acc.payload, aad))
    return (len(body) | 0x8000_0000).to_bytes(4, "big") + body


@pytest.mark.parametrize("fields", [True, False])
def test_records_an_earlier_version_wrote_are_stored(context, folder, fields):
    # A rolling restart: the old web processes' records reach the new storer.
    records = [accepted_call(context) for _ in range(2)] + _records(context)[1:2]
    for acc in records:
        again = journal.decode(context, _json_header_frame(context, acc, fields=fields)[4:])
        assert again.item._replace(params={}) == acc.item._replace(params={})
        assert (again.payload, again.via, again.received_at) == (
            acc.payload,
            acc.via,
            acc.received_at,
        )
        assert bool(again.item.params) is not fields
    folder.mkdir(parents=True, exist_ok=True)
    frames = b"".join(_json_header_frame(context, acc, fields=fields) for acc in records[:2])
    (folder / "1-old-tailed.journal").write_bytes(frames)
    assert storer.Storer(context, folder).poll() == 2
    assert stored_sids(context) == sorted(acc.item.sid for acc in records[:2])


def test_a_failed_flush_moves_the_writer_to_a_fresh_file(context, folder, monkeypatch):
    book = journal.Journal(context, folder, fsync=True, storer=journal.PROCESS)
    monkeypatch.setattr(storer.Watch, "check", lambda self: None)
    try:
        book.append(accepted_call(context))
        first = book.path
        the_storer = storer.Storer(context, folder)
        real = os.fdatasync

        def failing(fd):
            raise OSError(5, "Input/output error")

        monkeypatch.setattr(os, "fdatasync", failing)
        with pytest.raises(journal.JournalUnavailable):
            book.append(accepted_call(context))
        monkeypatch.setattr(os, "fdatasync", real)
        later = accepted_call(context)
        book.append(later)
        assert book.path != first
        the_storer.poll()
        assert later.item.sid in stored_sids(context)
        assert len(events(context, kind="call")) == 2  # the refused one was not stored
    finally:
        book.close()


def test_a_garbled_length_word_in_a_finished_file_keeps_the_rest_for_an_investigator(
    context, folder, writer
):
    first = accepted_call(context)
    writer.append(first)
    with open(writer.path, "ab") as file:
        file.write((0x7FFF_FFF0).to_bytes(4, "big") + b"garbage")  # claims ~2 GiB
    writer.close()
    assert storer.Storer(context, folder).poll() == 1
    assert stored_sids(context) == [first.item.sid]
    assert list(folder.glob("*" + journal.SUFFIX)) == []
    [kept] = folder.glob("*" + journal.UNSTORED)
    assert not kept.name.endswith("-set-aside" + journal.UNSTORED)  # the rest, as it was


def test_a_zero_filled_tail_is_kept_whole_for_an_investigator(context, folder, writer):
    first = accepted_call(context)
    writer.append(first)
    size = writer.path.stat().st_size
    with open(writer.path, "ab") as file:
        file.write(bytes(4096))  # a size grown without its data, after a crash
    writer.close()
    assert storer.Storer(context, folder).poll() == 1
    assert stored_sids(context) == [first.item.sid]
    # The file as it was, not 1,024 set-aside "records" of four zero bytes.
    [kept] = folder.glob("*" + journal.UNSTORED)
    assert kept.stat().st_size == size + 4096 and "set-aside" not in kept.name


def test_a_relative_sqlite_database_is_resolved_for_the_storer(context, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    relative = context.settings.replace(database_url="sqlite:///var/canary.db")
    assert storer.absolute(relative).database_url == f"sqlite:///{tmp_path}/var/canary.db"
    elsewhere = "postgresql+psycopg://u:secret@db/canary"
    assert storer.absolute(relative.replace(database_url=elsewhere)).database_url == elsewhere


def test_a_first_check_that_fails_is_tried_again(context, folder, monkeypatch):
    real = storer.running_storer
    calls = []

    def flaky(directory):
        calls.append(1)
        if len(calls) == 1:
            raise OSError(24, "Too many open files")
        return real(directory)

    started = []
    monkeypatch.setattr(storer, "running_storer", flaky)
    monkeypatch.setattr(storer, "spawn", lambda ctx: started.append(ctx))
    book = journal.Journal(context, folder, storer=journal.PROCESS)
    try:
        book.append(accepted_call(context))  # answered: the check is not on its path
        wait_for(lambda: started, timeout=10)
    finally:
        book.close()


def test_a_forked_child_neither_writes_to_nor_holds_its_parents_file(context, folder, writer):
    writer.append(accepted_call(context))
    parents = writer.path
    ready_r, ready_w = os.pipe()
    go_r, go_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: a worker forked after the journal was opened
        code = 1
        try:
            os.close(ready_r)
            os.close(go_w)
            fresh = writer.path is None
            writer.append(accepted_call(context))
            code = 0 if fresh and writer.path != parents else 2
            os.write(ready_w, writer.path.name.encode())
            os.read(go_r, 1)  # alive while the parent checks the lock
            writer.close()
        finally:
            os._exit(code)
    os.close(ready_w)
    os.close(go_r)
    try:
        childs = os.read(ready_r, 200).decode()
        assert childs and childs != parents.name
        writer.close()  # the parent lets go of its file while the child lives
        fd = os.open(parents, os.O_RDONLY)
        try:  # the lock ended with the parent's descriptor, not the child's copy
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        finally:
            os.close(fd)
    finally:
        os.write(go_w, b"x")
        _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert storer.Storer(context, folder).poll() == 2
    assert len(stored_sids(context)) == 2


def test_files_in_this_versions_layouts_are_named_so_earlier_versions_leave_them(
    context, folder, writer
):
    # A storer or recovery of a version before these layouts globs "*.journal" and
    # would set aside every record it cannot decode; this version reads both names.
    writer.append(accepted_call(context))
    assert writer.path.suffix == journal.SUFFIX != journal.EARLIER_SUFFIX
    assert not writer.path.match("*" + journal.EARLIER_SUFFIX)
    earlier = folder / ("1-old-tailed" + journal.EARLIER_SUFFIX)
    earlier.write_bytes(_json_header_frame(context, accepted_call(context), fields=True))
    assert journal.files(folder) == sorted([earlier, writer.path])
    assert storer.Storer(context, folder).poll() == 2


def _header_with_fields_length(context, length) -> bytes:
    frame = _json_header_frame(context, accepted_call(context), fields=True)
    size = int.from_bytes(frame[4:6], "big")
    header = json.loads(frame[6 : 6 + size])
    header["fields"] = length
    body = _reframe(json.dumps(header).encode(), frame[6 + size :])
    return (len(body) | 0x8000_0000).to_bytes(4, "big") + body


@pytest.mark.parametrize("length", [float("inf"), 10**30, -1, "12", 1.5])
def test_a_garbled_length_in_an_earlier_header_is_set_aside_not_raised(context, folder, length):
    folder.mkdir(parents=True, exist_ok=True)
    good, later = accepted_call(context), accepted_call(context)
    path = folder / ("1-x-tailed" + journal.EARLIER_SUFFIX)
    bad = _header_with_fields_length(context, length)
    path.write_bytes(
        journal.encode(context, good) + bad + journal.encode(context, later, fields=True)
    )
    assert storer.Storer(context, folder).poll() == 2
    assert stored_sids(context) == sorted([good.item.sid, later.item.sid])
    [kept] = folder.glob("*-set-aside*")
    assert kept.read_bytes() == bad


def test_a_fork_while_another_thread_opens_a_file_leaves_the_child_no_lock(
    context, folder, monkeypatch
):
    book = journal.Journal(context, folder, storer=journal.THREAD)
    real = book._new_file
    inside, go = threading.Event(), threading.Event()

    def slow_new_file():
        opened = real()
        inside.set()
        go.wait(10)
        return opened

    monkeypatch.setattr(book, "_new_file", slow_new_file)
    appending = threading.Thread(target=book.append, args=(accepted_call(context),))
    appending.start()
    inside.wait(10)
    # The fork waits for the file to be opened and recorded (the journal's lock).
    threading.Timer(0.3, go.set).start()
    ready_r, ready_w = os.pipe()
    done_r, done_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.write(ready_w, b"x")
            os.read(done_r, 1)  # alive while the parent looks at its descriptors
        finally:
            os._exit(0)
    try:
        os.read(ready_r, 1)
        appending.join(10)
        opened = {os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")}
        assert book.path is not None and str(book.path) not in opened
    finally:
        os.write(done_w, b"x")
        os.waitpid(pid, 0)
        book.close()
