"""Watched folders: deliveries dropped into a feed's inbox come out in holders' outboxes.

A file is only read once it is complete: it must look the same (size and mtime) on two
consecutive scans, and is then claimed by an atomic rename into ``processing/`` so two
scheduler processes can never both take it. Each delivery is archived under its content
digest, so the same file dropped twice is injected once. A failure moves the file to
``failed/`` with a report beside it; the log names the feed and the problem, never the
file's contents.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
from pathlib import Path

from sqlalchemy import select

from canary.context import Context
from canary.errors import CanaryError
from canary.flow.models import Copy, Feed, Holder

log = logging.getLogger("canary.feeds.watch")

PROCESSING, ARCHIVE, FAILED = "processing", "archive", "failed"
STATE_FILE = ".canary-watch.json"
# Files still being written by common tools: browsers, Office lock files, rsync, our own temps.
PARTIAL_SUFFIXES = (".part", ".partial", ".tmp", ".crdownload", ".download", ".swp", ".filepart")
ACTOR = "system:watch"


def _is_candidate(path: Path) -> bool:
    name = path.name
    return (
        path.is_file()
        and not name.startswith((".", "~$"))
        and not name.lower().endswith(PARTIAL_SUFFIXES)
    )


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1024 * 1024), b""):
            h.update(block)
    return h.hexdigest()


def _load_state(inbox: Path) -> dict:
    try:
        return json.loads((inbox / STATE_FILE).read_text())
    except (OSError, ValueError):
        return {}


def _write_atomic(path: Path, text: str) -> None:
    """A reader sees the old file or the whole new one, never half of it."""
    tmp = path.with_name(f".{path.name}.{os.urandom(3).hex()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _save_state(inbox: Path, state: dict) -> None:
    _write_atomic(inbox / STATE_FILE, json.dumps(state))


def stable_files(inbox: Path) -> list[Path]:
    """Files whose size and mtime did not change since the previous scan."""
    previous = _load_state(inbox)
    current, ready = {}, []
    for path in sorted(inbox.iterdir()):
        if not _is_candidate(path):
            continue
        st = path.stat()
        current[path.name] = [st.st_size, st.st_mtime_ns]
        if previous.get(path.name) == current[path.name]:
            ready.append(path)
    _save_state(inbox, current)
    return ready


def _receiving_holders(session, feed: Feed) -> list[Holder]:
    return list(
        session.scalars(
            select(Holder).join(Copy, Copy.holder_id == Holder.id).where(Copy.feed_id == feed.id)
        )
    )


def _fail(inbox: Path, claimed: Path, feed_name: str, message: str) -> None:
    failed = inbox / FAILED
    failed.mkdir(exist_ok=True)
    target = failed / claimed.name
    if target.exists():
        target = failed / f"{claimed.stem}.{os.urandom(3).hex()}{claimed.suffix}"
    os.replace(claimed, target)
    _write_atomic(
        failed / f"{target.name}.error.txt",
        f"feed: {feed_name}\nfile: {target.name}\nerror: {message}\n",
    )


def process_file(ctx: Context, feed_name: str, inbox: Path, path: Path) -> bool:
    """Claim, inject and archive one delivery. Returns True if copies were written."""
    from canary.feeds.inject import inject

    processing = inbox / PROCESSING
    archive = inbox / ARCHIVE
    processing.mkdir(exist_ok=True)
    archive.mkdir(exist_ok=True)
    claimed = processing / path.name
    try:
        os.rename(path, claimed)  # atomic claim: the loser of a race gets FileNotFoundError
    except FileNotFoundError:
        return False
    try:
        digest = _digest(claimed)
        archived = archive / f"{digest[:16]}-{claimed.name}"
        if any(archive.glob(f"{digest[:16]}-*")):
            os.replace(claimed, archive / f"{digest[:16]}-dup-{os.urandom(3).hex()}-{claimed.name}")
            log.info("feed %s: a delivery identical to an archived one was skipped", feed_name)
            return False
        with ctx.db.session() as session:
            feed = session.scalar(select(Feed).where(Feed.name == feed_name))
            holders = [h for h in _receiving_holders(session, feed) if h.outbox_dir]
            targets = [(h.name, Path(h.outbox_dir) / claimed.name) for h in holders]
        if not targets:
            raise CanaryError(
                f"no holder of feed {feed_name!r} has an outbox folder; set one with "
                "canary holder add ... --outbox DIR"
            )
        inject(
            ctx,
            feed=feed_name,
            input_path=claimed,
            holders=[name for name, _ in targets],
            paths=[p for _, p in targets],
            actor=ACTOR,
        )
        os.replace(claimed, archived)
        log.info("feed %s: delivery injected for %d holder(s)", feed_name, len(targets))
        return True
    except CanaryError as exc:
        log.warning("feed %s: delivery refused: %s", feed_name, type(exc).__name__)
        _fail(inbox, claimed, feed_name, str(exc))
    except Exception as exc:  # keep the scheduler alive; the report says what happened
        log.error("feed %s: delivery failed with %s", feed_name, type(exc).__name__)
        with contextlib.suppress(OSError):
            _fail(inbox, claimed, feed_name, f"internal error ({type(exc).__name__}); see the log")
    return False


def scan_inboxes(ctx: Context) -> int:
    """Scheduler job: process complete new files in every feed's inbox. Returns the count."""
    with ctx.db.session() as session:
        feeds = [(f.name, f.inbox_dir) for f in session.scalars(select(Feed)) if f.inbox_dir]
    done = 0
    for feed_name, inbox_dir in feeds:
        inbox = Path(inbox_dir)
        if not inbox.is_dir():
            log.warning("feed %s: inbox folder does not exist", feed_name)
            continue
        for path in stable_files(inbox):
            done += process_file(ctx, feed_name, inbox, path)
    return done
