"""Format-independent layout logic: where the header is, which row is a summary, sampling.

Clerks put a title row ("2026年11月 新生儿名单") above the header and a totals row
("合计", "共 35 人") below the data. Both must survive injection, and the totals must
still add up afterwards, or the file itself tells a reader that rows were added.
"""

from __future__ import annotations

import random
import re
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from canary.feeds.errors import MissingColumn
from canary.feeds.table import TableSample

# Looked for in the first cells of the last row only.
SUMMARY_WORDS = ("合计", "总计", "小计", "共计", "合 计", "总数", "total", "sum", "count")
_INT = re.compile(r"(?<![\d.])\d+(?![\d.])")
_NUMBER = re.compile(r"^\s*-?\d+(?:\.\d+)?\s*$")

# About 1,500 rows: plenty to learn a feed's distributions and orderings from, and the
# forger's profiling cost grows with the sample, not with the file.
HEAD_ROWS = 500
TAIL_ROWS = 500
BLOCK_ROWS = 25
BLOCKS = 20
HEADER_SCAN = 20


def _filled(row: Sequence[str]) -> int:
    return sum(1 for c in row if str(c).strip())


def find_header(rows: Sequence[Sequence[str]], column_map: dict[str, str]) -> int:
    """Index of the header among the first rows of a table.

    With a column map, the header is the first row holding every mapped column name;
    if none does, :class:`MissingColumn` names the columns that are missing. Without
    one, it is the first row whose filled cells span the width of the rows below it
    (a title row fills one cell of a wider table).
    """
    wanted = [c for c in dict.fromkeys(column_map.values()) if c]
    if wanted:
        best, best_hits = None, -1
        for i, row in enumerate(rows[:HEADER_SCAN]):
            names = {str(c).strip() for c in row}
            hits = sum(1 for c in wanted if c in names)
            if hits == len(wanted):
                return i
            if hits > best_hits:
                best, best_hits = i, hits
        names = {str(c).strip() for c in rows[best]} if best is not None else set()
        missing = [c for c in wanted if c not in names]
        raise MissingColumn(
            "the feed's column mapping names column(s) the file does not have: "
            + ", ".join(repr(c) for c in missing)
            + "; fix the mapping (canary feed add ... --map ROLE=COLUMN) or the file's header"
        )
    scan = [list(r) for r in rows[:HEADER_SCAN]]
    for i, row in enumerate(scan):
        filled = _filled(row)
        if filled < 2:
            continue
        below = [_filled(r) for r in scan[i + 1 : i + 4] if _filled(r)]
        if not below or filled >= max(below):
            return i
    return 0


def is_summary(row: Sequence[str], width: int) -> bool:
    """A totals row: a summary word in one of its first cells, or a short, mostly empty row."""
    cells = [str(c).strip().lower() for c in row]
    head = [c for c in cells[:3] if c]
    return any(any(word in c for word in SUMMARY_WORDS) for c in head) and (
        _filled(row) <= max(2, width - 1) or any(c.startswith(SUMMARY_WORDS) for c in head)
    )


def numeric(text: str) -> bool:
    return bool(_NUMBER.match(text))


def format_like(old: str, value: float) -> str:
    """``value`` written with the decimals (and padding) of ``old``."""
    stripped = old.strip()
    decimals = len(stripped.split(".", 1)[1]) if "." in stripped else 0
    new = f"{value:.{decimals}f}"
    return old.replace(stripped, new, 1)


def update_counts(text: str, old_count: int, new_count: int) -> str:
    """Replace integers equal to the data-row count inside a cell ("共35人" → "共36人")."""
    return _INT.sub(lambda m: str(new_count) if int(m.group()) == old_count else m.group(), text)


@dataclass
class SummaryChange:
    column: int
    old: str
    new: str


