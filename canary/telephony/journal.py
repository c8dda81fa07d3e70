"""The webhook journal: answer a webhook once it is on local disk, store it in batches.

Committing each webhook in its own transaction makes the commit most of a webhook's
cost. With ``webhook_journal`` on, the webhook view checks the request as before
(signature, parameters, account), appends the record to this process's journal file
(its payload encrypted as its event row will keep it; ``encode``) and answers. What
stores the records, with one multi-row INSERT and one COMMIT per batch
(``intake.store_many``), is set by ``webhook_journal_storer``:

- ``process`` (the default): one storer process per journal folder
  (``canary.telephony.storer``), started by the web processes themselves, reads
  every file as it grows. A web process only appends, and starts a fresh file every
  ``ROTATE_BYTES``; the storer deletes a file once its writer has let go of it.
- ``thread``: a drainer thread in each web process stores what that process queued,
  and empties its file once everything in it is stored.

Durability: a record reaches the file with one write(2) before the answer, so it
survives the service crashing or being killed, as a commit with SQLite's
``synchronous=NORMAL`` does. With ``webhook_journal_fsync`` it is also flushed to the
disk and survives a power loss. Either way Twilio keeps its call and message lists,
and the poll job backfills whatever a lost machine took with it.

Each file belongs to one process, which holds an exclusive ``flock`` on it while it
lives. A ``*.journal`` whose lock is free was left by a process that stopped (or, for
a storer process, moved on to a fresh file): any process adopts it (``recover``, or
the storer), stores its records (a record stored before is found as a duplicate, so
storing twice is harmless) and deletes it. A record that does not decrypt (torn by a
power loss) or no longer passes the checks stops that: the file is kept as
``*.unstored`` for an investigator and an error is logged. A record that decodes but
fails to store while the records beside it store is set aside in
``*-set-aside.unstored`` (``store_batch``), by the drainer, the storer and recovery
alike, so that it never holds back the records after it.
"""

from __future__ import annotations

import atexit
import contextlib
import datetime as dt
import fcntl
import hashlib
import json
import logging
import marshal
import os
import secrets
import struct
import sys
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from canary.context import Context
from canary.errors import CanaryError, ConfigError
from canary.security.crypto import KeyMaterialError
from canary.telephony import intake
from canary.telephony.inbound import BadWebhook, Inbound

log = logging.getLogger("canary.telephony.journal")

# Files this version writes. Versions before its record layouts (``encode``) named
# theirs ``*.journal``: a storer or a recovery of such a version would set aside every
# record it cannot decode, so files in these layouts get a name it does not look for,
# while this version reads both (``files``): a rolling restart loses nothing.
SUFFIX = ".journal3"
EARLIER_SUFFIX = ".journal"
UNSTORED = ".unstored"
_AAD = b"webhook-journal"
_LENGTH = struct.Struct(">I")
# Set in the length word of a record with a clear header (``encode``); clear in records
# written before headers (``decode(legacy=True)``). No record comes near 2 GiB.
_HEADED = 0x8000_0000
_HEADER_LENGTH = struct.Struct(">H")
_FRAME_START = struct.Struct(">IH")  # the length word, then the header's length
# Records wait up to this long for company before the drainer stores them: under load
# one COMMIT then carries dozens of webhooks.
DRAIN_DELAY_SECONDS = 0.1
# ...but no longer than this after the last one came: when the webhooks stop, the last
# are stored at once rather than a whole delay later.
QUIET_SECONDS = 0.01
BATCH_SIZE = 500
# How often a running process looks for journals that stopped processes left behind.
RECOVER_EVERY_SECONDS = 30.0
RETRY_MAX_SECONDS = 30.0
# The drainer holds the GIL through most of a batch. With Python's default 5 ms switch
# interval a request arriving meanwhile waits up to that long for its own process, and
# the CPU idles if nothing else is ready; a shorter interval hands it over sooner.
SWITCH_INTERVAL_SECONDS = 0.0005
# What stores journalled webhooks (``Journal``; setting ``webhook_journal_storer``).
PROCESS = "process"
THREAD = "thread"
STORERS = (PROCESS, THREAD)
# With a storer process, a web process starts a fresh file once its file is this big:
# the storer deletes a file only once its writer has let go of it.
ROTATE_BYTES = 4 * 1024 * 1024
# Ends the name of a file written for a storer process (before ``SUFFIX``): the storer
# reads such a file while its writer still appends, and no other (a thread-stored
# file is emptied by its own process, so only a stopped one's is the storer's to read).
TAILED = "-tailed"


