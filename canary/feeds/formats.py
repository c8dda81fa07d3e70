"""Choosing the reader for a delivery: by content first, then extension, then the feed."""

from __future__ import annotations

from pathlib import Path

from canary.feeds.base import ScannedFile
from canary.feeds.errors import CorruptWorkbook, EmptyFile, UnsupportedFormat
from canary.feeds.xlsx_package import OLE_MAGIC, Limits

EXTENSIONS = {
    ".csv": "csv",
    ".txt": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".xlsx": "xlsx",
    ".xlsm": "xlsx",
    ".json": "json",
    ".ndjson": "ndjson",
    ".jsonl": "ndjson",
}


def detect_format(path: Path, feed_format: str) -> str:
    """The format to read ``path`` as.

    Magic bytes win over names: a workbook renamed to .csv is still a zip, and an
    encrypted workbook is an OLE container whatever it is called.
    """
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            magic = fh.read(8)
    except OSError as exc:
        raise UnsupportedFormat(f"cannot read the input file: {exc.strerror}") from None
    if not magic:
        raise EmptyFile("the file is empty; nothing was written")
    if magic.startswith(b"PK\x03\x04") or magic == OLE_MAGIC:
        return "xlsx"
    by_name = EXTENSIONS.get(path.suffix.lower())
    if by_name == "xlsx" or (by_name is None and feed_format == "xlsx"):
        raise CorruptWorkbook(
            "the file is named as a workbook but is not an .xlsx package; open it in Excel "
            "and save it again as .xlsx"
        )
    if by_name in ("json", "ndjson") or feed_format in ("json", "ndjson"):
        return by_name if by_name in ("json", "ndjson") else feed_format
    return by_name or feed_format


def scan(
    path: Path,
    *,
    fmt: str,
    column_map: dict | None = None,
    sheet: str = "",
    limits: Limits | None = None,
) -> ScannedFile:
    """Read a delivery once and return its sample and writer."""
    if fmt in ("csv", "tsv"):
        from canary.feeds.csvfmt import CsvFile

        return CsvFile(path, fmt=fmt, column_map=column_map)
    if fmt in ("json", "ndjson"):
        from canary.feeds.jsonfmt import JsonFile

        return JsonFile(path, fmt=fmt, column_map=column_map)
    if fmt == "xlsx":
        from canary.feeds.xlsxfmt import XlsxFile

        return XlsxFile(path, column_map=column_map, sheet=sheet, limits=limits)
    raise UnsupportedFormat(f"unknown format {fmt!r}")
