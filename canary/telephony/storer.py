"""The journal storer: one process per journal folder that stores what web processes journal.

With ``webhook_journal_storer = "process"`` a web process only appends each checked
webhook to its journal file (``canary.telephony.journal``) and answers. Storing it
(reading the record back, the pool match, the multi-row INSERT and COMMIT) happens
here, in a process of its own, so it never takes turns with requests at a web
process's interpreter lock, and one COMMIT carries every worker's webhooks. On the
development VM that cost about 40 µs less CPU per webhook than storing in a thread of
each web process (``docs/telephony.md``).

How it runs, with no extra service to deploy:

- A web process that has journalled anything checks, in a thread of its own, at once
  and then every second whether a storer holds ``storer.lock`` in the journal folder;
  if none does, it starts one (``Watch``). The settings go to it over a pipe, never
  on its command line or in its environment. If it cannot be started, that web
  process stores in a thread of its own.
- The storer holds the lock for as long as it runs. Any number of web processes may
  start one at once: the first to take the lock stays, the others leave.
- Once the folder's files have grown (or new ones come) and then stayed quiet for
  ``QUIET_SECONDS``, and at most ``POLL_SECONDS`` after it last looked, it reads the
  records added to each journal file since then and stores them: what all files
  gained in one batch (up to ``TOGETHER_MAX`` records), a file that gained more on
  its own in batches (``journal.store_reading``). A record still being written
  (incomplete at the end of a file its writer holds) waits for the next look.
- A file whose lock is free has lost its writer (it moved on to a fresh file, or
  stopped): the storer stores the rest and deletes it, as ``journal.recover`` does.
- It leaves ``IDLE_EXIT_SECONDS`` after the last journal file is gone, and on SIGTERM
  after storing what it has read.

Nothing is lost when it stops at any point: records stay in their files, and the next
storer (or ``journal.recover``) reads them again. A record stored before is found as a
duplicate by its SID, so storing it twice is harmless.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import functools
import hashlib
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from sqlalchemy.engine import make_url

from canary.context import Context
from canary.settings import Settings
from canary.telephony import intake, journal

log = logging.getLogger("canary.telephony.storer")

LOCK_NAME = "storer.lock"
# How long records wait for company at most: under load one COMMIT then takes every
# record the files gained meanwhile.
# It is also how often the folder is looked at when nothing changes.
POLL_SECONDS = 0.25
# ...but once the files stop growing for this long, what they hold is stored at once.
QUIET_SECONDS = journal.QUIET_SECONDS
# How often an idle folder is looked at for a change, at most.
IDLE_TICK_SECONDS = 0.1
# What all web processes' files gained goes in one COMMIT, up to this many records:
# with a thousand pool numbers a COMMIT of 1,000 rows cost 29 µs a row in one
# process, one of 250 (a file's quarter second at 1,000 webhooks a second) 34.5,
# as more of the rows share each index page the COMMIT writes.
TOGETHER_MAX = 2 * journal.BATCH_SIZE
IDLE_EXIT_SECONDS = 30.0
# How often a web process checks that a storer runs.
CHECK_SECONDS = 1.0
# A storer just started needs this long (imports, database) before it holds the lock.
START_GRACE_SECONDS = 20.0
# A web process gives up starting storers after this many that left without taking
# the lock, and stores in a thread of its own instead.
MAX_FAILED_STARTS = 3
_PACKAGE_ROOT = Path(__file__).resolve().parents[2]


# A journal folder's time and each read file's size, by name (``Storer._sizes``).
_Sizes = tuple[int, dict[str, int]]


class FolderLost(Exception):
    """The journal folder's lock file is not the one this storer holds any more."""


@dataclass
class _Tail:
    """Where the storer is in one journal file."""

    fd: int
    offset: int = 0
    # Backoff for a file that fails to store on its own (``poll``).
    delay: float = 1.0
    retry_at: float = 0.0


class _Gained(NamedTuple):
    """What one journal file gained since the storer last looked (``Storer._read``)."""

    path: Path
    tail: _Tail
    reading: journal.Reading
    free: bool  # its writer let go of it: stored to the end, then finished