# Errors that say the database cannot be reached now, whatever the records: the
# drainer keeps them and retries with backoff (``store_batch``).
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError, DisconnectionError, PoolTimeout)


class JournalUnavailable(CanaryError):
    """The journal file could not be written (disk full, permissions)."""

    http_status = 503


def encode(ctx: Context, acc: intake.Accepted, *, fields: bool = False) -> bytes:
    """One framed record: the length word (its top bit set: a record with a header),
    the header's length, a clear header, then what the header's tag says.

    The header names the record's layout, kind, SID and time received: no personal
    data. Two layouts:

    - ``ROW`` (``fields`` false; the drainer thread, and records set aside): the
      payload encrypted exactly as its event row keeps it (``intake.sealed``), made
      here once, so the drainer stores it as it is. Its AAD names the provider, kind
      and SID, so a record whose kind or SID was altered does not decrypt; the time is
      not covered (whoever can write the ``0700`` folder could change it, as they
      could delete the file).
    - ``CHECKED`` (``fields`` true; for a storer process, which gets the record only
      from the file): the checked fields (``Inbound`` without ``params``), ``via`` and
      the payload, marshalled and encrypted once, under an AAD that is the whole
      header. The storer need not parse the body and check its parameters again
      (a third of what it spent on a record), and the web process encrypts once; the
      storer encrypts the payload for its row.
    """
    item = acc.item
    if not fields:
        header = _header(_ROW, item.kind, item.sid, acc.received_at)
        return _frame(header, intake.sealed(ctx, acc))
    values = item[_FIELD_SLICE]
    if values[_AT] is not None:
        values = (*values[:_AT], values[_AT].isoformat(), *values[_AT + 1 :])
    # marshal: plain data only (no code runs when it is read), and the cheapest to
    # write and read; the blob is authenticated, so only this service wrote it.
    content = marshal.dumps((_LAYOUT, acc.via, acc.payload, *values), 4)
    header = _header(_CHECKED, item.kind, item.sid, acc.received_at)
    return _frame(header, ctx.keys.encrypt(content, _AAD_CHECKED + header))


def _header(layout: str, kind: str, sid: str, at: dt.datetime) -> bytes:
    # Kind and SID were checked (letters, digits, ":" and "-"): never the separator.
    return f"{layout}\0{kind}\0{sid}\0{at.isoformat()}".encode()


def _frame(header: bytes, sealed: bytes) -> bytes:
    size = _HEADER_LENGTH.size + len(header) + len(sealed)
    return _FRAME_START.pack(size | _HEADED, len(header)) + header + sealed


# Inbound's fields a CHECKED record carries, in this order (``encode``); kind and SID
# are in the header, ``params`` only in the payload. The layout's name goes with them:
# fields written by a version of the service with other fields are not read (the
# payload is, instead).
_FIELD_SLICE = slice(2, -1)  # Inbound starts with kind and SID, ends with params
_FIELDS = Inbound._fields[_FIELD_SLICE]
_AT = _FIELDS.index("occurred_at")
_LAYOUT = hashlib.sha256(("checked:via,payload," + ",".join(_FIELDS)).encode()).hexdigest()[:12]
# Header tags (``encode``). A header written before them is JSON and starts with "{".
_ROW = "R"
_CHECKED = "C"
_AAD_CHECKED = b"webhook-journal-checked\x00"


def _checked(kind: str, sid: str, at: dt.datetime, content: bytes) -> intake.Accepted:
    layout, via, payload, *values = marshal.loads(content)
    if layout != _LAYOUT or len(values) != len(_FIELDS):
        # Written by a version of the service with other fields: read the payload.
        return intake.accepted_again(kind, payload, None, at)
    if values[_AT] is not None:
        values[_AT] = dt.datetime.fromisoformat(values[_AT])
    return intake.Accepted(Inbound(kind, sid, *values), payload, via, at)


