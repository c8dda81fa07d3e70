"""Large-block reading of CSV/TSV bytes, for a scan and a write that stay fast at 1M rows.

A file is read in blocks of a few megabytes that always end at a record boundary (a
line end outside quotes). Most blocks hold plain rows only: no quote character, no
blank line, every line with the header's number of delimiters. Such a block is checked
and split with a handful of C-level string operations instead of a Python loop per row;
any other block goes through the careful per-record parser. The two paths agree on
every row, so the fast path is an optimisation, never a second interpretation.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable, Iterator
from functools import lru_cache
from itertools import repeat
from pathlib import Path

BLOCK = 1024 * 1024
QUOTE = b'"'
# Whitespace as str.strip() sees it, except the line feed that ends a record.
_SPACES = "".join(re.escape(chr(c)) for c in range(0x3001) if chr(c).isspace() and chr(c) != "\n")


def record_end(buf: bytes) -> int:
    """Length of the longest prefix of ``buf`` made of whole records (0 if none).

    ``buf`` starts at a record boundary; a line end inside a quoted cell is not one,
    which the parity of the quote characters before it tells.
    """
    end = buf.rfind(b"\n") + 1
    if not end or QUOTE not in buf:
        return end
    quotes = buf.count(QUOTE, 0, end)
    while quotes % 2:
        prev = buf.rfind(b"\n", 0, end - 1) + 1
        if not prev:
            return 0
        quotes -= buf.count(QUOTE, prev, end)
        end = prev
    return end


def blocks(
    path: Path, start: int, stop: int, size: int | None = None
) -> Iterator[tuple[int, bytes]]:
    """``(offset, bytes)`` of whole-record blocks covering bytes ``[start, stop)``.

    The last block may end without a line end (a file without a final newline, or an
    unclosed quote, which the record parser then reports).
    """
    with open(path, "rb", buffering=0) as fh:
        fh.seek(start)
        pos, carry = start, b""
        while True:
            want = min(size or BLOCK, stop - pos - len(carry))
            data = fh.read(want) if want > 0 else b""
            if not data:
                if carry:
                    yield pos, carry
                return
            buf = carry + data if carry else data
            cut = record_end(buf)
            if not cut:
                carry = buf
                continue
            yield pos, buf[:cut] if cut < len(buf) else buf
            pos += cut
            carry = buf[cut:]


@lru_cache(maxsize=16)
def _blank_line(delimiter: str) -> re.Pattern[str]:
    # One character class (no alternation), so a long run of tabs cannot backtrack.
    return re.compile(rf"\n[{_SPACES}{re.escape(delimiter)}]*(?=\n|\Z)")


def byte_safe(encoding: str, delimiter: str) -> bool:
    """Whether the delimiter can be found by its byte: always in UTF-8; for , ; and tab
    also in GB18030 and the other multi-byte code pages (their trail bytes are higher).
    Never in 7-bit stateful encodings (ISO-2022, UTF-7, HZ), whose text is ASCII bytes."""
    if encoding == "utf-8":
        return True
    name = codecs.lookup(encoding).name.replace("-", "_")
    return delimiter in (",", ";", "\t") and not name.startswith(("iso2022", "utf_7", "hz"))


def plain_lines(block: bytes, encoding: str, delimiter: str, width: int) -> list[bytes] | None:
    """The lines of a block (bytes, final line feed dropped) if every one is a plain row.

    Plain: valid text in ``encoding``, no quote, not blank (only spaces and delimiters),
    exactly ``width`` cells. Lines keep a trailing CR. None means: parse record by record
    (which also names the line of any error).
    """
    if QUOTE in block or not byte_safe(encoding, delimiter):
        return None
    try:
        text = block.decode(encoding)
    except UnicodeDecodeError:
        return None
    body = text[:-1] if text.endswith("\n") else text
    if not body or _blank_line(delimiter).search("\n" + body):
        return None
    lines = (block[:-1] if block.endswith(b"\n") else block).split(b"\n")
    if set(map(bytes.count, lines, repeat(delimiter.encode(encoding)))) != {width - 1}:
        return None
    return lines


def row_of(line: bytes, encoding: str, delimiter: str) -> list[str]:
    """Cells of a plain line (its CR, if any, is the line ending, not cell text)."""
    return line.decode(encoding).removesuffix("\r").split(delimiter)


@lru_cache(maxsize=16)
def _serial_cell(delimiter: bytes, column: int) -> re.Pattern[bytes]:
    d = re.escape(delimiter)
    return re.compile(rb"(\n(?:[^%s\n]*%s){%d})([^%s\r\n]*)" % (d, d, column, d))


class SerialCells:
    """The serial cells of one block of plain (quote-free) records, parsed once.

    Every holder's copy renumbers the same cells by its own shift, so the block is split
    once and each copy only formats numbers and joins.
    """

    def __init__(self, block: bytes, delimiter: bytes, column: int) -> None:
        # Split keeps, per line: [line feed + cells before the serial, serial, rest].
        self.end = b"\n" if block.endswith(b"\n") else b""
        body = block[:-1] if self.end else block
        self.parts = _serial_cell(delimiter, column).split(b"\n" + body)
        self.values = self.parts[2::3]
        self.digits = all(self.values) and b"".join(self.values).isdigit()
        self._ints: list[int] | None = None
        self._run = 0  # 1: the cells count up by one, -1: down by one, 0: neither

    def render(self, shift: int, renumber: Callable[[bytes, int], bytes], plain: bool) -> bytes:
        """The block with every serial cell moved by ``shift``.

        ``plain`` means the serial is written as a bare integer, so the all-digit case
        is formatted in bulk; otherwise ``renumber`` handles each cell (and keeps cells
        that are not serial numbers, such as blank lines, unchanged).
        """
        if plain and self.digits:
            if self._ints is None:
                self._ints = list(map(int, self.values))
                first, n = self._ints[0], len(self._ints)
                # Written without leading zeros and counting by one (the usual case):
                # row j's new number is the number row j + shift (counting up) or
                # row j - shift (counting down) already has.
                if b"\n0" not in b"\n" + b"\n".join(self.values):
                    self._run = next(
                        (s for s in (1, -1) if self._ints == list(range(first, first + s * n, s))),
                        0,
                    )
            if self._run == 1 and shift < len(self.values):
                after = self._ints[-1] + 1
                new = self.values[shift:] + [b"%d" % v for v in range(after, after + shift)]
            elif self._run == -1 and shift < len(self.values):
                top = self._ints[0]
                above = [b"%d" % v for v in range(top + shift, top, -1)]
                new = above + self.values[: len(self.values) - shift]
            else:
                new = [b"%d" % n for n in map(shift.__add__, self._ints)]
        else:
            new = [renumber(v, shift) for v in self.values]
        parts = self.parts.copy()
        parts[2::3] = new
        return b"".join(parts)[1:] + self.end
