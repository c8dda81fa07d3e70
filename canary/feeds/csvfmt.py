"""CSV and TSV: streaming scan, then byte-faithful splicing of canary rows.

The scan parses every record once (csv module, one line at a time, so memory stays flat)
to find the header, the data rows, a totals row and the byte offset of every 1024th data
row. The write copies the original bytes and only serialises the inserted canary rows,
the totals cells and (when the plan renumbers a serial column) the serial cells.
"""

from __future__ import annotations

import bisect
import csv
import heapq
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from canary.feeds import layout
from canary.feeds.base import Progress, Target, WriteStats, check_canary_values, check_positions
from canary.feeds.encoding import Encoding, detect
from canary.feeds.errors import (
    EmptyFile,
    HeaderOnly,
    RaggedRows,
    UndecodableFile,
    UnsupportedFormat,
)
from canary.feeds.splice import Cut, atomic_outputs, splice
from canary.feeds.table import TableSample
from canary.forging.plan import InjectionPlan

CHECKPOINT = 1024
QUOTE_SAMPLE = 200
DELIMITERS = (",", "\t", ";", "|")
csv.field_size_limit(16 * 1024 * 1024)


@dataclass
class Record:
    start: int  # byte offset of the record's first byte
    end: int  # byte offset just after its line terminator
    row: list[str]
    text: str  # decoded record text without its final line terminator
    line: int  # 1-based line number where it starts (for messages)


def cell_spans(text: str, delimiter: str, quote: str = '"') -> list[tuple[int, int]]:
    """Character spans of each cell of one record, quotes included."""
    spans, i, n = [], 0, len(text)
    while True:
        start = i
        if i < n and text[i] == quote:
            i += 1
            while True:
                j = text.find(quote, i)
                if j < 0:
                    i = n
                    break
                if j + 1 < n and text[j + 1] == quote:
                    i = j + 2
                    continue
                i = j + 1
                break
        j = text.find(delimiter, i)
        end = n if j < 0 else j
        spans.append((start, end))
        if j < 0:
            return spans
        i = j + 1


@dataclass
class Dialect:
    delimiter: str
    newline: str
    quote: str = '"'
    quoted_columns: set[int] = field(default_factory=set)

    def cell(self, value: str, column: int) -> str:
        needs = any(ch in value for ch in (self.delimiter, self.quote, "\r", "\n"))
        if needs or column in self.quoted_columns:
            return self.quote + value.replace(self.quote, self.quote * 2) + self.quote
        return value

    def record(self, values: list[str]) -> str:
        return self.delimiter.join(self.cell(str(v), i) for i, v in enumerate(values))


def sniff(head: str, fmt: str) -> Dialect:
    """Delimiter (most consistent per-line count) and line ending from the first lines."""
    lines = [ln for ln in head.splitlines()[:30] if ln.strip()]
    if "\n" in head:
        newline = "\r\n" if head[head.index("\n") - 1 : head.index("\n")] == "\r" else "\n"
    elif "\r" in head:
        raise UnsupportedFormat(
            "the file uses old Mac line endings (CR only); save it again with Windows or "
            "Unix line endings"
        )
    else:
        newline = "\n"
    best, best_score = "\t" if fmt == "tsv" else ",", -1
    for delim in DELIMITERS:
        counts = [ln.count(delim) for ln in lines]
        nonzero = [c for c in counts if c]
        if not nonzero:
            continue
        mode = max(set(nonzero), key=nonzero.count)
        score = sum(1 for c in counts if c == mode) * 10 + (
            5 if fmt == "tsv" and delim == "\t" else 0
        )
        if score > best_score:
            best, best_score = delim, score
    return Dialect(delimiter=best, newline=newline)