def _lock_free(fd: int) -> bool:
    """Take the exclusive lock on ``fd`` if no one holds it; True if taken."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def running(directory: Path) -> bool:
    """Whether a storer holds the folder's lock."""
    try:
        fd = os.open(Path(directory) / LOCK_NAME, os.O_RDONLY)
    except (FileNotFoundError, NotADirectoryError):
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # and with it the shared lock, if it was taken
    return False


@functools.cache
def code_fingerprint() -> str:
    """Which code this process runs: the interpreter, and the path, size and change
    time of every module of the package. A storer that outlived a deployment runs
    other code than the web processes that replaced its starters (``Watch``)."""
    root = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256(sys.executable.encode())
    for path in sorted(root.rglob("*.py")):
        stat = path.stat()
        digest.update(f"{path}:{stat.st_size}:{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


@dataclass(frozen=True)
class Running:
    """What the running storer wrote in the lock file when it took it."""

    pid: int
    code: str = ""
    started: float = 0.0  # time.time()


def running_storer(directory: Path) -> Running | None:
    """The running storer, if one runs."""
    if not running(directory):
        return None
    try:
        pid, code, started = (Path(directory) / LOCK_NAME).read_text().split()
        return Running(int(pid), code, float(started))
    except (OSError, ValueError):
        return None


def pid_of(directory: Path) -> int | None:
    """The process id of the running storer, if one runs."""
    found = running_storer(directory)
    return found.pid if found else None


def stop_running(directory: Path, timeout: float = 30.0) -> bool:
    """Ask the running storer to store what it has read and leave (SIGTERM); True once
    none runs."""
    pid = pid_of(directory)
    if pid is not None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while running(directory):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


class Storer:
    """Stores the journal files of one folder (``poll``); ``run`` loops until stopped."""

    def __init__(self, ctx: Context, directory: Path):
        self.ctx = ctx
        self.directory = Path(directory)
        self._tails: dict[str, _Tail] = {}
        self._unreadable: set[str] = set()
        self._lock_fd: int | None = None

    def claim(self, attempts: int = 10) -> bool:
        """Take the folder's storer lock; False if another storer holds it."""
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(self.directory / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
        for attempt in range(attempts):
            if _lock_free(fd):
                break
            # A web process checking for a storer holds a shared lock for an instant.
            if attempt + 1 < attempts:
                time.sleep(0.05)
        else:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()} {code_fingerprint()} {time.time():.3f}\n".encode())
        self._lock_fd = fd
        return True

    def poll(self) -> int:
        """Store what every journal file gained since the last poll; finish and delete
        files whose writer let go. Returns how many records were stored.

        Raises the database's error (keeping every record not stored yet) when
        records cannot be stored; the next poll reads them again.
        """
        stored = 0
        names = set()
        if not self.owns_folder():
            raise FolderLost(f"{self.directory} is no longer the folder this storer locked")
        # Files are read one at a time (a storer back after an outage may find many),
        # and what small ones gained waits to be stored together.
        together: list[_Gained] = []
        waiting = 0
        for path in journal.files(self.directory):
            names.add(path.name)
            tail = self._tails.get(path.name)
            if tail is not None and time.monotonic() < tail.retry_at:
                continue
            try:
                found = self._read(path)
            except Exception as exc:
                self._back_off(path, exc)
                continue
            if found is None:
                continue
            size = len(found.reading.records)
            if size and waiting + size <= TOGETHER_MAX:
                together.append(found)
                waiting += size
            else:
                stored += self._store_file_or_back_off(found, False)
        done = self._store_together(together)
        for found in together:
            stored += self._store_file_or_back_off(found, done)
        for name in set(self._tails) - names:  # adopted and deleted by recover()
            os.close(self._tails.pop(name).fd)
        return stored

    def _back_off(self, path: Path, exc: Exception) -> None:
        """This file's fault (a record every retry fails on): the other files go on,
        and this one is retried with backoff."""
        tail = self._tails.get(path.name)
        if tail is not None:
            tail.delay = min(tail.delay * 2, journal.RETRY_MAX_SECONDS)
            tail.retry_at = time.monotonic() + tail.delay
        log.error(
            "webhook journal %s: not stored yet (%s); retrying it in %.0f s",
            path.name,
            type(exc).__name__,
            tail.delay if tail is not None else 0,
        )

    def owns_folder(self) -> bool:
        """Whether the folder's lock file is still the one this storer holds (not
        deleted, or replaced with the folder): otherwise another storer may serve the
        folder now, and two would store the same files, each into its own database."""
        if self._lock_fd is None:
            return True  # not claimed: polled by hand
        try:
            found = os.stat(self.directory / LOCK_NAME)
        except OSError:
            return False
        held = os.fstat(self._lock_fd)
        return os.path.samestat(found, held)

    def _read(self, path: Path) -> _Gained | None:
        """What ``path`` gained since the last poll; None if there is nothing to do."""
        tail = self._tails.get(path.name)
        if tail is None:
            try:
                tail = self._tails[path.name] = _Tail(os.open(path, os.O_RDONLY))
            except FileNotFoundError:
                return None
            except OSError as exc:  # not ours to read (another owner, a loop): say it once
                if path.name not in self._unreadable:
                    self._unreadable.add(path.name)
                    log.error("webhook journal %s: cannot be read (%s)", path.name, exc.strerror)
                return None
        free = _lock_free(tail.fd)
        if not free and (
            not path.stem.endswith(journal.TAILED) or os.fstat(tail.fd).st_size == tail.offset
        ):
            return None  # its writer is alive and stores it itself, or wrote nothing new
        if free and not path.exists():  # adopted and deleted between our glob and lock
            os.close(self._tails.pop(path.name).fd)
            return None
        reading = journal.read(self.ctx, tail.fd, tail.offset, live=not free)
        return _Gained(path, tail, reading, free)

    def _store_together(self, together: list[_Gained]) -> bool:
        """Store what several files gained (each web process writes its own) in one
        batch, one COMMIT; whether it was stored. If the batch fails for any reason
        but the database, each file is stored on its own instead, where a record that
        fails alone is set aside (``journal.store_batch``)."""
        if len(together) < 2:
            return False
        try:
            intake.store_many(self.ctx, [acc for f in together for acc in f.reading.records])
        except journal.DATABASE_UNAVAILABLE:
            raise
        except Exception:
            return False
        return True

    def _store_file_or_back_off(self, found: _Gained, stored: bool) -> int:
        try:
            return self._store_file(found, stored)
        except journal.DATABASE_UNAVAILABLE:
            raise  # every file would fail alike: the caller backs off
        except Exception as exc:
            self._back_off(found.path, exc)
            return 0

    def _store_file(self, found: _Gained, stored: bool) -> int:
        """Store what one file gained (unless ``stored`` already), setting aside a
        record that does not decode and going on past it; finish the file if its
        writer let go of it. Returns how many records were stored."""
        path, tail, reading, free = found

        def stored_to(offset: int) -> None:
            tail.offset = offset

        count = 0
        while True:
            if not stored:
                journal.store_reading(self.ctx, reading, path, stored_to)
            stored = False
            count += len(reading.records)
            tail.offset = reading.end
            if not reading.damaged or not self._set_aside_undecodable(path, tail, reading):
                break
            reading = journal.read(self.ctx, tail.fd, tail.offset, live=not free)
        tail.delay, tail.retry_at = 1.0, 0.0
        if free:
            journal.finish(path, reading)
            os.close(self._tails.pop(path.name).fd)
        return count

    def _set_aside_undecodable(self, path: Path, tail: _Tail, reading: journal.Reading) -> bool:
        """A whole record that does not decode: keep it, as written, in the set-aside
        file, and go on past it, so that the records after it are stored. False when
        the damage is not a whole record (a file cut short by a power loss): the file
        is then kept as ``*.unstored`` once its writer has let go of it."""
        frame = journal.frame_at(tail.fd, tail.offset)
        if not journal.whole_frame(frame):
            return False
        kept = journal.set_aside_frame(path, frame)
        tail.offset += len(frame)
        log.error(
            "webhook journal %s: %s; set aside in %s",
            path.name,
            reading.damaged,
            kept.name,
        )
        return True

    def run(self, stop: threading.Event, *, exit_when_idle: bool = True) -> None:
        """Poll until ``stop`` is set (or, with ``exit_when_idle``, until the folder has
        held no journal file for ``IDLE_EXIT_SECONDS``), then store what is left."""
        idle_since = time.monotonic()
        delay = 1.0
        while not stop.is_set():
            seen = self._sizes()
            try:
                self.poll()
                delay = 1.0
            except FolderLost as exc:
                log.info("journal storer: leaving: %s", exc)
                self.close()
                return
            except Exception as exc:  # the database is down: the records stay in their files
                log.warning(
                    "journal storer: records not stored yet (%s); retrying in %.0f s",
                    type(exc).__name__,
                    delay,
                )
                stop.wait(delay)
                delay = min(delay * 2, journal.RETRY_MAX_SECONDS)
                continue
            if self._tails:
                idle_since = time.monotonic()
            elif exit_when_idle and time.monotonic() - idle_since >= IDLE_EXIT_SECONDS:
                break
            self._wait_for_records(stop, seen)
        try:
            self.poll()
        except Exception as exc:
            log.warning(
                "journal storer: leaving records for the next storer (%s)", type(exc).__name__
            )
        self.close()

    def _wait_for_records(self, stop: threading.Event, seen: _Sizes) -> None:
        """Wait until the folder has changed since ``seen`` (taken before the last
        poll) and then stayed as it is for ``QUIET_SECONDS``; or ``POLL_SECONDS`` at
        most, or until ``stop`` is set."""
        deadline = time.monotonic() + POLL_SECONDS
        last = seen
        tick = QUIET_SECONDS
        while (left := deadline - time.monotonic()) > 0:
            if stop.wait(min(tick, left)):
                return
            now = self._sizes()
            if now == last and now != seen:
                return
            # Looking often only while something comes: an idle folder is looked at
            # a few times a second, not a hundred.
            tick = QUIET_SECONDS if now != last else min(tick * 2, IDLE_TICK_SECONDS)
            last = now

    def _sizes(self) -> _Sizes:
        """The folder's time (it changes when a writer starts a fresh file) and the
        size of each file being read."""
        try:
            folder = os.stat(self.directory).st_mtime_ns
        except OSError:
            folder = -1  # gone: the next poll says so
        return folder, {name: os.fstat(tail.fd).st_size for name, tail in self._tails.items()}

    def close(self) -> None:
        for tail in self._tails.values():
            os.close(tail.fd)
        self._tails.clear()
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # frees the lock for the next storer
            self._lock_fd = None


def absolute(settings: Settings) -> Settings:
    """``settings`` with every path resolved as this process resolves it (the home
    folder, the key file, a SQLite database), so that a process started elsewhere
    serves the same journal folder into the same database."""
    database = make_url(settings.resolved_database_url)
    if database.get_backend_name() == "sqlite" and database.database not in (None, "", ":memory:"):
        database = database.set(database=str(Path(database.database).resolve()))
    changes = {
        "home": str(settings.home_path),
        "database_url": database.render_as_string(hide_password=False),
    }
    if settings.key_file:
        changes["key_file"] = str(settings.key_path)
    return settings.replace(**changes)


def spawn(ctx: Context) -> subprocess.Popen:
    """Start a storer process for ``ctx``'s settings (given over its stdin)."""
    settings = json.dumps(dataclasses.asdict(absolute(ctx.settings))).encode()
    env = dict(os.environ)
    # After what is there: only a source checkout needs it, and it must not shadow
    # the standard library.
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (env.get("PYTHONPATH", ""), str(_PACKAGE_ROOT)) if p
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "canary.telephony.storer"],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        env=env,
        cwd=os.getcwd(),
        # Not in the web server's process group: a Ctrl-C or a signal to the group
        # would otherwise stop it in the middle of a batch.
        start_new_session=True,
    )
    try:
        process.stdin.write(settings)
        process.stdin.close()
    except OSError:
        process.kill()
        process.wait()
        raise
    return process


