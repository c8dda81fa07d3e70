"""Moving A1 references when rows are inserted into a worksheet.

Inserting a row in Excel moves every reference at or below it; ranges that span the
data grow so that a SUM over the list or a validation rule covers the new rows too.
We do the same by hand because the fast path edits the sheet XML directly.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

_REF = re.compile(
    r"(?P<sheet>(?:'(?:[^']|'')+'|[A-Za-z_\u0080-\uffff][\w.\u0080-\uffff]*)!)?"
    r"(?<![A-Za-z_\d.$])(?P<c1>\$?[A-Z]{1,3})(?P<r1>\$?\d+)"
    r"(?::(?P<c2>\$?[A-Z]{1,3})(?P<r2>\$?\d+))?(?![\w(])"
)
_STRING = re.compile(r'"(?:[^"]|"")*"')


@dataclass(frozen=True)
class RowShift:
    """Where rows were inserted: ``before`` holds, per inserted row, the original sheet
    row it was inserted before (sorted, repeated for several rows at one place)."""

    before: tuple[int, ...]
    first_data: int
    last_data: int

    def row(self, r: int) -> int:
        return r + bisect.bisect_right(self.before, r)

    def start(self, r: int) -> int:
        # A range that starts inside the data keeps covering rows inserted before it.
        if self.first_data <= r <= self.last_data:
            return self.row(r - 1) + 1
        return self.row(r)

    def end(self, r: int) -> int:
        # A range that ends inside the data grows over rows appended after it.
        if self.first_data <= r <= self.last_data:
            return self.row(r + 1) - 1
        return self.row(r)

    def range(self, ref: str) -> str:
        """Shift a ``A1`` or ``A1:D9`` reference (also an ``sqref`` list)."""
        return " ".join(self._one(part) for part in ref.split())

    def _one(self, ref: str) -> str:
        m = re.fullmatch(r"(\$?[A-Z]{1,3})(\$?)(\d+)(?::(\$?[A-Z]{1,3})(\$?)(\d+))?", ref)
        if not m:
            return ref
        c1, d1, r1, c2, d2, r2 = m.groups()
        if c2 is None:
            return f"{c1}{d1}{self.row(int(r1))}"
        return f"{c1}{d1}{self.start(int(r1))}:{c2}{d2}{self.end(int(r2))}"

    def formula(self, text: str, sheet: str | None = None, *, own_sheet: bool = True) -> str:
        """Shift references in a formula. Unqualified references belong to the formula's
        own sheet (``own_sheet``); qualified ones are shifted only if they name ``sheet``."""
        out, cursor = [], 0
        for lit in _STRING.finditer(text):
            out.append(self._formula_part(text[cursor : lit.start()], sheet, own_sheet))
            out.append(lit.group())
            cursor = lit.end()
        out.append(self._formula_part(text[cursor:], sheet, own_sheet))
        return "".join(out)

    def _formula_part(self, text: str, sheet: str | None, own_sheet: bool) -> str:
        def sub(m: re.Match) -> str:
            qual = m.group("sheet")
            if qual:
                name = qual[:-1]
                if name.startswith("'"):
                    name = name[1:-1].replace("''", "'")
                if name != sheet:
                    return m.group()
            elif not own_sheet:
                return m.group()
            r1 = m.group("r1")
            d1, n1 = ("$", r1[1:]) if r1.startswith("$") else ("", r1)
            if m.group("c2") is None:
                return f"{qual or ''}{m.group('c1')}{d1}{self.row(int(n1))}"
            r2 = m.group("r2")
            d2, n2 = ("$", r2[1:]) if r2.startswith("$") else ("", r2)
            return (
                f"{qual or ''}{m.group('c1')}{d1}{self.start(int(n1))}:"
                f"{m.group('c2')}{d2}{self.end(int(n2))}"
            )

        return _REF.sub(sub, text)
