"""The order of a file: which columns it is sorted by, and its serial-number column.

An insider's cheapest test is "which row breaks the order?" (a 3 kg baby among 4 kg
ones in a weight-sorted list, row 17 between 16 and 18 missing). Sort keys are learnt
from neighbouring rows of the sample only (the reader keeps consecutive blocks), and
compared the way spreadsheets compare them: dates as dates, numbers as numbers, Chinese
names by pinyin.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from canary.forging import names
from canary.forging.values import parse_date, parse_number

_RUNS = re.compile(r"\d+|\D+")
_SERIAL = re.compile(r"^(\D*?)(\d+)(\D*)$")
# Share of a sorted column's strict steps allowed to go against its order (hand edits).
SORT_SLACK = 0.03
SORTABLE = ("date", "number", "name", "phone", "category", "code", "id", "text")


@dataclass(frozen=True)
class SortKey:
    column: int
    descending: bool
    kind: str  # the column role: how values compare


@dataclass(frozen=True)
class Serial:
    """A numbering column: ``prefix`` + zero-padded ``width`` digits + ``suffix``."""

    column: int
    prefix: str
    width: int
    suffix: str
    descending: bool = False

    def parse(self, text: str) -> int:
        m = _SERIAL.match(text.strip())
        if not m:
            raise ValueError("not a serial number")
        return int(m.group(2))

    def format(self, number: int) -> str:
        digits = f"{number:0{self.width}d}" if self.width else str(number)
        return f"{self.prefix}{digits}{self.suffix}"


def compare_key(kind: str, text: str) -> Any | None:
    """A comparable value for a cell of a column of this role (None when it has none)."""
    text = text.strip()
    if not text:
        return None
    if kind == "date":
        parsed = parse_date(text)
        return parsed[0] if parsed else None
    if kind == "number":
        return parse_number(text)
    if kind == "name":
        return names.collation_key(text)
    if kind == "natural":
        # "9床" before "10床": lists sorted by bed or record number read digits as numbers.
        return tuple((int(p) if p.isdigit() else 0, p) for p in _RUNS.findall(text))
    return text


def neighbour_pairs(indices: list[int]) -> list[tuple[int, int]]:
    """Positions (in the sample) of rows that are neighbours in the file."""
    return [(k, k + 1) for k in range(len(indices) - 1) if indices[k + 1] == indices[k] + 1]


def detect_serial(rows: list[list[str]], indices: list[int], columns) -> Serial | None:
    """A column that counts 1, 2, 3 ... (or down) from row to row, however it is padded."""
    pairs = neighbour_pairs(indices)
    if len(pairs) < 3:
        return None
    for col in columns:
        if col.role not in ("number", "code", "category", "text"):
            continue
        matches = [_SERIAL.match(r[col.index].strip()) for r in rows]
        if not all(matches):
            continue
        shapes = {(m.group(1), m.group(3)) for m in matches}
        if len(shapes) != 1:
            continue
        numbers = [int(m.group(2)) for m in matches]
        steps = [numbers[b] - numbers[a] for a, b in pairs]
        for step in (1, -1):
            if sum(s == step for s in steps) >= 0.98 * len(steps):
                widths = {len(m.group(2)) for m in matches}
                width = (
                    widths.pop()
                    if len(widths) == 1 and any(m.group(2).startswith("0") for m in matches)
                    else 0
                )
                prefix, suffix = shapes.pop()
                return Serial(col.index, prefix, width, suffix, descending=step < 0)
    return None


def _ordered(pairs, rows, col: int, kind: str) -> tuple[bool, bool, int, int]:
    """(ascending holds, descending holds, strict steps, steps against the order).

    A list sorted once and then edited by hand (a late entry appended in place, a row
    fixed after sorting) is still sorted to an insider's eye, and a canary that breaks
    its order stands out among the few real rows that do: a direction holds when at
    most ``SORT_SLACK`` of the strict steps go the other way.
    """
    ups = downs = 0
    keys: dict[int, object] = {}  # a row sits in two pairs: compute its key once

    def key(i: int):
        if i not in keys:
            keys[i] = compare_key(kind, rows[i][col])
        return keys[i]

    for a, b in pairs:
        ka, kb = key(a), key(b)
        if ka is None or kb is None:
            continue
        try:
            if ka < kb:
                ups += 1
            elif ka > kb:
                downs += 1
        except TypeError:
            return False, False, 0, 0
    strict = ups + downs
    slack = int(SORT_SLACK * strict)
    return downs <= slack, ups <= slack, strict, min(ups, downs)


def detect_sort_keys(rows: list[list[str]], indices: list[int], columns) -> list[SortKey]:
    """Primary, secondary... sort keys: each orders the neighbour pairs its predecessors tie."""
    pairs = neighbour_pairs(indices)
    keys: list[SortKey] = []
    used: set[int] = set()
    while pairs and len(keys) < 3:
        best: tuple[int, SortKey] | None = None
        # A column in order across every neighbour pair, with a few real steps, is sorted:
        # an unsorted column of even two values breaks order within a few pairs.
        needed = 2 if len(pairs) >= 20 else 3
        for col in columns:
            if col.index in used or col.role not in SORTABLE:
                continue
            # Names sort by pinyin in Chinese spreadsheets, by code point in plain tools.
            kinds = {"name": ("name", "text"), "number": ("number",), "date": ("date",)}.get(
                col.role, (col.role, "natural")
            )
            for kind in kinds:
                up, down, strict, against = _ordered(pairs, rows, col.index, kind)
                # Each step against the order costs ten in its favour: a clean column
                # beats one with a few hand edits unless that one has far more steps.
                score = strict - 10 * against
                if (up or down) and strict >= needed and (best is None or score > best[0]):
                    best = (score, SortKey(col.index, descending=not up, kind=kind))
        if best is None:
            break
        key = best[1]
        keys.append(key)
        used.add(key.column)
        pairs = [
            (a, b)
            for a, b in pairs
            if compare_key(key.kind, rows[a][key.column])
            == compare_key(key.kind, rows[b][key.column])
        ]
    return keys


def compare_rows(keys: list[SortKey], a: list[str], b: list[str]) -> int:
    """-1 if ``a`` comes before ``b`` in the file's order, 1 if after, 0 if either may.

    Canaries that share a gap must also be in order among themselves: each fits its
    real neighbours, but two of them side by side in the wrong order break the sort.
    """
    for key in keys:
        ka, kb = compare_key(key.kind, a[key.column]), compare_key(key.kind, b[key.column])
        if ka is None or kb is None or ka == kb:
            continue
        try:
            before = ka < kb
        except TypeError:
            continue
        return (-1 if before else 1) * (-1 if key.descending else 1)
    return 0


def fits(
    keys: list[SortKey], before: list[str] | None, row: list[str], after: list[str] | None
) -> bool:
    """Does ``row`` keep the file's order when placed between ``before`` and ``after``?"""
    for neighbour, sign in ((before, 1), (after, -1)):
        if neighbour is None:
            continue
        for key in keys:
            a = compare_key(key.kind, neighbour[key.column])
            b = compare_key(key.kind, row[key.column])
            if a is None or b is None or a == b:
                continue
            try:
                ascending = (a < b) if sign == 1 else (a > b)
            except TypeError:
                return False
            if ascending == key.descending:
                return False
            break  # this key decides; lower keys only matter on ties
    return True
