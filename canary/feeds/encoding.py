"""Guessing the text encoding of CSV/TSV deliveries.

Order matters (see DOMAIN.md, "CSV encodings"): charset-normalizer misreads short GBK
snippets as Big5 or cp949, so a BOM, strict UTF-8 and strict GB18030 are tried first and
the statistical guess only last. GBK is a subset of GB18030, so GBK files are written
back as GB18030, which reproduces their bytes exactly.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass
from pathlib import Path

from canary.feeds.errors import UndecodableFile, UnsupportedFormat

PROBE_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class Encoding:
    name: str  # codec used to decode and encode the body (without the BOM)
    bom: bytes = b""

    @property
    def label(self) -> str:
        return f"{self.name}+BOM" if self.bom else self.name


def _decodes(data: bytes, codec: str, final: bool) -> bool:
    try:
        codecs.getincrementaldecoder(codec)(errors="strict").decode(data, final=final)
    except UnicodeDecodeError:
        return False
    return True


def _refuse_damaged_utf8(head: bytes) -> None:
    """Mostly-valid UTF-8 with a few bad bytes is a damaged UTF-8 file, not a code page.

    A statistical guesser would happily call it cp1252 and we would write mojibake.
    """
    text = head.decode("utf-8", errors="replace")
    bad = text.count("\ufffd")
    non_ascii = sum(1 for ch in text if ord(ch) > 127)
    if bad and non_ascii and bad * 20 < non_ascii:
        try:
            head.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = head.count(b"\n", 0, exc.start) + 1
            raise UndecodableFile(
                f"the file is UTF-8 text with an invalid byte on line {line}; the file is "
                "damaged or mixes encodings. Re-export it as 'CSV UTF-8'"
            ) from None


def detect(path: Path) -> Encoding:
    """Detect the encoding of ``path`` from its first few megabytes.

    The streaming reader decodes every line strictly afterwards and raises
    :class:`UndecodableFile` if a later byte contradicts the guess.
    """
    with open(path, "rb") as fh:
        head = fh.read(PROBE_BYTES)
        complete = len(head) < PROBE_BYTES
    return detect_bytes(head, complete=complete)


def detect_bytes(head: bytes, *, complete: bool = True) -> Encoding:
    if head.startswith(codecs.BOM_UTF8):
        return Encoding("utf-8", codecs.BOM_UTF8)
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise UnsupportedFormat(
            "the file is UTF-16 text (Excel 'Unicode Text'); export it again as "
            "'CSV UTF-8' or as an .xlsx workbook"
        )
    if _decodes(head, "utf-8", complete):
        return Encoding("utf-8")
    if _decodes(head, "gb18030", complete):
        return Encoding("gb18030")
    _refuse_damaged_utf8(head)
    try:
        from charset_normalizer import from_bytes
    except ImportError:  # pragma: no cover - it is a pinned dependency
        best = None
    else:
        best = from_bytes(head).best()
    if best is not None and best.encoding and _decodes(head, best.encoding, complete):
        return Encoding(codecs.lookup(best.encoding).name)
    raise UndecodableFile(
        "the file is not valid UTF-8 or GB18030 text and its encoding could not be "
        "recognised; re-export it as 'CSV UTF-8' or check that it is not a binary file"
    )
