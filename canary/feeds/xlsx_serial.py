"""The serial column of a workbook's list: its cells found and renumbered in the sheet XML.

Only the serial cells change, each kept in its own cell type (a number stays a number, a
shared string a shared string), as the CSV writer changes only the serial cells' bytes.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from xml.sax.saxutils import escape, unescape

from openpyxl.formula.translate import Translator

from canary.feeds import layout
from canary.feeds.xlsx_sheet import ATTR_RE, CELL_RE, ROW_RE, col_index, col_letters
from canary.forging.plan import SerialSpec

# A formula: its attributes and its text (empty for a shared formula's other cells).
_FORMULA = re.compile(rb"<f\b([^>]*?)(?:/>|>(.*?)</f>)", re.S)
# The reference of the <c> element that starts here.
_CELL_REF = re.compile(rb'<c [^>]*?\br="([A-Z]+\d+)"')
# A <c> element without an r="..." attribute.
_UNNAMED_CELL = re.compile(rb"<c(?=[\s/>])(?![^>]*\br=)")
# (a cell's inner XML, its type, its new text) -> the new inner XML, in that type
WithText = Callable[[bytes, bytes, str], bytes]


class SerialColumn:
    """The serial cells of one scanned sheet's data rows."""

    def __init__(self, src, spec: SerialSpec) -> None:
        self.src, self.spec = src, spec
        self.col = src.layout.first_col + spec.column
        letters = col_letters(self.col).encode()
        self.by_ref = re.compile(
            rb'<c\b([^>]*?\br="' + letters + rb'\d+"[^>]*?)(?:/>|>(.*?)</c>)', re.S
        )
        # Excel, LibreOffice and openpyxl name every cell's reference, so the serial
        # cells can be found in one search; a sheet that leaves some out is read row by row.
        rows = src.xml[src.data_offsets[0] : src.data_end]
        self.all_named = _UNNAMED_CELL.search(rows) is None

    def canary_cell(self, like, like_row: int, ref: str, text: str) -> bytes | None:
        """A canary's serial cell in a column of formulas: the formula of the row it was
        modelled on, moved to its own row, with its number as the saved result (None:
        the column is not formulas, or the formula cannot be read)."""
        if like is None or not like.inner or b"<f" not in like.inner:
            return None
        if like.kind not in (b"n", b"str"):
            return None
        found = self._formula(like, f"{col_letters(self.col)}{like_row}")
        if found is None:
            return None
        formula, origin = found
        try:
            moved = Translator("=" + formula, origin=origin).translate_formula(ref)[1:]
        except Exception:  # openpyxl's tokenizer: a formula it cannot parse stays out
            return None
        if like.kind == b"n" and not layout.numeric(text):
            return None
        style = b' s="' + like.style + b'"' if like.style else b""
        kind = b' t="str"' if like.kind == b"str" else b""
        return (
            b'<c r="'
            + ref.encode()
            + b'"'
            + style
            + kind
            + b"><f>"
            + escape(moved).encode()
            + b"</f><v>"
            + escape(text).encode()
            + b"</v></c>"
        )

    def _formula(self, like, like_ref: str) -> tuple[str, str] | None:
        """(formula text, the cell it is written for) of a cell; a shared formula's text
        is on the first cell of its group."""
        m = _FORMULA.search(like.inner)
        if m is None:
            return None
        attrs = dict(ATTR_RE.findall(m.group(1)))
        if m.group(2):
            return unescape(m.group(2).decode()), like_ref
        if attrs.get(b"t") != b"shared":
            return None
        return self._shared_formulas.get(attrs.get(b"si"))

    @functools.cached_property
    def _shared_formulas(self) -> dict[bytes, tuple[str, str]]:
        """Each shared formula's (text, first cell) by its ``si``: one pass over the
        sheet for the copy, however many of its canaries ask."""
        xml, found = self.src.xml, {}
        for master in _FORMULA.finditer(xml):
            if not master.group(2):
                continue
            si = dict(ATTR_RE.findall(master.group(1))).get(b"si")
            r = _CELL_REF.match(xml, xml.rfind(b"<c ", 0, master.start()))
            if si is not None and r is not None and si not in found:
                found[si] = (unescape(master.group(2).decode()), r.group(1).decode())
        return found

    def renumber(self, start: int, end: int, moved: int, with_text: WithText) -> bytes:
        """Sheet XML ``[start, end)`` with its data rows' serial numbers grown by ``moved``."""
        src, xml = self.src, self.src.xml
        lo, hi = max(start, src.data_offsets[0]), min(end, src.data_end)
        if not moved or lo >= hi:
            return xml[start:end]
        if self.all_named:
            cells = self.by_ref.finditer(xml, lo, hi)
        else:
            cells = filter(None, map(self._cell, ROW_RE.finditer(xml, lo, hi)))
        out, pos = [xml[start:lo]], lo
        for cell in cells:
            new = self._moved(cell, moved, with_text)
            if new is not None:
                out += [xml[pos : cell.start(2)], new]
                pos = cell.end(2)
        out.append(xml[pos:end])
        return b"".join(out)

    def _cell(self, row: re.Match) -> re.Match | None:
        """The row's serial ``<c>`` element (group 1 its attributes, group 2 its inner XML)."""
        if row.group(2) is None:
            return None
        xml, lo, hi = self.src.xml, row.start(2), row.end(2)
        cell = self.by_ref.search(xml, lo, hi)
        if cell is not None:
            return cell
        col = -1  # cells may leave out their reference: they then follow the previous one
        for cell in CELL_RE.finditer(xml, lo, hi):
            ref = dict(ATTR_RE.findall(cell.group(1))).get(b"r")
            col = col_index(ref.decode().rstrip("0123456789")) if ref else col + 1
            if col == self.col:
                return cell
        return None

    def _moved(self, cell: re.Match, moved: int, with_text: WithText) -> bytes | None:
        """The serial cell's new inner XML, or None to leave it (a blank, a note).

        A formula serial (``=ROW()-1``) keeps its formula, which Excel computes again
        for the moved row; its saved result, which viewers show without computing,
        becomes that new number.
        """
        inner = cell.group(2)
        if not inner:
            return None
        attrs = dict(ATTR_RE.findall(cell.group(1)))
        try:
            text = self.spec.format(self.spec.parse(self.src.reader.text(attrs, inner)) + moved)
        except (ValueError, TypeError):
            return None
        kind = attrs.get(b"t", b"n")
        if b"<f" in inner:
            return _with_result(inner, text)
        if kind == b"n" and not layout.numeric(text):
            return None
        return with_text(inner, kind, text)


def _with_result(inner: bytes, text: str) -> bytes | None:
    """A formula cell's inner XML with its saved result replaced (None: it has none)."""
    if not re.search(rb"<v>.*?</v>", inner, re.S):
        return None
    value = escape(text).encode()
    return re.sub(rb"<v>.*?</v>", lambda _m: b"<v>" + value + b"</v>", inner, count=1, flags=re.S)