def decode(ctx: Context, blob: bytes, *, legacy: bool = False) -> intake.Accepted:
    """The record ``encode`` framed (``blob``: what follows the length word); with
    ``legacy``, one written before records had a header (the header and payload
    encrypted together under the journal's own AAD).

    The payload is decrypted whatever the layout, so a record whose row would not
    decrypt is not stored. Records written by earlier versions of the service (a
    JSON header) are read as they wrote them: a rolling restart leaves some.

    Raises KeyMaterialError (does not decrypt), ValueError or BadWebhook.
    """
    if legacy:
        header, _, payload = ctx.keys.decrypt(blob, _AAD).partition(b"\n")
        fields = json.loads(header)
        at = dt.datetime.fromisoformat(fields["at"])
        return intake.accepted_again(fields["kind"], payload, fields["via"], at)
    (size,) = _HEADER_LENGTH.unpack_from(blob)
    start = _HEADER_LENGTH.size
    header, rest = blob[start : start + size], blob[start + size :]
    if header[:1] == b"{":
        acc, sid = _decode_json_header(ctx, header, rest)
    else:
        layout, kind, sid, at = header.decode().split("\0")
        received_at = dt.datetime.fromisoformat(at)
        if layout == _CHECKED:
            content = ctx.keys.decrypt(rest, _AAD_CHECKED + header)
            acc = _checked(kind, sid, received_at, content)
        elif layout == _ROW:
            payload = ctx.keys.decrypt(rest, intake.payload_aad(kind, sid))
            # ``via`` is read from the payload, which the AAD covers.
            acc = intake.accepted_again(kind, payload, None, received_at)
            acc.payload_enc = rest
        else:
            raise ValueError("journal record of an unknown layout")
    if acc.item.sid != sid:
        raise ValueError("the record's SID is not its payload's")
    return acc


# The fields a record with a JSON header carried (``_decode_json_header``).
_JSON_HEADER_LAYOUT = hashlib.sha256(",".join(_FIELDS).encode()).hexdigest()[:12]


def _decode_json_header(ctx: Context, header: bytes, rest: bytes) -> tuple[intake.Accepted, str]:
    """A record as versions before header tags wrote it: a JSON header, then
    optionally the fields encrypted on their own, then the row's ciphertext."""
    fields = json.loads(header)
    kind, sid = fields["kind"], fields["sid"]
    at = dt.datetime.fromisoformat(fields["at"])
    start = 0
    sealed_fields = None
    if "fields" in fields:
        start = fields["fields"]  # the header is not authenticated: check its length
        if type(start) is not int or not 0 <= start <= len(rest):
            raise ValueError("journal header with a garbled fields length")
        sealed_fields = rest[:start]
    sealed = rest[start:]
    payload = ctx.keys.decrypt(sealed, intake.payload_aad(kind, sid))
    acc = None
    if sealed_fields is not None:
        blob = ctx.keys.decrypt(
            sealed_fields, b"journal-fields\x00" + intake.payload_aad(kind, sid)
        )
        try:
            layout, via, *values = marshal.loads(blob)
            if layout == _JSON_HEADER_LAYOUT and len(values) == len(_FIELDS):
                if values[_AT] is not None:
                    values[_AT] = dt.datetime.fromisoformat(values[_AT])
                media = _FIELDS.index("media_urls")  # a tuple, as that version made sure
                values[media] = tuple(values[media])
                acc = intake.Accepted(Inbound(kind, sid, *values), payload, via, at)
        except (ValueError, TypeError, EOFError):
            acc = None  # fields of another version of the service: read the payload
    if acc is None:
        acc = intake.accepted_again(kind, payload, None, at)
    acc.payload_enc = sealed
    return acc, sid


