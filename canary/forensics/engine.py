"""The fast path: one literal multi-pattern pass over large byte chunks.

A leaked file can be several gigabytes, and line-by-line parsing in Python runs at a
few MB/s. Instead the raw bytes go, in 8 MiB chunks, through a Hyperscan database of
literal anchors (phone digit groups with any separator, names in UTF-8, GB18030 and
Big5, romanised names case-insensitively, ID numbers) in *stream* mode, which carries
its state across chunk boundaries so an anchor split between two reads is still found.
Only the lines around the hits are cut out (with a bounded window, so a file without
line breaks cannot blow up memory) and handed to the confirmation step.

Memory stays at about three chunks whatever the file size.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import hyperscan

CHUNK_BYTES = 8 << 20
# The longest line context kept around a hit on each side. Real records are far
# shorter; this only bounds memory on files with no line breaks (minified dumps).
WINDOW = 4096


@dataclass(frozen=True)
class Pattern:
    literal: bytes
    caseless: bool


@dataclass
class CandidateLine:
    """A line that holds at least one anchor, and which anchors (pattern ids)."""

    offset: int  # byte offset of the line in the scanned stream
    raw: bytes
    pattern_ids: set[int]


class Matcher:
    """A compiled set of literal anchors."""

    def __init__(self, patterns: list[Pattern]):
        self.patterns = patterns
        self._db: hyperscan.Database | None = None
        if patterns:
            db = hyperscan.Database(mode=hyperscan.HS_MODE_STREAM)
            db.compile(
                expressions=[p.literal for p in patterns],
                ids=list(range(len(patterns))),
                elements=len(patterns),
                flags=[hyperscan.HS_FLAG_CASELESS if p.caseless else 0 for p in patterns],
                literal=True,
            )
            self._db = db

    def scan(
        self, chunks: Iterable[bytes], on_chunk: Callable[[bytes], None] | None = None
    ) -> Iterator[CandidateLine]:
        """Yield the candidate lines of a byte stream, in file order."""
        hits: list[tuple[int, int]] = []

        def on_match(pattern_id: int, _start: int, end: int, _flags: int, _ctx) -> None:
            hits.append((end, pattern_id))

        source = _at_least(iter(chunks), WINDOW)
        current = next(source, None)
        if current is None:
            return
        with contextlib.ExitStack() as stack:
            stream = None
            if self._db is not None:
                stream = stack.enter_context(self._db.stream(match_event_handler=on_match))
            yield from self._lines_of(source, current, stream, hits, on_chunk)

    @staticmethod
    def _lines_of(source, current, stream, hits, on_chunk) -> Iterator[CandidateLine]:
        tail = b""  # up to WINDOW bytes before ``current``
        start = 0  # offset of ``current`` in the stream
        seen_previous: set[int] = set()
        while current is not None:
            if on_chunk is not None:
                on_chunk(current)
            if stream is not None:
                stream.scan(current)
            following = next(source, None)
            if hits:
                window = tail + current + (following[:WINDOW] if following else b"")
                found = _lines(hits, window, start - len(tail))
                hits.clear()
                for line in found:
                    if line.offset not in seen_previous:
                        yield line
                seen_previous = {line.offset for line in found}
            tail = (tail + current[-WINDOW:])[-WINDOW:]
            start += len(current)
            current = following


def _at_least(chunks: Iterator[bytes], size: int) -> Iterator[bytes]:
    """Merge small chunks so each (but the last) can supply a full right-hand window."""
    pending = b""
    for chunk in chunks:
        pending = pending + chunk if pending else chunk
        if len(pending) >= size:
            yield pending
            pending = b""
    if pending:
        yield pending


def _lines(hits: list[tuple[int, int]], window: bytes, base: int) -> list[CandidateLine]:
    """Cut the line around each hit out of ``window`` (which starts at stream offset
    ``base``). Lines are located by byte offset: counting line breaks would cost as
    much again as the whole match."""
    by_start: dict[int, CandidateLine] = {}
    for end, pattern_id in hits:
        last = end - base - 1  # index of the hit's last byte in the window
        lo = max(0, last - WINDOW)
        line_start = window.rfind(b"\n", lo, last) + 1 or lo
        line = by_start.get(line_start)
        if line is None:
            line_end = window.find(b"\n", last, last + WINDOW)
            if line_end < 0:
                line_end = min(len(window), last + WINDOW)
            raw = window[line_start:line_end].rstrip(b"\r")
            line = CandidateLine(base + line_start, raw, set())
            by_start[line_start] = line
        line.pattern_ids.add(pattern_id)
    return sorted(by_start.values(), key=lambda c: c.offset)
