"""Confirming candidate lines: which of a canary's fields does this record really hold?

The fast matcher only says that an anchor (eight phone digits, a name in some script)
occurs somewhere on a line. Here the line is decoded and each field is checked with its
boundaries: the phone must be a whole number (a calling-code prefix or a separator
before it, no digit glued after it), a Han name must not be part of a longer name, a
romanised name must be whole words, a date must be a whole date in any usual notation.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import unicodedata

from canary.forensics.variants import NameForm, PhoneForm

# Characters written inside a phone number between digit groups.
_PHONE_INNER = " -.()/\u00a0"
_PHONE_RUN = re.compile(r"\+?\d[\d \-.()/\u00a0]*\d")
_HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_HAN_GAP = re.compile(r"(?<=[\u3400-\u9fff])[ \t\u3000]+(?=[\u3400-\u9fff])")
_LATIN_WORD = re.compile(r"[a-z]+")
# Honorifics and kinship words that follow a name in free text ("王芳女士", "王芳妈妈").
_AFTER_NAME = (
    "女士",
    "先生",
    "小姐",
    "妈妈",
    "宝宝",
    "产妇",
    "家属",
    "太太",
    "媽媽",
    "寶寶",
    "產婦",
)
_YMD = re.compile(r"(?<!\d)((?:19|20)\d\d)\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})(?!\d)")
_COMPACT = re.compile(r"(?<!\d)((?:19|20)\d\d)(\d\d)(\d\d)(?!\d)")
_DMY = re.compile(r"(?<!\d)(\d{1,2})[-/.](\d{1,2})[-/.]((?:19|20)\d\d)(?!\d)")
_ID = re.compile(r"(?<![0-9A-Z])(\d{6}) ?(\d{8}) ?(\d{3}[0-9X])(?![0-9A-Z])")
LOCATION_MARK = b"\x1e"
LOCATION_END = b"\x1f"


def decode_line(raw: bytes) -> str:
    """Decode one line of a file that may merge sources in different encodings."""
    for codec in ("utf-8", "gb18030"):
        try:
            return raw.decode(codec)
        except UnicodeDecodeError:
            continue
    return raw.decode("utf-8", "replace")


def normalise(text: str) -> str:
    """Full-width digits and letters to ASCII (NFKC), the way Chinese IMEs type them."""
    return unicodedata.normalize("NFKC", text)


def phone_present(text: str, form: PhoneForm) -> bool:
    """True if ``text`` holds this number as a whole phone number in any grouping."""
    national = form.national
    for run in _PHONE_RUN.finditer(text):
        digits, gap = [], []
        previous_digit = False
        for ch in run.group().lstrip("+"):
            if ch.isdigit():
                gap.append(not previous_digit and bool(digits))
                digits.append(ch)
                previous_digit = True
            elif ch in _PHONE_INNER:
                previous_digit = False
        joined = "".join(digits)
        start = joined.find(national)
        while start >= 0:
            end = start + len(national)
            after_ok = end == len(joined) or gap[end]
            if after_ok and _before_ok(joined, gap, start, form.prefixes):
                return True
            start = joined.find(national, start + 1)
    return False


def _before_ok(digits: str, gap: list[bool], start: int, prefixes: tuple[str, ...]) -> bool:
    if start == 0 or gap[start]:
        return True
    before = digits[:start]
    for prefix in prefixes:
        if before.endswith(prefix):
            at = start - len(prefix)
            if at == 0 or gap[at]:
                return True
    return False


def squeeze(text: str) -> str:
    """Remove spaces between Han characters ("王 芳" is padded 王芳)."""
    return _HAN_GAP.sub("", text)


def han_name_present(squeezed: str, form: NameForm) -> bool:
    """True if a Han spelling of the name stands on its own (not inside a longer name);
    ``squeezed`` is the line after :func:`squeeze`."""
    for han in form.han:
        at = squeezed.find(han)
        while at >= 0:
            end = at + len(han)
            before_ok = at == 0 or not _HAN.match(squeezed[at - 1])
            after_ok = end == len(squeezed) or not _HAN.match(squeezed[end])
            if not after_ok:
                after_ok = squeezed.startswith(_AFTER_NAME, end)
            if before_ok and after_ok:
                return True
            at = squeezed.find(han, at + 1)
    return False


def latin_words(text: str) -> list[str]:
    """Lower-case letter runs, tone marks removed ("Wáng Xiǎofāng" -> wang, xiaofang)."""
    plain = "".join(
        ch for ch in unicodedata.normalize("NFKD", text.lower()) if not unicodedata.combining(ch)
    )
    return _LATIN_WORD.findall(plain)


def latin_name_present(words: list[str], form: NameForm) -> bool:
    """True if whole words (from :func:`latin_words`) spell the name in pinyin, in
    either order, with any spacing."""
    if not form.spellings or not words:
        return False
    longest = max(len(s) for s in form.spellings)
    for i in range(len(words)):
        joined = ""
        for word in words[i : i + 4]:
            joined += word
            if len(joined) > longest:
                break
            if joined in form.spellings:
                return True
    return False


def dates_in(text: str) -> set[dt.date]:
    """Calendar dates written in the text: 2024-03-05, 2024/3/5, 2024年3月5日, 20240305,
    05/03/2024 and 03/05/2024 (both readings of an ambiguous day/month order)."""
    found: set[dt.date] = set()

    def add(y: str, m: str, d: str) -> None:
        with contextlib.suppress(ValueError):  # 2026-02-30 is no date
            found.add(dt.date(int(y), int(m), int(d)))

    for y, m, d in _YMD.findall(text):
        add(y, m, d)
    for y, m, d in _COMPACT.findall(text):
        add(y, m, d)
    for a, b, y in _DMY.findall(text):
        add(y, b, a)
        add(y, a, b)
    return found


def ids_in(text: str) -> set[str]:
    """Resident ID numbers (18 characters, grouped or not) in the text."""
    return {"".join(m) for m in _ID.findall(text.upper())}


def split_location(raw: bytes) -> tuple[str, bytes]:
    """A line generated from a workbook or JSON file starts with its location."""
    if raw.startswith(LOCATION_MARK):
        end = raw.find(LOCATION_END)
        if end > 0:
            return raw[1:end].decode("utf-8", "replace"), raw[end + 1 :]
    return "", raw
