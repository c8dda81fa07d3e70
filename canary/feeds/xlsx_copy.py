"""Building one holder's copy of a workbook: the sheet XML with canary rows spliced in.

Rows below an insertion move down, references move with them, and ranges that cover the
list (a SUM at the bottom, data validation, tables, defined names) grow over the canaries,
as they would if a clerk had inserted the rows in Excel. A serial column the plan names is
renumbered the way the CSV writer does it: only the serial cells change.
"""

from __future__ import annotations

import re
from xml.sax.saxutils import escape

from canary.feeds import layout
from canary.feeds.xlsx_refs import RowShift
from canary.feeds.xlsx_serial import SerialColumn
from canary.feeds.xlsx_sheet import col_letters
from canary.forging.plan import InjectionPlan

# One pass over the shifted part of the sheet: cell/row references and formulas.
_SHIFT_RE = re.compile(
    rb'(<(?:c|row)\b[^>]*?\br=")([A-Z]*)(\d+)(")'
    rb"|<f\b([^>]*?)(?:/>|>(.*?)</f>)(\s*<v>.*?</v>)?",
    re.S,
)
_TAIL_REF_RE = re.compile(
    rb'(\b(?:ref|sqref)=")([^"]*)(")|(<(formula\d?|xm:f|xm:sqref)>)(.*?)(</\5>)', re.S
)
_SIMPLE_AGG = re.compile(r"^(SUM|COUNT|COUNTA)\((\$?[A-Z]+)\$?(\d+):(\$?[A-Z]+)\$?(\d+)\)$")


