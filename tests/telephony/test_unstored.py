"""Records kept in ``*.unstored`` files are replayed once their cause is fixed."""

from __future__ import annotations

import json
import os
import threading

from canary.security import audit
from canary.telephony import intake, journal, unstored
from tests.telephony import test_journal
from tests.telephony.conftest import events
from tests.telephony.test_journal import (
    CALLER,
    LOCAL,
    TWILIO,
    accepted_call,
    store_many_failing_on,
)

hand_drained = test_journal.hand_drained  # the fixture: a journal drained by hand


def _set_aside(context, book, monkeypatch, good, bad):
    """Drain ``book`` while the records in ``bad`` cannot be stored: they are set aside."""
    for acc in [*good, *bad]:
        book.append(acc)
    real = intake.store_many
    failing = {acc.item.sid for acc in bad}

    def store_many(ctx, batch):
        if any(acc.item.sid in failing for acc in batch):
            raise ValueError("no check caught this")
        return real(ctx, batch)

    monkeypatch.setattr(intake, "store_many", store_many)
    book.drain()
    monkeypatch.setattr(intake, "store_many", real)
    [kept] = unstored.files(context.settings.journal_path)
    return kept


def _frames(path) -> list[bytes]:
    data = path.read_bytes()
    frames, offset = [], 0
    while offset < len(data):
        size = int.from_bytes(data[offset : offset + 4], "big") & 0x7FFFFFFF
        frames.append(data[offset : offset + 4 + size])
        offset += 4 + size
    return frames


def test_set_aside_records_are_stored_by_a_replay_and_the_file_goes(
    context, hand_drained, monkeypatch, cli
):
    good = [accepted_call(context) for _ in range(2)]
    bad = [accepted_call(context) for _ in range(2)]
    kept = _set_aside(context, hand_drained, monkeypatch, good, bad)
    assert len(events(context, kind="call")) == 2
    result = cli("journal", "replay", "--json")
    assert result.exit_code == 0, result.output
    [replayed] = json.loads(result.output)["files"]
    assert replayed == {
        "file": kept.name,
        "records": 2,
        "stored": 2,
        "duplicates": 0,
        "still_failing": 0,
        "undecodable_bytes": 0,
        "kept": False,
    }
    assert {e.provider_sid for e in events(context, kind="call")} == {
        acc.item.sid for acc in [*good, *bad]
    }
    assert not kept.exists() and unstored.files(context.settings.journal_path) == []
    with context.db.session() as session:
        [entry] = audit.entries(session, "journal.replay")
        assert entry.subject_id == kept.name and entry.detail["stored"] == 2
    assert "nothing to replay" in cli("journal", "replay").output


def test_what_still_fails_stays_in_the_file_as_written(context, hand_drained, monkeypatch):
    good = [accepted_call(context)]
    bad = [accepted_call(context) for _ in range(3)]
    kept = _set_aside(context, hand_drained, monkeypatch, good, bad)
    frames = _frames(kept)
    assert len(frames) == 3
    # The second is stored by hand meanwhile; the third still fails.
    intake.store(context, bad[1])
    monkeypatch.setattr(intake, "store_many", store_many_failing_on(bad[2]))
    result = unstored.replay(context, kept)
    assert (result.stored, result.duplicates, result.still_failing, result.kept) == (1, 1, 1, True)
    assert _frames(kept) == [frames[2]]  # byte for byte
    assert oct(kept.stat().st_mode & 0o777) == "0o600"
    monkeypatch.undo()
    again = unstored.replay(context, kept)
    assert (again.stored, again.still_failing, again.kept) == (1, 0, False)
    assert len(events(context, kind="call")) == 4 and not kept.exists()


def test_a_tail_that_does_not_decode_is_kept_and_what_came_before_is_stored(context, add_number):
    add_number(LOCAL, forwards_to=TWILIO)
    folder = context.settings.journal_path
    folder.mkdir(parents=True, exist_ok=True)
    records = [accepted_call(context) for _ in range(2)]
    intake.store(context, records[0])  # adopted before the damage stopped recovery
    torn = journal.encode(context, accepted_call(context))[:-7]
    path = folder / ("worker" + journal.UNSTORED)
    path.write_bytes(b"".join(journal.encode(context, acc) for acc in records) + torn)
    result = unstored.replay(context, path)
    assert (result.records, result.stored, result.duplicates) == (2, 1, 1)
    assert (result.undecodable_bytes, result.kept) == (len(torn), True)
    assert path.read_bytes() == torn
    assert len(events(context, kind="call")) == 2


def test_a_record_set_aside_during_a_replay_lands_in_the_file_left_after_it(context, add_number):
    add_number(LOCAL, forwards_to=TWILIO)
    folder = context.settings.journal_path
    folder.mkdir(parents=True, exist_ok=True)
    journal_file = folder / ("worker" + journal.SUFFIX)
    kept = journal.set_aside_frame(journal_file, journal.encode(context, accepted_call(context)))
    late = journal.encode(context, accepted_call(context))
    # A replay holds the file's lock while it stores, then replaces the file.
    fd = journal.open_locked(kept, os.O_RDWR)
    writer = threading.Thread(target=journal.set_aside_frame, args=(journal_file, late))
    writer.start()
    writer.join(0.3)
    assert writer.is_alive()  # waits for the replay's lock
    left = b"what the replay leaves"
    replacement = kept.with_name("replacement")
    replacement.write_bytes(left)
    os.replace(replacement, kept)
    os.close(fd)
    writer.join(10)
    assert kept.read_bytes() == left + late


def test_journal_list_names_the_files(context, hand_drained, monkeypatch, cli):
    bad = [accepted_call(context)]
    kept = _set_aside(context, hand_drained, monkeypatch, [accepted_call(context)], bad)
    result = cli("journal", "list", "--json")
    assert result.exit_code == 0, result.output
    listed = json.loads(result.output)
    assert listed["files"] == [{"file": kept.name, "bytes": kept.stat().st_size}]
    assert CALLER not in cli("journal", "list").output


def test_records_set_aside_while_a_replay_stores_are_kept(context, hand_drained, monkeypatch):
    good = [accepted_call(context)]
    bad = [accepted_call(context) for _ in range(2)]
    kept = _set_aside(context, hand_drained, monkeypatch, good, bad)
    journal_file = kept.with_name(kept.name.replace("-set-aside" + journal.UNSTORED, ""))
    late = accepted_call(context)
    real = intake.store_many
    calls = []

    def store_many(ctx, batch):
        if not calls:  # the storer sets a record aside while the replay stores
            calls.append(1)
            journal.set_aside_frame(journal_file, journal.encode(ctx, late))
        if any(acc.item.sid == bad[1].item.sid for acc in batch):
            raise ValueError("still no check catches this")
        return real(ctx, batch)

    monkeypatch.setattr(intake, "store_many", store_many)
    result = unstored.replay(context, kept)
    assert (result.stored, result.still_failing, result.kept) == (1, 1, True)
    monkeypatch.undo()
    frames = _frames(kept)
    assert len(frames) == 2  # the one still failing, then the one set aside meanwhile
    again = unstored.replay(context, kept)
    assert (again.stored, again.kept) == (2, False)
    stored = {e.provider_sid for e in events(context, kind="call")}
    assert stored == {a.item.sid for a in [*good, *bad, late]}


def test_a_live_journal_file_is_not_replayed(context, cli, tmp_path):
    live = tmp_path / ("worker-tailed" + journal.SUFFIX)
    live.write_bytes(b"")
    result = cli("journal", "replay", str(live))
    assert result.exit_code == 2 and "not a *.unstored file" in result.output