class CsvFile:
    """A scanned CSV/TSV delivery."""

    def __init__(self, path: Path, *, fmt: str = "csv", column_map: dict | None = None) -> None:
        self.path = Path(path)
        self.fmt = fmt
        self.column_map = dict(column_map or {})
        self.encoding: Encoding = detect(self.path)
        self.size = self.path.stat().st_size
        if self.size == len(self.encoding.bom):
            raise EmptyFile("the file is empty; nothing was written")
        with open(self.path, "rb") as fh:
            head = fh.read(256 * 1024)
        text = head[len(self.encoding.bom) :].decode(self.encoding.name, errors="ignore")
        self.dialect = sniff(text, fmt)
        self._scan()

    # -- reading --------------------------------------------------------------------------

    def _records(self, offset: int = 0, line: int = 1) -> Iterator[Record]:
        """Every record from byte ``offset`` on, with byte offsets, decoded strictly.

        Lines without a quote character (nearly all of them) are split directly; a line
        with quotes is joined with the following lines until its quotes balance and then
        parsed by the csv module, so quoted delimiters and line breaks are honoured.
        """
        enc, bom = self.encoding.name, self.encoding.bom
        delim, quote = self.dialect.delimiter, self.dialect.quote
        quote_b = quote.encode(enc)
        pos, number, parts, start, first_line = offset, line, [], offset, line
        with open(self.path, "rb") as fh:
            fh.seek(offset)
            for raw in fh:
                if not parts:
                    start, first_line = pos, number
                pos += len(raw)
                number += 1
                if quote_b in raw or parts:
                    parts.append(raw)
                    if sum(p.count(quote_b) for p in parts) % 2:
                        continue  # a quoted cell goes on to the next line
                    raw = b"".join(parts)
                    parts = []
                    quoted = True
                else:
                    quoted = False
                if start == 0 and bom:
                    raw = raw[len(bom) :]
                try:
                    text = raw.decode(enc)
                except UnicodeDecodeError:
                    raise UndecodableFile(
                        f"line {first_line} is not valid {self.encoding.label} text; the file "
                        "mixes encodings or is damaged. Re-export it as 'CSV UTF-8'"
                    ) from None
                if text.endswith("\n"):
                    text = text[:-2] if text.endswith("\r\n") else text[:-1]
                if quoted:
                    try:
                        row = next(csv.reader([text], delimiter=delim, quotechar=quote), [])
                    except csv.Error as exc:
                        raise RaggedRows(
                            f"line {first_line} is not valid CSV ({exc}); check its quotes"
                        ) from None
                else:
                    row = text.split(delim) if text else []
                yield Record(start, pos, row, text, first_line)
        if parts:
            raise RaggedRows(
                f"line {first_line} opens a quoted cell that is never closed; check its quotes"
            )

    @staticmethod
    def _blank(row: list[str]) -> bool:
        return not any(c.strip() for c in row)

    def _scan(self) -> None:
        records = self._records()
        first: list[Record] = []
        for rec in records:
            first.append(rec)
            if len(first) >= layout.HEADER_SCAN:
                break
        nonblank = [r for r in first if not self._blank(r.row)]
        if not nonblank:
            raise EmptyFile("the file has no rows; nothing was written")
        h = layout.find_header([r.row for r in nonblank], self.column_map)
        header_rec = nonblank[h]
        self.header = [c.strip() for c in header_rec.row]
        self.width = len(header_rec.row)
        self.title_rows = h
        self.checkpoints: list[tuple[int, int]] = []  # (start offset, line) of rows k*CHECKPOINT
        sampler = layout.SampleBuilder(self.header)
        quote_hits = [0] * self.width
        quoted_seen = 0
        pending: Record | None = None
        self.data_end = header_rec.end

        def commit(rec: Record) -> None:
            nonlocal quoted_seen
            i = sampler.count
            if len(rec.row) != self.width:
                raise RaggedRows(
                    f"line {rec.line} has {len(rec.row)} cells but the header has {self.width}; "
                    "fix the row (a missing or extra delimiter) and try again"
                )
            if i % CHECKPOINT == 0:
                self.checkpoints.append((rec.start, rec.line))
            if quoted_seen < QUOTE_SAMPLE:
                quoted_seen += 1
                for col, (s, _) in enumerate(cell_spans(rec.text, self.dialect.delimiter)):
                    if col < self.width and rec.text[s : s + 1] == self.dialect.quote:
                        quote_hits[col] += 1
            sampler.add(rec.row)
            self.data_end = rec.end

        def stream() -> Iterator[Record]:
            yield from first[first.index(header_rec) + 1 :]
            yield from records

        for rec in stream():
            if self._blank(rec.row):
                continue
            if pending is not None:
                commit(pending)
            pending = rec
        self.summary: Record | None = None
        if pending is not None:
            if sampler.count and layout.is_summary(pending.row, self.width):
                self.summary = pending
            else:
                commit(pending)
        if sampler.count == 0:
            raise HeaderOnly(
                "the file has a header but no data rows; canaries need real rows to hide "
                "among. Nothing was written"
            )
        self.dialect.quoted_columns = {
            c for c, hits in enumerate(quote_hits) if quoted_seen and hits == quoted_seen
        }
        self.total = sampler.count
        self.column_sums = self._column_sums() if self.summary else {}
        self.sample: TableSample = sampler.build(
            {
                "format": self.fmt,
                "encoding": self.encoding.label,
                "delimiter": self.dialect.delimiter,
                "newline": "CRLF" if self.dialect.newline == "\r\n" else "LF",
                "title_rows": self.title_rows,
                "summary_row": self.summary is not None,
            }
        )

    def _data_records(self, offset: int, line: int) -> Iterator[Record]:
        """Data records from a checkpoint on (blank lines skipped, totals row excluded)."""
        stop = self.summary.start if self.summary else self.size
        for rec in self._records(offset, line):
            if rec.start >= stop:
                return
            if not self._blank(rec.row):
                yield rec

    def _column_sums(self) -> dict[int, float]:
        cols = layout.summary_numeric_columns(self.summary.row, self.total)
        if not cols:
            return {}
        sums = dict.fromkeys(cols, 0.0)
        start, line = self.checkpoints[0]
        for rec in self._data_records(start, line):
            for c in cols:
                cell = rec.row[c] if c < len(rec.row) else ""
                if layout.numeric(cell):
                    sums[c] += float(cell)
                elif cell.strip():
                    sums.pop(c, None)
            cols = list(sums)
        return sums

    def _offset_of(self, position: int) -> int:
        """Byte offset where a row inserted before data row ``position`` goes."""
        if position >= self.total:
            return self.data_end
        start, line = self.checkpoints[position // CHECKPOINT]
        for k, rec in enumerate(self._data_records(start, line)):
            if k == position % CHECKPOINT:
                return rec.start
        raise AssertionError("checkpoint index out of step with the scan")

    # -- writing --------------------------------------------------------------------------

    def _encode(self, text: str) -> bytes:
        try:
            return text.encode(self.encoding.name)
        except UnicodeEncodeError:
            raise UnsupportedFormat(
                f"a canary value cannot be written in the file's encoding "
                f"({self.encoding.label}); use a UTF-8 export"
            ) from None

    def _canary_bytes(self, plan: InjectionPlan, position: int) -> bytes:
        rows = [r for r in plan.rows if r.position == position]
        if not rows:
            return b""
        nl = self.dialect.newline
        text = "".join(self.dialect.record(r.values) + nl for r in rows)
        if position >= self.total and self.data_end == self.size and self.size:
            with open(self.path, "rb") as fh:  # the last line has no terminator
                fh.seek(self.size - 1)
                if fh.read(1) != b"\n":
                    text = nl + text[: -len(nl)]
        return self._encode(text)

    def _summary_bytes(self, plan: InjectionPlan, original: bytes) -> bytes | None:
        if not plan.rows:
            return None
        changes = layout.summary_changes(
            self.summary.row,
            data_rows=self.total,
            added=len(plan.rows),
            column_sums=self.column_sums,
            canary_rows=[r.values for r in plan.rows],
        )
        if not changes:
            return None
        text = self.summary.text
        spans = cell_spans(text, self.dialect.delimiter)
        for change in sorted(changes, key=lambda c: -c.column):
            s, e = spans[change.column]
            cell = text[s:e]
            text = text[:s] + cell.replace(change.old, change.new, 1) + text[e:]
        rest = original.decode(self.encoding.name)[len(self.summary.text) :]
        return self._encode(text + rest)

    def _serial_cuts(self, first_position: int, column: int) -> Iterator[Cut]:
        """The serial cell of every data row from ``first_position`` on.

        Works on raw lines: most records have no quotes, and their serial cell is found
        by counting delimiters in bytes, which is safe in UTF-8 and, for , ; and tab,
        in GB18030 (its trail bytes never fall in that range; '|' can, so it is slow).
        """
        enc = self.encoding.name
        delim = self.dialect.delimiter.encode(enc)
        quote = self.dialect.quote.encode(enc)
        fast = enc == "utf-8" or delim in (b",", b";", b"\t")
        blank_chars = delim + b" \t"
        stop = self.summary.start if self.summary else self.size
        offset, _ = self.checkpoints[first_position // CHECKPOINT]
        index = (first_position // CHECKPOINT) * CHECKPOINT
        with open(self.path, "rb") as fh:
            fh.seek(offset)
            pos, rec_start, parts = offset, offset, []
            for raw in fh:
                if not parts:
                    rec_start = pos
                pos += len(raw)
                parts.append(raw)
                if quote in raw and sum(p.count(quote) for p in parts) % 2:
                    continue  # inside a quoted cell that spans lines
                record = b"".join(parts) if len(parts) > 1 else raw
                parts = []
                if rec_start >= stop:
                    return
                body = record.rstrip(b"\r\n")
                if fast and quote not in body:
                    if not body.strip(blank_chars):
                        continue
                    if index >= first_position:
                        s = 0
                        for _ in range(column):
                            s = body.find(delim, s) + len(delim)
                        e = body.find(delim, s)
                        e = len(body) if e < 0 else e
                        value = body[s:e].decode(enc)
                        yield Cut(rec_start + s, rec_start + e, ("serial", index, value))
                else:
                    text = body.decode(enc)
                    row = next(csv.reader([text], delimiter=self.dialect.delimiter), [])
                    if self._blank(row):
                        continue
                    spans = cell_spans(text, self.dialect.delimiter)
                    if index >= first_position and column < len(spans):
                        s, e = spans[column]
                        bs = rec_start + len(text[:s].encode(enc))
                        be = bs + len(text[s:e].encode(enc))
                        yield Cut(bs, be, ("serial", index, row[column]))
                index += 1

    def write(self, targets: list[Target], progress: Progress | None = None) -> list[WriteStats]:
        """Write one output per target, reading the input once."""
        for t in targets:
            check_positions(t.plan, self.total)
            check_canary_values(t.plan, self.width)
        positions = sorted({r.position for t in targets for r in t.plan.rows})
        offsets = {p: self._offset_of(p) for p in positions}
        cuts: list[Cut] = [Cut(offsets[p], offsets[p], ("insert", p)) for p in positions]
        if self.summary is not None:
            end = self.summary.start + len(self.summary.text.encode(self.encoding.name))
            cuts.append(Cut(self.summary.start, end, ("summary",)))
        cuts.sort(key=lambda c: (c.start, c.end))
        serial_plans = [t.plan for t in targets if t.plan.serial and t.plan.rows]
        streams = [cuts]
        if serial_plans:
            column = serial_plans[0].serial.column
            first = min(r.position for p in serial_plans for r in p.rows)
            if first < self.total:
                streams.append(self._serial_cuts(first, column))
        merged = heapq.merge(*streams, key=lambda c: (c.start, c.end))
        with atomic_outputs([t.path for t in targets]) as handles, open(self.path, "rb") as src:
            outputs = [(h, self._replacer(t.plan)) for h, t in zip(handles, targets, strict=True)]
            splice(
                src,
                outputs,
                merged,
                progress=(lambda n: progress(n, self.size)) if progress else None,
            )
        return [
            WriteStats(t.path, self.total + len(t.plan.rows), len(t.plan.rows)) for t in targets
        ]

    def _replacer(self, plan: InjectionPlan):
        positions = sorted(r.position for r in plan.rows)
        enc = self.encoding.name
        quote = self.dialect.quote.encode(enc)

        def replace(cut: Cut, original: bytes) -> bytes | None:
            kind = cut.key[0]
            if kind == "insert":
                return self._canary_bytes(plan, cut.key[1]) or b""
            if kind == "summary":
                return self._summary_bytes(plan, original)
            if kind == "serial" and plan.serial:
                shift = bisect.bisect_right(positions, cut.key[1])
                if not shift:
                    return None
                value = cut.key[2]
                try:
                    new = plan.serial.format(plan.serial.parse(value) + shift)
                except (ValueError, TypeError):
                    return None
                if original[:1] == quote:  # a quoted serial cell stays quoted
                    return quote + new.encode(enc) + quote
                return new.encode(enc)
            return None

        return replace
