"""Writing holders' copies of a scanned CSV/TSV: the input's bytes with canary rows added.

Real records are copied as bytes in large blocks, never re-serialised, so removing the
canary rows gives back the input exactly. The only real cells that change are a totals
row's counts and sums and, when the plan renumbers a serial column, the serial cells
after an inserted row (above it, for a column counting down): those are rewritten a
block at a time (one split per block, shared by every copy that needs it), not with a
Python call per row.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO

from canary.feeds.base import Progress, Target, WriteStats, check_canary_values, check_positions
from canary.feeds.csv_blocks import BLOCK, QUOTE, SerialCells, blocks, byte_safe
from canary.feeds.splice import atomic_outputs
from canary.forging.plan import InjectionPlan, SerialSpec

if TYPE_CHECKING:
    from canary.feeds.csvfmt import CsvFile


def plain_serial(spec: SerialSpec) -> bool:
    """Whether a serial column is written as a bare integer (1, 2, ... 10), no padding."""
    try:
        return spec.parse("0042") == 42 and all(
            spec.format(n) == str(n) for n in (0, 7, 42, 1234567)
        )
    except (ValueError, TypeError):
        return False


@dataclass
class _Copy:
    out: BinaryIO
    plan: InjectionPlan
    at: Counter  # canary rows per insert position
    serial: SerialSpec | None
    plain: bool
    shift: int = 0  # canary rows inserted so far

    @property
    def moved(self) -> int:
        """How far the serial cells of the rows being copied now move (0: not renumbered)."""
        if self.serial is None:
            return 0
        return self.serial.move(len(self.plan.rows), self.shift)


class _QuotedSerialCells:
    """Serial cells of a block that has quotes (or a delimiter unsafe to find in bytes)."""

    def __init__(self, scanned: CsvFile, block: bytes, column: int) -> None:
        enc, delim = scanned.encoding.name, scanned.dialect.delimiter
        from canary.feeds.csvfmt import cell_spans

        self.block = block
        self.cells: list[tuple[int, int, str]] = []
        for rec in scanned._records(0, 0, block):
            if scanned._blank(rec.row) or column >= len(rec.row):
                continue
            spans = cell_spans(rec.text, delim)
            if column < len(spans):
                s, e = spans[column]
                bs = rec.start + len(rec.text[:s].encode(enc))
                be = bs + len(rec.text[s:e].encode(enc))
                self.cells.append((bs, be, rec.row[column]))

    def render(
        self, shift: int, renumber: Callable[[str, int], bytes | None], plain: bool
    ) -> bytes:
        out, pos = [], 0
        for start, end, value in self.cells:
            new = renumber(value, shift)
            if new is None:
                continue
            if self.block[start : start + 1] == QUOTE:  # a quoted serial cell stays quoted
                new = QUOTE + new + QUOTE
            out += [self.block[pos:start], new]
            pos = end
        out.append(self.block[pos:])
        return b"".join(out)


class _Writer:
    def __init__(self, scanned: CsvFile, src: BinaryIO, copies: list[_Copy], progress) -> None:
        self.f = scanned
        self.src = src
        self.copies = copies
        self.progress = progress
        self.enc = scanned.encoding.name
        # Serial cells live in data rows only: not in the title, header or totals row.
        self.renumber_from = scanned.checkpoints[0][0]
        self.renumber_to = scanned.summary.start if scanned.summary else scanned.size
        delim = scanned.dialect.delimiter
        self.delim = delim.encode(self.enc) if byte_safe(self.enc, delim) else None

    def copy(self, start: int, end: int) -> None:
        """Copy input bytes ``[start, end)`` to every output, renumbering serials."""
        lo, hi = max(start, self.renumber_from), min(end, self.renumber_to)
        if lo >= hi or not any(c.moved for c in self.copies):
            self._plain(start, end)
            return
        self._plain(start, lo)
        self._renumbered(lo, hi)
        self._plain(hi, end)

    def _plain(self, start: int, end: int) -> None:
        self.src.seek(start)
        pos = start
        while pos < end:
            block = self.src.read(min(BLOCK, end - pos))
            if not block:
                raise EOFError("the input changed while it was being written")
            for c in self.copies:
                c.out.write(block)
            pos += len(block)
            self._report(pos)

    def _renumbered(self, start: int, end: int) -> None:
        done = start
        for offset, block in blocks(self.f.path, start, end):
            done = offset + len(block)
            parsed: dict[int, object] = {}
            for c in self.copies:
                moved = c.moved
                if not moved:
                    c.out.write(block)
                    continue
                column = c.serial.column
                if column not in parsed:
                    if self.delim is not None and QUOTE not in block:
                        parsed[column] = SerialCells(block, self.delim, column)
                    else:
                        parsed[column] = _QuotedSerialCells(self.f, block, column)
                cells = parsed[column]
                if isinstance(cells, SerialCells):
                    c.out.write(cells.render(moved, self._bytes_renumber(c.serial), c.plain))
                else:
                    c.out.write(cells.render(moved, self._text_renumber(c.serial), c.plain))
            self._report(offset + len(block))
        if done != end:
            raise EOFError("the input changed while it was being written")

    def _text_renumber(self, spec: SerialSpec) -> Callable[[str, int], bytes | None]:
        def renumber(value: str, shift: int) -> bytes | None:
            try:
                return spec.format(spec.parse(value) + shift).encode(self.enc)
            except (ValueError, TypeError):
                return None  # not a serial number (a note, a blank row): left as it is

        return renumber

    def _bytes_renumber(self, spec: SerialSpec) -> Callable[[bytes, int], bytes]:
        text = self._text_renumber(spec)

        def renumber(value: bytes, shift: int) -> bytes:
            new = text(value.decode(self.enc), shift)
            return value if new is None else new

        return renumber

    def _report(self, pos: int) -> None:
        if self.progress:
            self.progress(pos, self.f.size)


def write_copies(
    scanned: CsvFile, targets: list[Target], progress: Progress | None = None
) -> list[WriteStats]:
    """Write one output per target in a single read of the input."""
    for t in targets:
        check_positions(t.plan, scanned.total)
        check_canary_values(t.plan, scanned.width)
    positions = sorted({r.position for t in targets for r in t.plan.rows})
    offsets = scanned.offsets_of(positions)
    # (start, end, kind, position): inserts are empty ranges before a record.
    cuts = [(offsets[p], offsets[p], "insert", p) for p in positions]
    summary = scanned.summary
    if summary is not None:
        end = summary.start + len(summary.text.encode(scanned.encoding.name))
        cuts.append((summary.start, end, "summary", -1))
    cuts.sort(key=lambda c: (c[0], c[1]))
    with (
        atomic_outputs([t.path for t in targets]) as handles,
        open(scanned.path, "rb") as src,
    ):
        copies = [
            _Copy(
                out,
                t.plan,
                Counter(r.position for r in t.plan.rows),
                t.plan.serial if t.plan.rows else None,
                bool(t.plan.serial) and plain_serial(t.plan.serial),
            )
            for out, t in zip(handles, targets, strict=True)
        ]
        writer = _Writer(scanned, src, copies, progress)
        pos = 0
        for start, end, kind, position in cuts:
            writer.copy(pos, start)
            src.seek(start)
            original = src.read(end - start)
            for c in copies:
                if kind == "insert":
                    c.out.write(scanned._canary_bytes(c.plan, position))
                    c.shift += c.at[position]
                else:
                    new = scanned._summary_bytes(c.plan, original)
                    c.out.write(original if new is None else new)
            pos = end
        writer.copy(pos, scanned.size)
    return [WriteStats(t.path, scanned.total + len(t.plan.rows), len(t.plan.rows)) for t in targets]