def summary_changes(
    summary: Sequence[str],
    *,
    data_rows: int,
    added: int,
    column_sums: dict[int, float],
    canary_rows: Sequence[Sequence[str]],
) -> list[SummaryChange]:
    """The cells of a totals row to rewrite after ``added`` canaries were inserted.

    A cell (or a number in it) equal to the row count is a count; a numeric cell equal
    to its column's sum is a sum and gains the canaries' values.
    """
    changes = []
    for col, cell in enumerate(summary):
        cell = str(cell)
        if not cell.strip():
            continue
        is_sum = numeric(cell) and col in column_sums and abs(column_sums[col] - float(cell)) < 1e-6
        if is_sum and (float(cell) != data_rows or not _looks_count_column(col, canary_rows)):
            extra = sum(float(r[col]) for r in canary_rows if col < len(r) and numeric(str(r[col])))
            new = format_like(cell, float(cell) + extra)
            if new != cell:
                changes.append(SummaryChange(col, cell, new))
            continue
        new = update_counts(cell, data_rows, data_rows + added)
        if new != cell:
            changes.append(SummaryChange(col, cell, new))
    return changes


def _looks_count_column(col: int, canary_rows: Sequence[Sequence[str]]) -> bool:
    # A column of 1s sums to the row count: then "sum" and "count" agree anyway.
    return all(col < len(r) and str(r[col]).strip() == "1" for r in canary_rows)


def summary_numeric_columns(summary: Sequence[str], data_rows: int) -> list[int]:
    """Columns whose totals cell is a number other than the row count (candidate sums)."""
    return [
        i
        for i, c in enumerate(summary)
        if numeric(str(c)) and float(str(c)) != data_rows and str(c).strip()
    ]


class SampleBuilder:
    """Builds a :class:`TableSample` in bounded memory: head, tail and random blocks.

    Blocks are chosen by reservoir sampling (Vitter's algorithm R over blocks), so a
    1M-row file keeps the same few thousand rows in memory as a 10k-row one. The seed
    is fixed so the same input gives the same sample (and so the same plan).
    """

    def __init__(self, header: list[str], seed: int = 0) -> None:
        self.header = header
        self.count = 0
        self.head: list[list[str]] = []
        self.tail: deque[tuple[int, list[str]]] = deque(maxlen=TAIL_ROWS)
        self.blocks: list[tuple[int, list[list[str]]]] = []
        self._rng = random.Random(seed)
        self._current: list[list[str]] | None = None

    def add(self, row: list[str]) -> None:
        i = self.count
        self.count += 1
        if i < HEAD_ROWS:
            self.head.append(row)
            return
        self.tail.append((i, row))
        offset = i - HEAD_ROWS
        if offset % BLOCK_ROWS == 0:
            self._start_block(i, offset // BLOCK_ROWS)
        if self._current is not None:
            self._current.append(row)

    def add_batch(self, items: Sequence, to_row: Callable[[object], list[str]]) -> None:
        """Add consecutive rows at once; only the rows the sample keeps are converted.

        Keeps exactly what ``add`` would keep for the same rows (same head, tail and
        reservoir draws), at a cost per block of rows instead of per row.
        """
        n, i0 = len(items), self.count
        start = min(n, max(0, HEAD_ROWS - i0))
        self.head.extend(map(to_row, items[:start]))
        if start < n:
            t0 = max(start, n - TAIL_ROWS)
            self.tail.extend(zip(range(i0 + t0, i0 + n), map(to_row, items[t0:]), strict=True))
        i, end = i0 + start, i0 + n
        while i < end:
            offset = i - HEAD_ROWS
            if offset % BLOCK_ROWS == 0:
                self._start_block(i, offset // BLOCK_ROWS)
            stop = min(end, i + BLOCK_ROWS - offset % BLOCK_ROWS)
            if self._current is not None:
                self._current.extend(map(to_row, items[i - i0 : stop - i0]))
            i = stop
        self.count = end

    def _start_block(self, i: int, block_no: int) -> None:
        self._current = None
        if len(self.blocks) < BLOCKS:
            self._current = []
            self.blocks.append((i, self._current))
        else:
            slot = self._rng.randint(0, block_no)
            if slot < BLOCKS:
                self._current = []
                self.blocks[slot] = (i, self._current)

    def build(self, facts: dict | None = None) -> TableSample:
        rows: dict[int, list[str]] = dict(enumerate(self.head))
        for start, block in self.blocks:
            for k, row in enumerate(block):
                rows[start + k] = row
        for i, row in self.tail:
            rows[i] = row
        indices = sorted(rows)
        return TableSample(
            header=list(self.header),
            total_rows=self.count,
            rows=[rows[i] for i in indices],
            indices=indices,
            facts=dict(facts or {}),
        )