@dataclass
class Reading:
    """What a journal file holds from where reading began: the records before any
    damage, where each ends, and whether there was damage."""

    records: list[intake.Accepted]
    damaged: str = ""  # why reading stopped early ("" when the whole file was read)
    # Offset just past each record: a storer that stored the first k records goes on
    # from ends[k - 1].
    ends: list[int] = field(default_factory=list)
    start: int = 0

    @property
    def end(self) -> int:
        """Offset just past the last record read."""
        return self.ends[-1] if self.ends else self.start


def read(ctx: Context, fd: int, start: int = 0, *, live: bool = False) -> Reading:
    """The records in the file from offset ``start`` (a record boundary).

    ``live``: the file's writer may still be appending, so an incomplete record at
    the end is one being written, not damage; reading stops before it.
    """
    with open(fd, "rb", closefd=False) as file:
        file.seek(start)
        return parse(ctx, file.read(), start, live=live)


def parse(ctx: Context, data: bytes, start: int = 0, *, live: bool = False) -> Reading:
    """``read`` of bytes already read from a file (``data``, from offset ``start``)."""
    reading = Reading([], start=start)
    offset = 0
    while offset < len(data):
        if offset + _LENGTH.size > len(data):
            reading.damaged = "" if live else "truncated record length"
            return reading
        (word,) = _LENGTH.unpack_from(data, offset)
        size = word & ~_HEADED
        begin = offset + _LENGTH.size
        if begin + size > len(data):
            reading.damaged = "" if live else "truncated record"
            return reading
        try:
            acc = decode(ctx, data[begin : begin + size], legacy=not word & _HEADED)
        except (
            KeyMaterialError,
            ValueError,
            KeyError,
            TypeError,
            BadWebhook,
            struct.error,
            EOFError,  # fields cut short (marshal)
            RecursionError,  # JSON nested deeper than reading it back allows
            OverflowError,  # a number in a JSON header too large for an int
        ) as exc:
            reading.damaged = f"record does not decode ({type(exc).__name__})"
            return reading
        offset = begin + size
        reading.records.append(acc)
        reading.ends.append(start + offset)
    return reading


def store_reading(
    ctx: Context, reading: Reading, path: Path, stored_to: Callable[[int], None] | None = None
) -> None:
    """Store a reading's records in batches (``store_batch``); ``stored_to`` is told
    the offset up to which the file is stored after each batch."""
    records = reading.records
    for start in range(0, len(records), BATCH_SIZE):
        batch = records[start : start + BATCH_SIZE]
        store_batch(ctx, batch, path)
        if stored_to is not None:
            stored_to(reading.ends[start + len(batch) - 1])


def finish(path: Path, reading: Reading) -> None:
    """After the last record of a file whose writer stopped is stored: delete it, or,
    when reading it stopped at damage, keep the rest as ``*.unstored``."""
    if not reading.damaged:
        path.unlink()
        return
    kept = path.with_suffix(UNSTORED)
    os.rename(path, kept)
    log.error(
        "webhook journal %s: stored up to byte %d, then %s; the rest is kept in %s",
        path.name,
        reading.end,
        reading.damaged,
        kept.name,
    )


def store_batch(ctx: Context, batch: list[intake.Accepted], path: Path) -> None:
    """Store ``batch`` (from the journal at ``path``), or raise and keep all of it.

    A lost connection or a locked database is raised at once: the caller keeps the
    records and retries. After any other failure the records are stored again one at
    a time. If some then store and others do not, the fault is those records' own
    (input no check caught, or a bug they trigger): they are set aside
    (``_set_aside``) so that they cannot hold back the records after them. If none
    store, nothing tells one record's fault from the service's (a bug, a full disk),
    so the first error is raised and every record kept; a bad record is set aside
    once a later one is stored beside it. A record stored before a failure is found
    again as a duplicate (by its SID), so storing it twice is harmless.
    """
    try:
        intake.store_many(ctx, batch)
        return
    except DATABASE_UNAVAILABLE:
        raise
    except Exception as exc:
        if len(batch) == 1:
            raise
        first = exc
    failed: list[tuple[intake.Accepted, Exception]] = []
    for acc in batch:
        try:
            intake.store_many(ctx, [acc])
        except DATABASE_UNAVAILABLE:
            raise
        except Exception as exc:
            failed.append((acc, exc))
    if len(failed) == len(batch):
        raise first
    for acc, exc in failed:
        _set_aside(ctx, acc, exc, path)


