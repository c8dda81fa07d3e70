"""CSV and TSV: streaming scan, then byte-faithful splicing of canary rows.

The scan reads the file once in blocks of whole records (csv_blocks), so memory stays
flat, to find the header, the data rows, a totals row and the byte offset of every
1024th data row. Every row is checked (width, encoding, blank or not); plain blocks are
checked with C-level string operations, other records are parsed one by one (quoted
delimiters and line breaks). The write (csv_write) copies the original bytes and only
serialises the inserted canary rows, the totals cells and (when the plan renumbers a
serial column) the serial cells.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from canary.feeds import layout
from canary.feeds.base import Progress, Target, WriteStats
from canary.feeds.csv_blocks import blocks, plain_lines, row_of
from canary.feeds.encoding import Encoding, detect
from canary.feeds.errors import (
    EmptyFile,
    HeaderOnly,
    RaggedRows,
    UndecodableFile,
    UnsupportedFormat,
)
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

    def _records(
        self, offset: int = 0, line: int = 1, block: bytes | None = None
    ) -> Iterator[Record]:
        """Every record from byte ``offset`` on, with byte offsets, decoded strictly.

        Lines without a quote character (nearly all of them) are split directly; a line
        with quotes is joined with the following lines until its quotes balance and then
        parsed by the csv module, so quoted delimiters and line breaks are honoured.
        With ``block`` (bytes of whole records starting at ``offset``) only those are read.
        """
        enc, bom = self.encoding.name, self.encoding.bom
        delim, quote = self.dialect.delimiter, self.dialect.quote
        quote_b = quote.encode(enc)
        pos, number, parts, start, first_line = offset, line, [], offset, line
        with io.BytesIO(block) if block is not None else open(self.path, "rb") as fh:
            if block is None:
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
        first: list[Record] = []
        for rec in self._records():
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
        self._sampler = layout.SampleBuilder(self.header)
        self._quote_hits = [0] * self.width
        self._quoted_seen = 0
        self.data_end = header_rec.end
        pending: Record | None = None
        line = header_rec.line + header_rec.text.count("\n") + 1
        for offset, block in blocks(self.path, header_rec.end, self.size):
            lines = self._plain_lines(block)
            if lines is None:
                for rec in self._records(offset, line, block):
                    if self._blank(rec.row):
                        continue
                    if pending is not None:
                        self._commit(pending)
                    pending = rec
            else:
                if pending is not None:
                    self._commit(pending)
                pending = self._commit_plain(offset, line, block, lines)
            line += block.count(b"\n")
        self.summary: Record | None = None
        sampler = self._sampler
        if pending is not None:
            if sampler.count and layout.is_summary(pending.row, self.width):
                self.summary = pending
            else:
                self._commit(pending)
        if sampler.count == 0:
            raise HeaderOnly(
                "the file has a header but no data rows; canaries need real rows to hide "
                "among. Nothing was written"
            )
        seen = self._quoted_seen
        self.dialect.quoted_columns = {
            c for c, hits in enumerate(self._quote_hits) if seen and hits == seen
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
        del self._sampler

    def _plain_lines(self, block: bytes) -> list[bytes] | None:
        """The block's lines if all are plain rows (see csv_blocks), else None."""
        return plain_lines(block, self.encoding.name, self.dialect.delimiter, self.width)

    def _commit(self, rec: Record) -> None:
        """Count one data record: check its width, checkpoint it, sample it."""
        i = self._sampler.count
        if len(rec.row) != self.width:
            raise RaggedRows(
                f"line {rec.line} has {len(rec.row)} cells but the header has {self.width}; "
                "fix the row (a missing or extra delimiter) and try again"
            )
        if i % CHECKPOINT == 0:
            self.checkpoints.append((rec.start, rec.line))
        if self._quoted_seen < QUOTE_SAMPLE:
            self._quoted_seen += 1
            for col, (s, _) in enumerate(cell_spans(rec.text, self.dialect.delimiter)):
                if col < self.width and rec.text[s : s + 1] == self.dialect.quote:
                    self._quote_hits[col] += 1
        self._sampler.add(rec.row)
        self.data_end = rec.end

    def _commit_plain(self, offset: int, line: int, block: bytes, lines: list[bytes]) -> Record:
        """Count every line of a plain block but the last, which is returned (it may be
        the totals row, known only at the end of the file)."""
        n = len(lines) - 1
        first = (-self._sampler.count) % CHECKPOINT
        if first < n:
            pos, prev = offset, 0
            for k in range(first, n, CHECKPOINT):
                pos += sum(map(len, lines[prev:k])) + (k - prev)
                prev = k
                self.checkpoints.append((pos, line + k))
        # Plain lines hold no quotes: they only count towards the quoted-column sample.
        self._quoted_seen = min(QUOTE_SAMPLE, self._quoted_seen + n)
        enc, delim = self.encoding.name, self.dialect.delimiter
        self._sampler.add_batch(lines[:n], lambda ln: row_of(ln, enc, delim))
        end = offset + len(block)
        start = end - len(lines[n]) - (1 if block.endswith(b"\n") else 0)
        self.data_end = start
        text = lines[n].decode(enc).removesuffix("\r")
        return Record(start, end, text.split(delim), text, line + n)

    def _data_records(self, offset: int, line: int) -> Iterator[Record]:
        """Data records from a checkpoint on (blank lines skipped, totals row excluded)."""
        stop = self.summary.start if self.summary else self.size
        for rec in self._records(offset, line):
            if rec.start >= stop:
                return
            if not self._blank(rec.row):
                yield rec

    def _data_rows(self, offset: int, stop: int) -> Iterator[list[str]]:
        """Cells of the data rows in ``[offset, stop)`` (blank lines skipped), blockwise."""
        enc, delim = self.encoding.name, self.dialect.delimiter
        for start, block in blocks(self.path, offset, stop):
            lines = self._plain_lines(block)
            if lines is None:
                yield from (r.row for r in self._records(start, 0, block) if not self._blank(r.row))
            else:
                yield from (row_of(ln, enc, delim) for ln in lines)

    def _column_sums(self) -> dict[int, float]:
        cols = layout.summary_numeric_columns(self.summary.row, self.total)
        if not cols:
            return {}
        sums = dict.fromkeys(cols, 0.0)
        for row in self._data_rows(self.checkpoints[0][0], self.summary.start):
            for c in cols:
                cell = row[c] if c < len(row) else ""
                if layout.numeric(cell):
                    sums[c] += float(cell)
                elif cell.strip():
                    sums.pop(c, None)
            cols = list(sums)
        return sums

    def offsets_of(self, positions: list[int]) -> dict[int, int]:
        """Byte offset where rows inserted before each data row ``position`` go.

        One short read from the checkpoint before each group of positions; a plain
        stretch of rows is measured by its line lengths, anything else parsed.
        """
        out = {p: self.data_end for p in positions if p >= self.total}
        groups: dict[int, set[int]] = {}
        for p in positions:
            if p < self.total:
                groups.setdefault(p // CHECKPOINT, set()).add(p % CHECKPOINT)
        stop = self.summary.start if self.summary else self.size
        for cp, wanted in groups.items():
            start, line = self.checkpoints[cp]
            first = next(blocks(self.path, start, stop, 256 * 1024), (start, b""))[1]
            lines = self._plain_lines(first) if first else None
            if lines is not None and len(lines) > max(wanted):
                pos, prev = start, 0
                for k in sorted(wanted):
                    pos += sum(map(len, lines[prev:k])) + (k - prev)
                    prev = k
                    out[cp * CHECKPOINT + k] = pos
                continue
            for k, rec in enumerate(self._data_records(start, line)):
                if k in wanted:
                    out[cp * CHECKPOINT + k] = rec.start
                if k >= max(wanted):
                    break
        if len(out) != len(set(positions)):
            raise AssertionError("checkpoint index out of step with the scan")
        return out

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

    def write(self, targets: list[Target], progress: Progress | None = None) -> list[WriteStats]:
        """Write one output per target, reading the input once."""
        from canary.feeds.csv_write import write_copies

        return write_copies(self, targets, progress)
