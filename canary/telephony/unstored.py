"""Webhook records the journal could not store, kept in ``*.unstored`` files.

Two kinds of file end in ``.unstored`` in the journal folder
(``canary.telephony.journal``):

- ``<journal>-set-aside.unstored``: records that failed to store on their own (input
  no check caught, or a bug they trigger), each appended as the journal framed it;
- ``<journal>.unstored``: a journal file whose adoption stopped at a record that does
  not decode (torn by a power loss, or written under another key). The records
  before it were stored; everything from it on is kept as written.

Once the cause is fixed (a newer version, the right key), ``replay`` stores what
stores now, answers records stored before as duplicates (by SID), and leaves in the
file only what still fails and any tail that does not decode, as written. A file
left with nothing is deleted. Each file is replaced atomically, under the lock its
writers take (``journal.set_aside_frame``), and keeps what was set aside while the
replay stored the records.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from canary.context import Context
from canary.feeds.splice import atomic_outputs
from canary.telephony import intake, journal

log = logging.getLogger("canary.telephony.unstored")


@dataclass(frozen=True)
class Replayed:
    """What replaying one file did: counts only, never a record's content."""

    file: str
    records: int  # whole records read
    stored: int  # stored now
    duplicates: int  # stored before
    still_failing: int  # kept in the file
    undecodable_bytes: int  # the tail from the first record that does not decode
    kept: bool  # the file is still there

    def as_dict(self) -> dict:
        return asdict(self)


def files(directory: Path) -> list[Path]:
    """The ``*.unstored`` files in a journal folder, oldest name first."""
    directory = Path(directory)
    return sorted(directory.glob("*" + journal.UNSTORED)) if directory.is_dir() else []


def replay(ctx: Context, path: Path) -> Replayed | None:
    """Store what ``path`` holds (see the module doc); None if the file is gone.

    The file's lock is held only to read it and, afterwards, to replace it: a process
    setting a record aside meanwhile waits for neither the database nor this
    command, and what it appends is kept. Replays of one folder take turns.

    Raises the database's error when it cannot be reached, leaving the file as it
    was (records stored before the error are duplicates at the next replay).
    """
    path = Path(path)
    with _one_replay_at_a_time(path.parent):
        fd = journal.open_locked(path, os.O_RDONLY)
        if fd is None:
            return None
        try:
            read_from = os.fstat(fd)
            data = _read_all(fd)
            reading = journal.parse(ctx, data)
        finally:
            os.close(fd)
        failing, duplicates = _store(ctx, reading.records)
        starts = [0, *reading.ends[:-1]]
        kept = b"".join(data[starts[i] : reading.ends[i]] for i in failing)
        tail = data[reading.end : len(data)]
        fd = journal.open_locked(path, os.O_RDWR | os.O_CREAT)
        try:
            now = os.fstat(fd)
            appended = _read_all(fd)
            if os.path.samestat(now, read_from):
                appended = appended[len(data) :]  # set aside while the records were stored
            content = kept + tail + appended
            if content:
                _replace(path, content)
            else:
                path.unlink()
        finally:
            os.close(fd)  # after the file was replaced: a waiting writer opens the new one
    result = Replayed(
        file=path.name,
        records=len(reading.records),
        stored=len(reading.records) - len(failing) - duplicates,
        duplicates=duplicates,
        still_failing=len(failing),
        undecodable_bytes=len(tail),
        kept=bool(content),
    )
    log.warning(
        "webhook journal %s replayed: %d stored, %d stored before, %d still failing, "
        "%d bytes that do not decode",
        path.name,
        result.stored,
        result.duplicates,
        result.still_failing,
        result.undecodable_bytes,
    )
    return result


@contextlib.contextmanager
def _one_replay_at_a_time(folder: Path) -> Iterator[None]:
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _read_all(fd: int) -> bytes:
    chunks, offset = [], 0
    while chunk := os.pread(fd, 1 << 20, offset):
        chunks.append(chunk)
        offset += len(chunk)
    return b"".join(chunks)


def _store(ctx: Context, records: list[intake.Accepted]) -> tuple[list[int], int]:
    """Store ``records`` in batches, one at a time where a batch fails. Returns the
    indexes of those that fail alone, and how many were stored before."""
    failing: list[int] = []
    duplicates = 0
    for start in range(0, len(records), journal.BATCH_SIZE):
        batch = records[start : start + journal.BATCH_SIZE]
        try:
            results = intake.store_many(ctx, batch)
        except journal.DATABASE_UNAVAILABLE:
            raise
        except Exception:
            results = []
            for offset, acc in enumerate(batch, start):
                try:
                    results.extend(intake.store_many(ctx, [acc]))
                except journal.DATABASE_UNAVAILABLE:
                    raise
                except Exception as exc:
                    failing.append(offset)
                    log.error(
                        "webhook journal: %s %s still cannot be stored (%s)",
                        acc.item.kind,
                        acc.item.sid,
                        type(exc).__name__,
                    )
        duplicates += sum(result.duplicate for result in results)
    return failing, duplicates


def _replace(path: Path, content: bytes) -> None:
    """Make ``content`` the file at ``path``: written whole beside it, then renamed
    over it, so a crash leaves either the old file or the new one."""
    with atomic_outputs([path]) as (file,):
        file.write(content)
    journal.fsync_folder(path.parent)