def _set_aside(ctx: Context, acc: intake.Accepted, exc: Exception, path: Path) -> None:
    """Keep a record that cannot be stored in ``<journal>-set-aside.unstored``
    (framed and encrypted as in the journal; ``read`` decodes it) and log it by kind
    and SID (no personal data)."""
    kept = set_aside_frame(path, encode(ctx, acc))
    log.error(
        "webhook journal: %s %s cannot be stored (%s); set aside in %s",
        acc.item.kind,
        acc.item.sid,
        type(exc).__name__,
        kept.name,
    )


def open_locked(path: Path, flags: int) -> int | None:
    """Open ``path`` and take its exclusive lock, waiting for it; None if it does not
    exist (and ``flags`` do not create it).

    A replay (``canary.telephony.unstored``) holds the lock of an ``*.unstored`` file
    while it reads it and while it replaces or deletes it: a lock taken on a file no
    longer at ``path`` is let go and the path opened again, so nothing is appended to
    a file that is gone.
    """
    while True:
        try:
            fd = os.open(path, flags, 0o600)
        except FileNotFoundError:
            if flags & os.O_CREAT:
                raise  # the folder is gone
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            held = os.fstat(fd)
            try:
                found = os.stat(path)
            except FileNotFoundError:
                found = None
        except BaseException:
            os.close(fd)
            raise
        if found is not None and os.path.samestat(found, held):
            return fd
        os.close(fd)


def set_aside_frame(path: Path, frame: bytes) -> Path:
    """Append one framed record to ``<journal>-set-aside.unstored``, flushed to disk
    with the folder entry before it leaves the journal; returns that file's path. If
    that fails, the file is cut back to its last whole record and the error
    propagates: the record stays where it was."""
    kept = path.with_name(path.stem + "-set-aside" + UNSTORED)
    fd = open_locked(kept, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        size = os.fstat(fd).st_size
        created = size == 0  # new, or emptied: its folder entry is flushed below
        try:
            if os.write(fd, frame) != len(frame):
                raise OSError(f"short write to {kept.name}")
            os.fsync(fd)
        except BaseException:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, size)  # a torn frame would hide every later one
            raise
    finally:
        os.close(fd)
    if created:
        fsync_folder(kept.parent)
    return kept


