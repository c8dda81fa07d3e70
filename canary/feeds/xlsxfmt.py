"""XLSX: inject into the list's sheet by editing its XML inside the zip.

openpyxl load + save rewrites every part of the workbook and drops what it does not
model (DOMAIN.md: "keeping styles means editing the workbook, not rewriting it"). This
path reads the one worksheet's XML, inserts canary rows styled like their neighbours,
moves the rows and references below them, extends ranges that cover the list (SUM at the
bottom, data validation, tables) and copies every other part of the package unchanged.
"""

from __future__ import annotations

import array
import zipfile
from dataclasses import dataclass
from pathlib import Path

from canary.feeds import layout
from canary.feeds.base import Progress, Target, WriteStats, check_canary_values, check_positions
from canary.feeds.errors import HeaderOnly, MissingColumn, NoMatchingSheet, WorkbookTooLarge
from canary.feeds.splice import atomic_outputs
from canary.feeds.xlsx_copy import CopyWriter
from canary.feeds.xlsx_package import Limits, Package, SheetRef
from canary.feeds.xlsx_sheet import ROW_RE, CellReader, row_number, texts


@dataclass
class _Layout:
    header_row: int
    first_col: int
    width: int


class XlsxFile:
    """A scanned workbook: the list's sheet located, sampled and indexed."""

    def __init__(
        self,
        path: Path,
        *,
        column_map: dict | None = None,
        sheet: str = "",
        limits: Limits | None = None,
    ) -> None:
        self.path = Path(path)
        self.pkg = Package(self.path, limits or Limits())
        self.column_map = dict(column_map or {})
        self.sst_path, strings = self.pkg.shared_strings()
        self.reader = CellReader(strings, self.pkg.date_styles(), self.pkg.date1904())
        self.sheet, self.xml, self.layout = self._choose_sheet(sheet)
        self._scan()

    # -- reading --------------------------------------------------------------------------

    def _rows(self, xml: bytes, start: int = 0):
        number = 0
        for m in ROW_RE.finditer(xml, start):
            number = row_number(m.group(1), number)
            yield number, m

    def _find_layout(self, xml: bytes) -> _Layout | None:
        first = []
        for number, m in self._rows(xml):
            cells = self.reader.row(m.group(2))
            if any(c.text.strip() for c in cells):
                first.append((number, cells))
            if len(first) >= layout.HEADER_SCAN:
                break
        if not first:
            return None
        grids = []
        for _, cells in first:
            lo = min(c.col for c in cells)
            hi = max(c.col for c in cells)
            grids.append(texts(cells, 0, hi + 1) if lo >= 0 else [])
        h = layout.find_header(grids, self.column_map)
        number, cells = first[h]
        filled = [c.col for c in cells if c.text.strip()]
        return _Layout(number, min(filled), max(filled) - min(filled) + 1)

    def _choose_sheet(self, wanted: str) -> tuple[SheetRef, bytes, _Layout]:
        sheets = self.pkg.sheets()
        names = ", ".join(repr(s.name) for s in sheets)
        if wanted:
            match = [s for s in sheets if s.name == wanted]
            if not match:
                raise NoMatchingSheet(
                    f"the workbook has no sheet named {wanted!r} (sheets: {names}); "
                    "fix the feed's sheet setting or the workbook"
                )
            candidates = match
        else:
            candidates = sheets
        last_missing: MissingColumn | None = None
        for ref in candidates:
            xml = self.pkg.read(ref.path)
            try:
                found = self._find_layout(xml)
            except MissingColumn as exc:
                last_missing = exc
                continue
            if found is not None:
                return ref, xml, found
        if self.column_map and (len(candidates) > 1 or last_missing is None):
            raise NoMatchingSheet(
                f"no sheet of the workbook ({names}) has a header with the feed's mapped "
                f"columns ({', '.join(map(repr, dict.fromkeys(self.column_map.values())))}); "
                "fix the mapping or choose the sheet with the feed's sheet setting"
            )
        if last_missing is not None:
            raise last_missing
        raise HeaderOnly("the workbook's sheets are empty; nothing was written")

    def _scan(self) -> None:
        lay = self.layout
        self.header: list[str] = []
        self.data_rows = array.array("i")  # sheet row numbers of the data rows
        self.data_offsets = array.array("q")  # byte offsets of their <row> elements
        sampler = None
        cells_seen = 0
        pending = None
        self.data_end = 0
        self.summary = None
        for number, m in self._rows(self.xml):
            if number < lay.header_row:
                continue
            cells = self.reader.row(m.group(2))
            cells_seen += len(cells)
            if cells_seen > self.pkg.limits.max_cells:
                raise WorkbookTooLarge(
                    f"the sheet has more than {self.pkg.limits.max_cells} cells; refused"
                )
            row = texts(cells, lay.first_col, lay.width)
            if number == lay.header_row:
                self.header = [c.strip() for c in row]
                sampler = layout.SampleBuilder(self.header)
                self.header_end = m.end()
                continue
            if not any(c.strip() for c in row):
                continue
            if pending is not None:
                self._commit(sampler, *pending)
            pending = (number, m, cells, row)
        if pending is not None:
            number, m, cells, row = pending
            if sampler.count and layout.is_summary(row, lay.width):
                self.summary = (number, m, cells, row)
            else:
                self._commit(sampler, *pending)
        if sampler is None or sampler.count == 0:
            raise HeaderOnly(
                f"sheet {self.sheet.name!r} has a header but no data rows; nothing was written"
            )
        self.total = sampler.count
        self.column_sums = self._column_sums()
        self.sample = sampler.build(
            {"format": "xlsx", "sheet": self.sheet.name, "header_row": lay.header_row}
        )

    def _commit(self, sampler, number, m, cells, row) -> None:
        self.data_rows.append(number)
        self.data_offsets.append(m.start())
        self.data_end = m.end()
        sampler.add(row)

    def _column_sums(self) -> dict[int, float]:
        if self.summary is None:
            return {}
        cols = layout.summary_numeric_columns(self.summary[3], self.total)
        sums = dict.fromkeys(cols, 0.0)
        for i in range(len(self.data_offsets)):
            if not sums:
                break
            m = ROW_RE.match(self.xml, self.data_offsets[i])
            row = texts(self.reader.row(m.group(2)), self.layout.first_col, self.layout.width)
            for c in list(sums):
                if layout.numeric(row[c]):
                    sums[c] += float(row[c])
                elif row[c].strip():
                    sums.pop(c)
        return sums

    def _row_at(self, index: int):
        m = ROW_RE.match(self.xml, self.data_offsets[index])
        return m, self.reader.row(m.group(2))

    # -- writing --------------------------------------------------------------------------

    def write(self, targets: list[Target], progress: Progress | None = None) -> list[WriteStats]:
        """Write one workbook per target; parts other than the sheet are copied as they are."""
        for t in targets:
            check_positions(t.plan, self.total)
            check_canary_values(t.plan, self.layout.width)
        members = {i.filename: i for i in self.pkg.zip.infolist()}
        shared = {name: self.pkg.read(name) for name in members if name != self.sheet.path}
        with atomic_outputs([t.path for t in targets]) as handles:
            for n, (handle, target) in enumerate(zip(handles, targets, strict=True)):
                parts = CopyWriter(self, target.plan, dict(shared)).build()
                with zipfile.ZipFile(handle, "w") as out:
                    for name, info in members.items():
                        if name not in parts:
                            continue
                        out.writestr(info, parts[name], compress_type=info.compress_type)
                if progress:
                    progress(n + 1, len(targets))
        return [
            WriteStats(t.path, self.total + len(t.plan.rows), len(t.plan.rows)) for t in targets
        ]
