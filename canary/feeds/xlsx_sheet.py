"""Reading one worksheet's XML: rows, cells and their text as Excel shows it."""

from __future__ import annotations

import datetime as dt
import html
import re
from dataclasses import dataclass

ROW_RE = re.compile(rb"<row\b([^>]*?)(?:/>|>(.*?)</row>)", re.S)
CELL_RE = re.compile(rb"<c\b([^>]*?)(?:/>|>(.*?)</c>)", re.S)
ATTR_RE = re.compile(rb'([\w:]+)="([^"]*)"')
V_RE = re.compile(rb"<v>(.*?)</v>", re.S)
T_RE = re.compile(rb"<t\b[^>]*>(.*?)</t>", re.S)
REF_RE = re.compile(r"([A-Z]+)(\d+)")


def col_index(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n - 1


def col_letters(index: int) -> str:
    out = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        out = chr(65 + rem) + out
    return out


@dataclass
class Cell:
    col: int
    attrs: dict[bytes, bytes]
    inner: bytes | None
    text: str

    @property
    def kind(self) -> bytes:
        return self.attrs.get(b"t", b"n")

    @property
    def style(self) -> bytes | None:
        return self.attrs.get(b"s")


class CellReader:
    """Turns ``<c>`` elements into text, using the shared strings and date styles."""

    def __init__(self, strings: list[str], date_styles: set[int], date1904: bool) -> None:
        self.strings = strings
        self.date_styles = date_styles
        self.epoch = dt.datetime(1904, 1, 1) if date1904 else dt.datetime(1899, 12, 30)

    def row(self, inner: bytes | None) -> list[Cell]:
        cells, col = [], -1
        for m in CELL_RE.finditer(inner or b""):
            attrs = dict(ATTR_RE.findall(m.group(1)))
            ref = attrs.get(b"r")
            col = col_index(REF_RE.match(ref.decode()).group(1)) if ref else col + 1
            cells.append(Cell(col, attrs, m.group(2), self.text(attrs, m.group(2))))
        return cells

    def text(self, attrs: dict[bytes, bytes], inner: bytes | None) -> str:
        if not inner:
            return ""
        kind = attrs.get(b"t", b"n")
        if kind == b"inlineStr":
            return html.unescape(b"".join(T_RE.findall(inner)).decode())
        v = V_RE.search(inner)
        if v is None:
            return ""
        raw = v.group(1).decode()
        if kind == b"s":
            try:
                return self.strings[int(raw)]
            except (ValueError, IndexError):
                return ""
        if kind == b"b":
            return "TRUE" if raw.strip() == "1" else "FALSE"
        if kind in (b"str", b"e"):
            return html.unescape(raw)
        style = attrs.get(b"s")
        if style is not None and int(style) in self.date_styles:
            return self.date_text(raw)
        return raw

    def date_text(self, raw: str) -> str:
        try:
            serial = float(raw)
        except ValueError:
            return raw
        when = self.epoch + dt.timedelta(days=serial)
        if serial == int(serial):
            return when.date().isoformat()
        return when.strftime("%Y-%m-%d %H:%M:%S")

    def serial(self, text: str) -> str | None:
        """A date(time) text back to an Excel serial number, or None if it is no date."""
        for fmt in ("%Y-%m-%d", "%Y-%m-%d %H:%M:%S", "%Y/%m/%d", "%Y-%m-%d %H:%M"):
            try:
                when = dt.datetime.strptime(text.strip(), fmt)
            except ValueError:
                continue
            days = (when - self.epoch).total_seconds() / 86400
            return str(int(days)) if days == int(days) else repr(days)
        return None


def row_number(attrs: bytes, previous: int) -> int:
    m = re.search(rb'\br="(\d+)"', attrs)
    return int(m.group(1)) if m else previous + 1


def texts(cells: list[Cell], first: int, width: int) -> list[str]:
    out = [""] * width
    for c in cells:
        if first <= c.col < first + width:
            out[c.col - first] = c.text
    return out