def fsync_folder(folder: Path) -> None:
    """Flush a folder's entries to disk: a file created or renamed in it then
    survives a power loss."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def whole_frame(frame: bytes) -> bool:
    """Whether ``frame`` (from ``frame_at``) is a whole record: as long as its length
    word says, which a record torn by a power loss is not."""
    if len(frame) < _LENGTH.size:
        return False
    size = _LENGTH.unpack_from(frame)[0] & ~_HEADED
    # No record is empty: a zero length word is a zero-filled tail (a crash), not one.
    return size > 0 and len(frame) == _LENGTH.size + size


def frame_at(fd: int, offset: int) -> bytes:
    """The whole framed record at ``offset`` (a record boundary), length word included;
    shorter when the file ends first."""
    word = os.pread(fd, _LENGTH.size, offset)
    if len(word) < _LENGTH.size:
        return word
    size = _LENGTH.unpack(word)[0] & ~_HEADED
    # No more than the file holds: a garbled length word may claim up to 2 GiB.
    left = os.fstat(fd).st_size - offset - _LENGTH.size
    return word + os.pread(fd, max(0, min(size, left)), offset + _LENGTH.size)


# Every journal of this process: a child process forked from it starts afresh
# (``Journal._forked``), before any of its threads could touch the parent's state.
_journals: weakref.WeakSet = weakref.WeakSet()


# Journals whose lock the forking thread holds across a fork, so that no other thread
# is half-way through opening or moving to a file then.
_held_across_fork: list[Journal] = []
FORK_LOCK_TIMEOUT_SECONDS = 5.0


def _before_fork() -> None:
    for book in list(_journals):
        # Bounded: a fork never hangs on a journal (nothing forks while holding one).
        if book._lock.acquire(timeout=FORK_LOCK_TIMEOUT_SECONDS):
            _held_across_fork.append(book)


def _after_fork_in_parent() -> None:
    while _held_across_fork:
        _held_across_fork.pop()._lock.release()


def _after_fork_in_child() -> None:
    _held_across_fork.clear()  # the child's journals get fresh locks
    for book in list(_journals):
        book._forked()


os.register_at_fork(
    before=_before_fork,
    after_in_parent=_after_fork_in_parent,
    after_in_child=_after_fork_in_child,
)


class Journal:
    """One process's journal file, and what stores it.

    ``storer``: ``PROCESS`` (the default in production) leaves storing to one storer
    process per journal folder (``canary.telephony.storer``), started by whichever
    web process first finds none running; this process only appends, and starts a
    fresh file every ``ROTATE_BYTES``. ``THREAD`` stores in a thread of this process
    from an in-memory queue of what it appended.
    """

    def __init__(self, ctx: Context, directory: Path, *, fsync: bool = False, storer: str = THREAD):
        if storer not in STORERS:
            raise ConfigError(f"webhook_journal_storer must be one of {STORERS}, not {storer!r}")
        self.ctx = ctx
        self.directory = Path(directory)
        self.fsync = fsync
        self.storer = storer
        self._reset()
        _journals.add(self)

    def _reset(self) -> None:
        self._lock = threading.Lock()
        self._storing = threading.Lock()
        self._fd: int | None = None
        self.path: Path | None = None
        self._queue: list[intake.Accepted] = []
        self._size = 0
        self._appended = 0  # records appended by this process, ever
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._watch = None

    # -- the webhook side ----------------------------------------------------------
    def append(self, acc: intake.Accepted) -> None:
        """Write one accepted record to the file; the storer stores it shortly.

        Raises JournalUnavailable, leaving the file as it was, if it cannot be written.
        """
        queued = self.storer == THREAD
        frame = encode(self.ctx, acc, fields=not queued)
        with self._lock:
            self._open()
            try:
                written = os.write(self._fd, frame)
                if written != len(frame):
                    raise OSError(f"short write ({written} of {len(frame)} bytes)")
                if self.fsync:
                    os.fdatasync(self._fd)
            except OSError as exc:
                # A partial record would hide every later one from recovery.
                with contextlib.suppress(OSError):
                    os.ftruncate(self._fd, self._size)
                if not queued:
                    # A storer may have read what was cut back (a failed flush): the
                    # next record must not take its place in a file the storer reads
                    # by offset.
                    self._rotate()
                raise JournalUnavailable(
                    f"webhook journal not writable ({exc.strerror or exc})"
                ) from exc
            self._size += len(frame)
            self._appended += 1
            was_idle = queued and not self._queue
            if queued:
                self._queue.append(acc)
            elif self._size >= ROTATE_BYTES:
                self._rotate()
        if was_idle:  # otherwise the drainer is already due to store the queue
            self._wake.set()

    def _new_file(self, content: bytes = b"") -> tuple[int, Path]:
        """A fresh journal file of this process, locked, holding ``content`` (written
        and flushed to disk before the file gets its name, so that no storer or
        recovery ever reads part of it)."""
        temporary = None
        try:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            name = f"{os.getpid()}-{secrets.token_hex(6)}"
            if self.storer == PROCESS:
                name += TAILED
            # Locked before it gets the name recovery looks for, so no other process
            # can mistake it for a dead process's journal.
            temporary = self.directory / (name + ".new")
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                if content:
                    written = 0
                    while written < len(content):
                        written += os.write(fd, content[written:])
                    os.fsync(fd)
                path = self.directory / (name + SUFFIX)
                os.rename(temporary, path)
            except BaseException:
                os.close(fd)
                raise
        except OSError as exc:
            if temporary is not None:
                with contextlib.suppress(OSError):
                    temporary.unlink()
            raise JournalUnavailable(
                f"webhook journal not writable ({exc.strerror or exc})"
            ) from exc
        return fd, path

    def _forked(self) -> None:
        """In a child process just forked: the parent's file, queue, locks and threads
        are not this process's. Its copy of the file's descriptor is closed, so that
        the parent's lock on the file ends with the parent."""
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
        self._reset()

    def _open(self) -> None:
        """Create this process's file (under the lock) and start what stores it."""
        if self._fd is not None:
            return
        fd, path = self._new_file()
        self._fd, self.path, self._size = fd, path, 0
        atexit.register(self.close)
        if self.storer == PROCESS:
            from canary.telephony import storer

            self._watch = storer.Watch(self.ctx, self.directory, also=self.keep_file)
            self._watch.start()  # checks at once, then every second
            return
        if sys.getswitchinterval() > SWITCH_INTERVAL_SECONDS:
            sys.setswitchinterval(SWITCH_INTERVAL_SECONDS)
        self._thread = threading.Thread(target=self._run, name="webhook-journal", daemon=True)
        self._thread.start()

    def _rotate(self) -> None:
        """Go on in a fresh file (under the lock). Closing this one frees its lock: the
        storer then stores the rest of it and deletes it."""
        try:
            if self._carry_over_if_lost():
                return  # a fresh file already, and the lost one's records are in it
            fd, path = self._new_file()
        except JournalUnavailable as exc:
            log.warning("webhook journal: going on in %s (%s)", self.path.name, exc)
            return
        os.close(self._fd)
        self._fd, self.path, self._size = fd, path, 0

    def keep_file(self) -> None:
        """If this process's file is no longer at its path (someone deleted it, or
        its folder), go on in a fresh one holding everything the lost one held.

        A storer reads files by their path, so it would never see the lost file's
        records, and those webhooks were answered; nor would recovery find what a
        process storing in a thread still queues, were the process to die. The storer
        watch calls this every second, the drainer thread before each drain, and the
        process itself before it lets go of a file (moving on, or closing).
        """
        with self._lock:
            self._carry_over_if_lost()

    def _carry_over_or_log(self) -> None:
        """``_carry_over_if_lost`` where a failure must not stop the caller (the
        drainer, closing): it is logged, and the next check tries again."""
        try:
            self._carry_over_if_lost()
        except Exception as exc:
            log.error("webhook journal: check failed (%s)", type(exc).__name__)

    def _carry_over_if_lost(self) -> bool:
        """``keep_file`` under the lock; True if the records moved to a fresh file.

        The lost file's content is read back through this process's descriptor,
        which keeps the deleted file alive; records stored from it already are found
        as duplicates.
        """
        if self._fd is None or self.path is None:
            return False
        held = os.fstat(self._fd)
        try:
            if os.path.samestat(os.stat(self.path), held):
                return False
        except FileNotFoundError:
            pass
        # Linux keeps an open file's content reachable through /proc even once it has
        # no name (this descriptor is write-only).
        try:
            with open(f"/proc/self/fd/{self._fd}", "rb") as lost:
                content = lost.read()
        except OSError as exc:
            raise JournalUnavailable(
                f"webhook journal {self.path.name} was removed and cannot be read back "
                f"({exc.strerror or exc})"
            ) from exc
        fd, path = self._new_file(content)
        lost_name = self.path.name
        os.close(self._fd)
        self._fd, self.path, self._size = fd, path, len(content)
        log.error(
            "webhook journal %s was removed while in use; its %d bytes go on in %s",
            lost_name,
            len(content),
            path.name,
        )
        return True

    # -- the drainer -----------------------------------------------------------------
    def drain(self) -> int:
        """Store every record appended so far; returns how many left the queue.

        Raises the database's error, keeping the records, when they cannot be stored;
        a record that fails for another reason is set aside (``store_batch``).
        """
        stored = 0
        with self._storing:
            while True:
                with self._lock:
                    batch = self._queue[:BATCH_SIZE]
                if not batch:
                    break
                assert self.path is not None  # a queued record was written to it
                store_batch(self.ctx, batch, self.path)
                stored += len(batch)
                with self._lock:
                    del self._queue[: len(batch)]
                    if not self._queue and self._fd is not None:
                        # Everything written is stored: start the file afresh.
                        os.ftruncate(self._fd, 0)
                        self._size = 0
        return stored

    def _gather(self) -> None:
        """Wait for more records to store with the first: ``DRAIN_DELAY_SECONDS`` at
        most, and no more than ``QUIET_SECONDS`` after the last one came."""
        deadline = time.monotonic() + DRAIN_DELAY_SECONDS
        while (left := deadline - time.monotonic()) > 0:
            seen = self._appended
            if self._stop.wait(min(QUIET_SECONDS, left)) or self._appended == seen:
                return

    def _run(self) -> None:
        next_recovery = 0.0
        while not self._stop.is_set():
            self._wake.wait(timeout=RECOVER_EVERY_SECONDS)
            if self._stop.is_set():
                break
            self._gather()
            self._wake.clear()
            delay = 1.0
            while True:
                with self._lock:  # what is queued must stay in a file recovery finds
                    self._carry_over_or_log()
                try:
                    self.drain()
                    if time.monotonic() >= next_recovery:
                        recover(self.ctx, self.directory)
                        next_recovery = time.monotonic() + RECOVER_EVERY_SECONDS
                    break
                except Exception as exc:  # the database is down: keep the records, retry
                    log.warning(
                        "webhook journal: %d records not stored yet (%s); retrying in %.0f s",
                        len(self._queue),
                        type(exc).__name__,
                        delay,
                    )
                    if self._stop.wait(delay):
                        return
                    delay = min(delay * 2, RETRY_MAX_SECONDS)

    def close(self, timeout: float = 10.0) -> None:
        """Stop the drainer, store what is left and remove the file if it is empty.

        What cannot be stored now stays in the file for ``recover``.
        """
        if self._fd is None:
            return
        if self.storer == PROCESS:
            with self._lock:
                self._carry_over_or_log()  # else what it holds goes with it
                if self._size == 0:
                    self.path.unlink(missing_ok=True)
                os.close(self._fd)  # the storer stores the rest and deletes the file
                self._fd = None
            if self._watch is not None:
                self._watch.close(timeout)
            return
        self._stop.set()
        self._wake.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)
        try:
            self.drain()
        except Exception as exc:
            log.warning(
                "webhook journal: %d records left in %s for recovery (%s)",
                len(self._queue),
                self.path,
                type(exc).__name__,
            )
        with self._lock:
            if not self._queue:
                self.path.unlink(missing_ok=True)
            else:
                self._carry_over_or_log()  # recovery must find what is left
            os.close(self._fd)  # releases the lock: another process may now adopt it
            self._fd = None