class Watch:
    """A web process's side: makes sure a storer runs for its journal folder."""

    def __init__(self, ctx: Context, directory: Path, also: Callable[[], None] | None = None):
        self.ctx = ctx
        self.directory = Path(directory)
        # Checked with the storer every CHECK_SECONDS (the journal's ``keep_file``).
        self._also = also
        self._born = time.time()
        self._process: subprocess.Popen | None = None
        self._started_at = 0.0
        self._failed_starts = 0
        self.fallback: threading.Thread | None = None
        self._fallback_stop = threading.Event()
        self._watcher: threading.Thread | None = None
        self._stop = threading.Event()

    def start(self) -> None:
        """Check every ``CHECK_SECONDS`` in a thread of its own, so that a storer that
        died (or left idle just as a record came) is replaced even if no webhook
        comes after it; the thread sleeps otherwise."""
        self._watcher = threading.Thread(target=self._watch, name="storer-watch", daemon=True)
        self._watcher.start()

    def _watch(self) -> None:
        while not self._stop.is_set():  # the first check at once: a record is waiting
            for check in (self._also, self.check):  # the file first: the storer reads it
                if check is None:
                    continue
                try:
                    check()
                except Exception as exc:  # never let the watch die: log and try again
                    log.error("webhook journal: check failed (%s)", type(exc).__name__)
            self._stop.wait(CHECK_SECONDS)

    def check(self) -> None:
        """Start a storer if none runs (the watch thread's one task)."""
        if self._process is not None:
            self._process.poll()  # reaps one that left (lost the start race, idle)
        found = running_storer(self.directory)
        if found is None:
            self._start(time.monotonic())
            return
        self._failed_starts = 0
        if found.code != code_fingerprint() and found.started < self._born:
            # Started before this process by other code (a deployment since): ask it
            # to store what it has read and leave; the next check starts ours. A
            # storer of other code started after this process is left alone, so the
            # old and new processes of a rolling restart take no turns.
            log.info("webhook journal: storer %d runs other code; replacing it", found.pid)
            with contextlib.suppress(ProcessLookupError):
                os.kill(found.pid, signal.SIGTERM)

    def _start(self, now: float) -> None:
        if self.fallback is not None and self.fallback.is_alive():
            return
        process = self._process
        if process is not None:
            if process.poll() is None and now - self._started_at < START_GRACE_SECONDS:
                return  # still starting
            if process.poll() is not None and process.returncode != 0:
                self._failed_starts += 1
        if self._failed_starts >= MAX_FAILED_STARTS:
            self._store_here("storer processes keep failing to start")
            return
        try:
            self._process = spawn(self.ctx)
        except (OSError, TypeError, ValueError) as exc:
            self._store_here(f"cannot start a storer process ({type(exc).__name__})")
            return
        self._started_at = now
        log.info("webhook journal: started storer process %d", self._process.pid)

    def _store_here(self, why: str) -> None:
        """Be the folder's storer in a thread of this process."""
        storer = Storer(self.ctx, self.directory)
        if not storer.claim(attempts=1):
            return
        log.error("webhook journal: %s; storing in this process", why)
        self.fallback = threading.Thread(
            target=storer.run,
            args=(self._fallback_stop,),
            kwargs={"exit_when_idle": False},
            name="journal-storer",
            daemon=True,
        )
        self.fallback.start()

    def close(self, timeout: float = 10.0) -> None:
        """Stop watching, and storing in this process if it came to that (after a
        last poll)."""
        self._stop.set()
        if self._watcher is not None and self._watcher is not threading.current_thread():
            self._watcher.join(timeout)
        if self.fallback is not None:
            self._fallback_stop.set()
            self.fallback.join(timeout)


def main() -> int:
    """The storer process: settings as JSON on stdin."""
    import canary.models  # noqa: F401  (every mapper, as in the web process)
    from canary.context import open_context

    settings = Settings(**json.loads(sys.stdin.buffer.read()))
    logging.basicConfig(
        level=settings.log_level,
        format="%(asctime)s %(levelname)s [storer %(process)d] %(name)s: %(message)s",
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    ctx = open_context(settings, upgrade=False)
    try:
        storer = Storer(ctx, settings.journal_path)
        if not storer.claim():
            return 0  # another storer runs
        log.info("journal storer: storing %s", settings.journal_path)
        storer.run(stop)
    finally:
        with contextlib.suppress(Exception):
            ctx.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