class CopyWriter:
    """Builds the changed parts for one holder's copy."""

    def __init__(self, src, plan: InjectionPlan, parts: dict[str, bytes]) -> None:
        self.src, self.plan, self.parts = src, plan, parts
        self.new_strings: list[str] = []
        self.string_index: dict[str, int] | None = None
        self.needs_recalc = False
        total = src.total
        last = src.data_rows[-1]
        before = sorted(
            src.data_rows[r.position] if r.position < total else last + 1 for r in plan.rows
        )
        self.shift = RowShift(tuple(before), src.data_rows[0], last)
        self.canary_cols: dict[int, list[str]] = {}
        self.serials = SerialColumn(src, plan.serial) if plan.serial else None

    def build(self) -> dict[str, bytes]:
        src = self.src
        if not self.plan.rows:
            self.parts[src.sheet.path] = src.xml
            return self.parts
        self.parts[src.sheet.path] = self._sheet()
        self._tables()
        self._workbook()
        if self.new_strings:
            self._shared_strings()
        return self.parts

    # sheet ------------------------------------------------------------------------------

    def _sheet(self) -> bytes:
        src, xml = self.src, self.src.xml
        open_m = re.search(rb"<sheetData\b[^>]*?(/>|>)", xml)
        close = xml.rfind(b"</sheetData>")
        head = re.sub(
            rb'(<dimension\b[^>]*\bref=")([^"]*)(")',
            lambda m: m.group(1) + self.shift.range(m.group(2).decode()).encode() + m.group(3),
            xml[: open_m.end()],
        )
        cuts = {}
        for r in sorted(self.plan.rows, key=lambda r: r.position):
            at = src.data_offsets[r.position] if r.position < src.total else src.data_end
            cuts.setdefault(at, []).append(r)
        out = [head]
        cursor = open_m.end()
        inserted = 0
        for at in sorted(cuts):
            out.append(self._shift_rows(self._serials(cursor, at, inserted), inserted))
            for r in cuts[at]:
                out.append(self._canary_row(r))
                inserted += 1
            cursor = at
        if src.summary is not None:
            m = src.summary[1]
            out.append(self._shift_rows(self._serials(cursor, m.start(), inserted), inserted))
            out.append(self._summary_row(self._shift_rows(m.group(), inserted)))
            cursor = m.end()
        out.append(self._shift_rows(self._serials(cursor, close, inserted), inserted))
        out.append(self._shift_tail(xml[close:]))
        return b"".join(out)

    def _summary_row(self, row: bytes) -> bytes:
        """Literal totals ("共35人", 35) follow the row count; formulas were extended already."""
        src = self.src
        changes = layout.summary_changes(
            src.summary[3],
            data_rows=src.total,
            added=len(self.plan.rows),
            column_sums=src.column_sums,
            canary_rows=[r.values for r in self.plan.rows],
        )
        for change in changes:
            letters = col_letters(src.layout.first_col + change.column).encode()
            cell = re.search(
                rb'<c\b[^>]*?\br="' + letters + rb'\d+"[^>]*?(?:/>|>(.*?)</c>)', row, re.S
            )
            if cell is None or cell.group(1) is None or b"<f" in cell.group(1):
                continue
            full = next(
                c.text for c in src.summary[2] if c.col == src.layout.first_col + change.column
            )
            text = full.replace(change.old, change.new, 1)
            kind = re.search(rb'\bt="(\w+)"', cell.group().split(b">", 1)[0])
            kind = kind.group(1) if kind else b"n"
            start, end = cell.span(1)
            row = row[:start] + self._with_text(cell.group(1), kind, text) + row[end:]
        return row

    def _with_text(self, inner: bytes, kind: bytes, text: str) -> bytes:
        """A cell's inner XML showing ``text`` instead, kept in the cell's own type."""
        if kind == b"inlineStr":
            return re.sub(
                rb"(<t\b[^>]*>).*?(</t>)",
                lambda t: t.group(1) + escape(text).encode() + t.group(2),
                inner,
                count=1,
                flags=re.S,
            )
        value = b"%d" % self._string(text) if kind == b"s" else escape(text).encode()
        # A function, not a template: the text is data, its backslashes are not escapes.
        return re.sub(rb"<v>.*?</v>", lambda _m: b"<v>" + value + b"</v>", inner)

    def _serials(self, start: int, end: int, inserted: int) -> bytes:
        """Sheet XML ``[start, end)`` with its data rows' serial cells renumbered.

        ``inserted`` canaries come before this stretch of rows: counting up, its numbers
        move by that many; counting down, by the canaries still to come below it.
        """
        if self.serials is None:
            return self.src.xml[start:end]
        moved = self.plan.serial.move(len(self.plan.rows), inserted)
        return self.serials.renumber(start, end, moved, self._with_text)

    def _shift_rows(self, segment: bytes, shift: int) -> bytes:
        if not shift and b"<f" not in segment:
            return segment

        def sub(m: re.Match) -> bytes:
            if m.group(1) is not None:
                if not shift:
                    return m.group()
                return m.group(1) + m.group(2) + str(int(m.group(3)) + shift).encode() + m.group(4)
            return self._formula(m)

        if b"<f" not in segment:
            pattern = re.compile(rb'(<(?:c|row)\b[^>]*?\br=")([A-Z]*)(\d+)(")')
            return pattern.sub(sub, segment)
        return _SHIFT_RE.sub(sub, segment)

    def _formula(self, m: re.Match) -> bytes:
        attrs, body, cached = m.group(5), m.group(6), m.group(7) or b""
        new_attrs = re.sub(
            rb'(\bref=")([^"]*)(")',
            lambda a: a.group(1) + self.shift.range(a.group(2).decode()).encode() + a.group(3),
            attrs,
        )
        if body is None:
            return b"<f" + new_attrs + b"/>" + cached
        old = body.decode()
        new = self.shift.formula(old, self.src.sheet.name)
        if _grew(old, new):
            cached = self._cached(new, old, cached)
        return b"<f" + new_attrs + b">" + new.encode() + b"</f>" + cached

    def _cached(self, new: str, old: str, cached: bytes) -> bytes:
        """Keep a totals formula's cached value right (viewers show it without recalculating)."""
        m, v = _SIMPLE_AGG.match(new), re.search(rb"<v>(.*?)</v>", cached)
        if m and v and m.group(2).lstrip("$") == m.group(4).lstrip("$"):
            col = _col(m.group(2).lstrip("$")) - self.src.layout.first_col
            lo, hi = int(m.group(3)), int(m.group(5))
            values = [
                row.values[col]
                for row, at in zip(self.plan.rows, self._canary_numbers(), strict=True)
                if lo <= at <= hi and 0 <= col < len(row.values)
            ]
            try:
                base = float(v.group(1))
            except ValueError:
                base = None
            if base is not None:
                if m.group(1) == "SUM":
                    extra = sum(float(x) for x in values if layout.numeric(x))
                elif m.group(1) == "COUNT":
                    extra = sum(1 for x in values if layout.numeric(x))
                else:
                    extra = sum(1 for x in values if x.strip())
                total = base + extra
                text = str(int(total)) if total == int(total) else repr(total)
                return cached.replace(v.group(0), b"<v>" + text.encode() + b"</v>", 1)
        self.needs_recalc = True
        return b""

    def _canary_numbers(self) -> list[int]:
        """New sheet row number of each plan row, in plan order."""
        src, numbers, used = self.src, [], {}
        for r in self.plan.rows:
            base = src.data_rows[r.position] if r.position < src.total else src.data_rows[-1] + 1
            k = used.get(base, 0)
            used[base] = k + 1
            numbers.append(self.shift.row(base - 1) + 1 + k)
        return numbers

    def _shift_tail(self, tail: bytes) -> bytes:
        def sub(m: re.Match) -> bytes:
            if m.group(1) is not None:
                return m.group(1) + self.shift.range(m.group(2).decode()).encode() + m.group(3)
            body = m.group(6).decode()
            new = (
                self.shift.range(body)
                if m.group(5) == b"xm:sqref"
                else self.shift.formula(body, self.src.sheet.name)
            )
            return m.group(4) + new.encode() + m.group(7)

        return _TAIL_REF_RE.sub(sub, tail)

    def _canary_row(self, row) -> bytes:
        src = self.src
        index = min(row.position, src.total) - 1 if row.position else 0
        m, cells = src._row_at(max(index, 0))
        number = self._canary_numbers()[self.plan.rows.index(row)]
        attrs = re.sub(rb'\s*\br="\d+"', b"", m.group(1))
        by_col = {c.col: c for c in cells}
        parts = [b'<row r="%d"' % number + attrs + b">"]
        like_row = re.search(rb'\br="(\d+)"', m.group(1))
        for k, value in enumerate(row.values):
            col = src.layout.first_col + k
            ref, like = f"{col_letters(col)}{number}", by_col.get(col)
            if self.serials is not None and col == self.serials.col and like_row:
                cell = self.serials.canary_cell(like, int(like_row.group(1)), ref, str(value))
                if cell is not None:  # a column of formulas: the canary's is one too
                    parts.append(cell)
                    continue
            parts.append(self._cell(ref, like, str(value)))
        parts.append(b"</row>")
        return b"".join(parts)

    def _cell(self, ref: str, like, value: str) -> bytes:
        style = b' s="' + like.style + b'"' if like is not None and like.style else b""
        r = b'<c r="' + ref.encode() + b'"' + style
        if value == "":
            return r + b"/>" if style else b""
        kind = like.kind if like is not None else (b"n" if layout.numeric(value) else b"s")
        if kind in (b"n", b"b") or (kind == b"str" and layout.numeric(value)):
            kind_attr = b' t="n"' if like is not None and like.attrs.get(b"t") == b"n" else b""
            if like is not None and like.style and int(like.style) in src_dates(self.src):
                serial = self.src.reader.serial(value)
                if serial is not None:
                    return r + kind_attr + b"><v>" + serial.encode() + b"</v></c>"
            if kind == b"b" and value.upper() in ("TRUE", "FALSE"):
                return r + b' t="b"><v>' + (b"1" if value.upper() == "TRUE" else b"0") + b"</v></c>"
            if layout.numeric(value):
                return r + kind_attr + b"><v>" + value.strip().encode() + b"</v></c>"
        if self.src.sst_path is not None:
            return r + b' t="s"><v>%d</v></c>' % self._string(value)
        text = escape(value).encode()
        space = b' xml:space="preserve"' if value != value.strip() else b""
        return r + b' t="inlineStr"><is><t' + space + b">" + text + b"</t></is></c>"

    def _string(self, value: str) -> int:
        if self.string_index is None:
            self.string_index = {}
            for i, s in enumerate(self.src.reader.strings):
                self.string_index.setdefault(s, i)
        if value not in self.string_index:
            self.string_index[value] = len(self.src.reader.strings) + len(self.new_strings)
            self.new_strings.append(value)
        return self.string_index[value]

    # other parts ------------------------------------------------------------------------

    def _shared_strings(self) -> None:
        path = self.src.sst_path
        xml = self.parts[path]
        added = b"".join(
            b"<si><t"
            + (b' xml:space="preserve"' if s != s.strip() else b"")
            + b">"
            + escape(s).encode()
            + b"</t></si>"
            for s in self.new_strings
        )
        close = xml.rfind(b"</sst>")
        xml = xml[:close] + added + xml[close:]
        uses = len(self.new_strings)

        def bump(m: re.Match) -> bytes:
            extra = len(self.new_strings) if m.group(1) == b"uniqueCount" else uses
            return m.group(1) + b'="' + str(int(m.group(2)) + extra).encode() + b'"'

        head_end = xml.find(b">", xml.find(b"<sst"))
        head = re.sub(rb'\b(count|uniqueCount)="(\d+)"', bump, xml[:head_end])
        self.parts[path] = head + xml[head_end:]

    def _tables(self) -> None:
        for kind, path in self.src.pkg.rels(self.src.sheet.path).values():
            if kind == "table" and path in self.parts:
                self.parts[path] = re.sub(
                    rb'(\bref=")([^"]*)(")',
                    lambda m: (
                        m.group(1) + self.shift.range(m.group(2).decode()).encode() + m.group(3)
                    ),
                    self.parts[path],
                )

    def _workbook(self) -> None:
        name = "xl/workbook.xml"
        xml = self.parts[name]

        def names(m: re.Match) -> bytes:
            body = m.group(2).decode()
            return (
                m.group(1)
                + self.shift.formula(body, self.src.sheet.name, own_sheet=False).encode()
                + m.group(3)
            )

        xml = re.sub(rb"(<definedName\b[^>]*>)(.*?)(</definedName>)", names, xml, flags=re.S)
        if self.needs_recalc:
            xml = _full_calc_on_load(xml)
            # A stale calculation chain makes Excel offer to repair the file; it rebuilds one.
            self._drop_calc_chain()
        self.parts[name] = xml

    def _drop_calc_chain(self) -> None:
        chain = "xl/calcChain.xml"
        if chain not in self.parts:
            return
        del self.parts[chain]
        rels = "xl/_rels/workbook.xml.rels"
        if rels in self.parts:
            self.parts[rels] = re.sub(
                rb"<Relationship\b[^>]*calcChain[^>]*/>", b"", self.parts[rels]
            )
        types = "[Content_Types].xml"
        if types in self.parts:
            self.parts[types] = re.sub(rb"<Override\b[^>]*calcChain[^>]*/>", b"", self.parts[types])


def _full_calc_on_load(xml: bytes) -> bytes:
    """Ask Excel and LibreOffice to recalculate formulas whose cached values we dropped."""
    if b"fullCalcOnLoad" in xml:
        return xml
    if re.search(rb"<calcPr\b", xml):
        return re.sub(rb"<calcPr\b", b'<calcPr fullCalcOnLoad="1"', xml, count=1)
    # CT_Workbook orders its children: calcPr follows definedNames (or sheets).
    for anchor in (b"</definedNames>", b"</sheets>"):
        at = xml.find(anchor)
        if at >= 0:
            at += len(anchor)
            return xml[:at] + b'<calcPr fullCalcOnLoad="1"/>' + xml[at:]
    return xml


def src_dates(src) -> set[int]:
    return src.reader.date_styles


def _col(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n - 1


def _grew(old: str, new: str) -> bool:
    spans = re.compile(r"\$?[A-Z]{1,3}\$?(\d+):\$?[A-Z]{1,3}\$?(\d+)")
    a = [int(m.group(2)) - int(m.group(1)) for m in spans.finditer(old)]
    b = [int(m.group(2)) - int(m.group(1)) for m in spans.finditer(new)]
    return a != b