def files(directory: Path) -> list[Path]:
    """The journal files in ``directory``: this version's and earlier versions'."""
    found = [*directory.glob("*" + SUFFIX), *directory.glob("*" + EARLIER_SUFFIX)]
    return sorted(found)


def recover(ctx: Context, directory: Path) -> int:
    """Store the records of journals whose process has stopped; returns how many.

    Safe to run from any number of processes at once: each file is adopted by whoever
    takes its lock first.
    """
    directory = Path(directory)
    if not directory.is_dir():
        return 0
    stored = 0
    for path in files(directory):
        try:
            fd = os.open(path, os.O_RDWR)
        except FileNotFoundError:
            continue  # adopted and removed by another process meanwhile
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # its process is alive and drains it itself
            if not path.exists():
                continue  # adopted and removed between our open and our lock
            reading = read(ctx, fd)
            try:
                store_reading(ctx, reading, path)
            except DATABASE_UNAVAILABLE:
                raise
            except Exception as exc:  # kept for the next try; the other files go on
                log.error(
                    "webhook journal %s: not adopted yet (%s); kept for the next try",
                    path.name,
                    type(exc).__name__,
                )
                continue
            stored += len(reading.records)
            finish(path, reading)
            if reading.records and not reading.damaged:
                log.warning(
                    "webhook journal %s: adopted %d records a stopped process left",
                    path.name,
                    len(reading.records),
                )
        finally:
            os.close(fd)
    return stored


def recover_here(ctx: Context) -> int:
    """``recover`` for this machine's journal folder (the scheduler's per-host job)."""
    return recover(ctx, ctx.settings.journal_path)
