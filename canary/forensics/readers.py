"""Turning any leaked file into a stream of text lines, one record per line.

* CSV, TSV, NDJSON and plain text dumps are scanned as they are, byte for byte: no
  decoding, no parsing, whatever the encoding (lines are decoded one by one, and only
  when they hold a hit, so a file that merges UTF-8 and GB18030 sources works).
* UTF-16 text (Excel's "Unicode Text") is transcoded to UTF-8 on the fly.
* XLSX workbooks are read row by row with openpyxl in read-only (streaming) mode,
  every sheet, each row becoming one tab-separated line.
* JSON arrays (pretty-printed or minified) are parsed incrementally with ijson; each
  object in an array becomes one line of its values, so fields of one record stay
  together whatever the layout.

Generated lines start with their location (sheet and row, or record number) between
control characters, which the confirmation step strips.
"""

from __future__ import annotations

import codecs
import datetime as dt
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from canary.errors import FeedFormatError
from canary.forensics.confirm import LOCATION_END, LOCATION_MARK
from canary.forensics.engine import CHUNK_BYTES

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Source:
    kind: str  # text | utf16 | xlsx | json
    path: Path
    size: int


def detect(path: Path) -> Source:
    """Tell the layout from the first bytes (file names of leaked files lie)."""
    path = Path(path)
    if not path.is_file():
        raise FeedFormatError(f"{path} is not a readable file")
    size = path.stat().st_size
    with open(path, "rb") as fh:
        head = fh.read(4096)
    if head.startswith(b"PK\x03\x04"):
        if not zipfile.is_zipfile(path):
            raise FeedFormatError("the file looks like a damaged zip archive")
        with zipfile.ZipFile(path) as zf:
            if "xl/workbook.xml" not in zf.namelist():
                raise FeedFormatError(
                    "the file is a zip archive but not an .xlsx workbook; unpack it and "
                    "scan the files inside"
                )
        return Source("xlsx", path, size)
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return Source("utf16", path, size)
    stripped = head.lstrip(codecs.BOM_UTF8).lstrip()
    if stripped.startswith(b"["):
        return Source("json", path, size)
    if stripped.startswith(b"{") and not _looks_like_ndjson(path):
        return Source("json", path, size)
    return Source("text", path, size)


def _looks_like_ndjson(path: Path) -> bool:
    """NDJSON: the first line is a whole JSON object (then line = record already)."""
    import json

    with open(path, "rb") as fh:
        first = fh.readline(1 << 20).lstrip(codecs.BOM_UTF8).strip()
    try:
        return isinstance(json.loads(first), dict)
    except ValueError:
        return False


def raw_chunks(path: Path, progress: Progress | None = None) -> Iterator[bytes]:
    """The file's bytes in large chunks (the matcher works on bytes, not text)."""
    size = path.stat().st_size
    done = 0
    with open(path, "rb", buffering=0) as fh:
        while True:
            chunk = fh.read(CHUNK_BYTES)
            if not chunk:
                break
            done += len(chunk)
            if progress:
                progress(done, size)
            yield chunk


def utf16_chunks(path: Path, progress: Progress | None = None) -> Iterator[bytes]:
    decoder = codecs.getincrementaldecoder("utf-16")(errors="replace")
    for chunk in raw_chunks(path, progress):
        yield decoder.decode(chunk).encode("utf-8")
    rest = decoder.decode(b"", final=True)
    if rest:
        yield rest.encode("utf-8")


def _batched(lines: Iterator[bytes]) -> Iterator[bytes]:
    batch: list[bytes] = []
    size = 0
    for line in lines:
        batch.append(line)
        size += len(line) + 1
        if size >= CHUNK_BYTES:
            yield b"\n".join(batch) + b"\n"
            batch, size = [], 0
    if batch:
        yield b"\n".join(batch) + b"\n"


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e16:
        return str(int(value))  # phones stored as numbers: 13800138000.0
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _clean(text: str) -> str:
    # A cell may hold line breaks; the record must stay on one line.
    return text.replace("\r", " ").replace("\n", " ").replace("\x1e", " ").replace("\x1f", " ")


def _located(location: str, cells: list[str]) -> bytes:
    body = "\t".join(_clean(c) for c in cells)
    return LOCATION_MARK + location.encode("utf-8") + LOCATION_END + body.encode("utf-8")


def xlsx_chunks(path: Path, progress: Progress | None = None) -> Iterator[bytes]:
    """Every sheet, row by row, in openpyxl's streaming read-only mode."""
    import openpyxl

    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for damaged workbooks
        raise FeedFormatError(f"the workbook cannot be read: {type(exc).__name__}") from exc

    def lines() -> Iterator[bytes]:
        try:
            sheets = workbook.worksheets
            for index, sheet in enumerate(sheets):
                for number, row in enumerate(sheet.iter_rows(values_only=True), start=1):
                    cells = [_cell_text(v) for v in row]
                    if any(cells):
                        yield _located(f"{sheet.title}!{number}", cells)
                if progress:
                    progress(index + 1, len(sheets))
        finally:
            workbook.close()

    return _batched(lines())


def json_chunks(path: Path, progress: Progress | None = None) -> Iterator[bytes]:
    """Objects of a JSON document, one line each, parsed incrementally."""
    import ijson

    size = path.stat().st_size

    def lines() -> Iterator[bytes]:
        with open(path, "rb") as fh:
            if fh.read(3) != codecs.BOM_UTF8:
                fh.seek(0)
            depth_kinds: list[str] = []  # container kinds from the root down
            record: list[str] | None = None
            record_depth = -1
            root_values: list[str] = []
            count = 0
            try:
                for _prefix, event, value in ijson.parse(fh):
                    if event in ("start_map", "start_array"):
                        parent = depth_kinds[-1] if depth_kinds else ""
                        if event == "start_map" and record is None and parent == "array":
                            record, record_depth = [], len(depth_kinds)
                        depth_kinds.append("map" if event == "start_map" else "array")
                    elif event in ("end_map", "end_array"):
                        depth_kinds.pop()
                        if record is not None and len(depth_kinds) == record_depth:
                            count += 1
                            yield _located(f"record {count}", record)
                            record = None
                            if progress and count % 10000 == 0:
                                progress(fh.tell(), size)
                    elif event not in ("map_key",):
                        text = _cell_text(value)
                        (record if record is not None else root_values).append(text)
            except ijson.JSONError as exc:
                raise FeedFormatError(
                    f"the JSON document is malformed after record {count}; repair it, or "
                    "convert it to one object per line (NDJSON), and scan again"
                ) from exc
            if root_values:
                yield _located("document", root_values)
            if progress:
                progress(size, size)

    return _batched(lines())


def chunks_of(source: Source, progress: Progress | None = None) -> Iterator[bytes]:
    """Byte chunks of line-per-record text for any supported layout."""
    if source.kind == "xlsx":
        return xlsx_chunks(source.path, progress)
    if source.kind == "json":
        return json_chunks(source.path, progress)
    if source.kind == "utf16":
        return utf16_chunks(source.path, progress)
    return raw_chunks(source.path, progress)
