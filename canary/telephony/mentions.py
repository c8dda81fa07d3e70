"""Does a message or transcript mention a canary's name or its baby's birth date?

Marketers greet the mother by name ("王芳女士您好") or congratulate on the birth date
("宝宝11月20号出生"). Either ties a contact to one canary far more strongly than the
number alone, which other canaries or spam may share.

Names are compared as toneless pinyin syllables because speech-to-text writes
homophones (王芳 → 王方, 曾 → 增). The canary side keeps every reading of each
character (pypinyin's heteronyms: 曾 is céng or zēng, 单 dān or shàn as surnames), the
text side uses the contextual reading, so "增小芳" matches 曾小芳. Fuzzy initials
(zh/z, n/l) are deliberately not used: they over-match (DOMAIN.md).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass

from pypinyin import Style, lazy_pinyin, pinyin

HAN = re.compile(r"[\u3400-\u9fff]")
LATIN_WORD = re.compile(r"[a-z]+")


@dataclass(frozen=True)
class Persona:
    canary_id: int
    name: str = ""
    birth_date: dt.date | None = None


def _name_readings(name: str) -> list[frozenset[str]]:
    return [
        frozenset(r for r in readings if r)
        for readings in pinyin(name, style=Style.NORMAL, heteronym=True)
    ]


def _text_syllables(text: str) -> list[str]:
    """One toneless syllable per Han character; other characters break the run."""
    # Spaces and control characters inside a name ("王 芳") do not hide it.
    text = re.sub(r"(?<=[\u3400-\u9fff])[\s\x00-\x1f]+(?=[\u3400-\u9fff])", "", text)
    out = []
    for token in lazy_pinyin(text, style=Style.NORMAL, errors=lambda chunk: ["|"] * len(chunk)):
        out.append(token if token and token.isalpha() else "|")
    return out


def mentions_name(text: str, name: str) -> bool:
    """True if ``text`` contains ``name`` or a homophone of it (Han or pinyin spelling)."""
    name = "".join(HAN.findall(name or ""))
    if len(name) < 2 or not text:
        return False
    readings = _name_readings(name)
    syllables = _text_syllables(text)
    width = len(readings)
    for start in range(len(syllables) - width + 1):
        if all(syllables[start + i] in readings[i] for i in range(width)):
            return True
    return _mentions_latin(text, readings)


def _mentions_latin(text: str, readings: list[frozenset[str]]) -> bool:
    # English transcripts spell the name in pinyin: "Wang Fang", "Fang Wang", "Wangfang".
    words = LATIN_WORD.findall(text.lower().replace("ü", "v"))
    if not words:
        return False
    spellings = {"".join(choice) for choice in _product(readings)}
    given_first = readings[1:] + readings[:1]
    spellings |= {"".join(choice) for choice in _product(given_first)}
    for start in range(len(words)):
        joined = ""
        for end in range(start, min(len(words), start + len(readings))):
            joined += words[end]
            if joined in spellings:
                return True
    return False


def _product(readings: list[frozenset[str]], limit: int = 64) -> Iterable[tuple[str, ...]]:
    combos: list[tuple[str, ...]] = [()]
    for options in readings:
        combos = [c + (o,) for c in combos for o in sorted(options)][:limit]
    return combos


# -- birth dates -------------------------------------------------------------------
CN_DIGITS = {
    "零": 0,
    "〇": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
CN_NUM = "零〇一二两三四五六七八九十廿卅"
MONTHS = {
    name: i
    for i, names in enumerate(
        (
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ),
        start=1,
    )
    for name in names
}
ORDINALS = {
    w: i
    for i, w in enumerate(
        [
            "first",
            "second",
            "third",
            "fourth",
            "fifth",
            "sixth",
            "seventh",
            "eighth",
            "ninth",
            "tenth",
            "eleventh",
            "twelfth",
            "thirteenth",
            "fourteenth",
            "fifteenth",
            "sixteenth",
            "seventeenth",
            "eighteenth",
            "nineteenth",
            "twentieth",
        ],
        start=1,
    )
}
ORDINALS.update({"twenty-" + w: 20 + i for w, i in list(ORDINALS.items()) if i < 10})
ORDINALS.update({"thirtieth": 30, "thirty-first": 31})


def _cn_number(text: str) -> int | None:
    """十一 → 11, 二十 → 20, 廿三 → 23, 二零二六 → 2026 (digit by digit)."""
    text = text.replace("廿", "二十").replace("卅", "三十")
    if not text:
        return None
    if all(ch in CN_DIGITS for ch in text):
        return int("".join(str(CN_DIGITS[ch]) for ch in text))
    if text.count("十") == 1:
        tens, _, ones = text.partition("十")
        if (tens and tens not in CN_DIGITS) or (ones and ones not in CN_DIGITS):
            return None
        return (CN_DIGITS[tens] if tens else 1) * 10 + (CN_DIGITS[ones] if ones else 0)
    return None


def _num(token: str) -> int | None:
    return int(token) if token.isdigit() else _cn_number(token)


_N = rf"(\d{{1,4}}|[{CN_NUM}]{{1,4}})"
CN_DATE = re.compile(rf"(?:{_N}\s*年\s*)?{_N}\s*月\s*{_N}\s*[日号號]")
NUMERIC_DATE = re.compile(r"(?<!\d)(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})(?!\d)")
COMPACT_DATE = re.compile(r"(?<!\d)(20\d{2})(\d{2})(\d{2})(?!\d)")
SLASH_MD = re.compile(r"(?<![\d/])(\d{1,2})/(\d{1,2})(?![\d/])")
_DAY = r"(\d{1,2}(?:st|nd|rd|th)?|[a-z]+(?:-[a-z]+)?)"
_MONTH = "(" + "|".join(sorted(MONTHS, key=len, reverse=True)) + ")"
EN_MONTH_DAY = re.compile(rf"\b{_MONTH}\.?\s+(?:the\s+)?{_DAY}\b(?:,?\s+(\d{{4}}))?")
EN_DAY_MONTH = re.compile(rf"\b(?:the\s+)?{_DAY}\s+(?:of\s+)?{_MONTH}\b\.?(?:,?\s+(\d{{4}}))?")


def _en_day(token: str) -> int | None:
    digits = token.rstrip("stndrh")
    return int(digits) if digits.isdigit() else ORDINALS.get(token)


def dates_in(text: str) -> set[tuple[int | None, int, int]]:
    """(year or None, month, day) of every date written or spoken in the text."""
    found: set[tuple[int | None, int, int]] = set()

    def add(year, month, day):
        if month and day and 1 <= month <= 12 and 1 <= day <= 31:
            found.add((year if year and 1900 <= year <= 2100 else None, month, day))

    for y, m, d in CN_DATE.findall(text):
        add(_num(y) if y else None, _num(m), _num(d))
    for y, m, d in NUMERIC_DATE.findall(text):
        add(int(y), int(m), int(d))
    for y, m, d in COMPACT_DATE.findall(text):
        add(int(y), int(m), int(d))
    lowered = text.lower()
    for m, d in SLASH_MD.findall(lowered):
        add(None, int(m), int(d))  # 11/20 (US order); 20/11 adds the day-first reading
        add(None, int(d), int(m))
    for month, day, year in EN_MONTH_DAY.findall(lowered):
        add(int(year) if year else None, MONTHS.get(month, 0), _en_day(day))
    for day, month, year in EN_DAY_MONTH.findall(lowered):
        add(int(year) if year else None, MONTHS.get(month, 0), _en_day(day))
    return found


def mentions_date(text: str, date: dt.date | None) -> bool:
    """True if the text names this date (year optional, as people say it)."""
    if date is None or not text:
        return False
    for year, month, day in dates_in(text):
        if (month, day) == (date.month, date.day) and year in (None, date.year):
            return True
    return False


def find(text: str, personas: Iterable[Persona]) -> list[tuple[int, str]]:
    """(canary_id, strength) for each persona the text mentions by name or birth date."""
    hits = []
    for persona in personas:
        if mentions_name(text, persona.name):
            hits.append((persona.canary_id, "name_mention"))
        if mentions_date(text, persona.birth_date):
            hits.append((persona.canary_id, "birth_date"))
    return hits


NAME_KEYS = ("name", "mother_name", "full_name")
DATE_KEYS = ("birth_date", "baby_birth_date", "baby_birthday", "delivery_date")


def persona_of(view: dict) -> Persona:
    """Pick the name and birth date out of a registry view (``registry.system_read``)."""
    persona = view.get("persona") or {}
    name = next((str(persona[k]) for k in NAME_KEYS if persona.get(k)), "")
    birth = None
    for key in DATE_KEYS:
        raw = persona.get(key)
        if raw:
            try:
                birth = dt.date.fromisoformat(str(raw)[:10])
                break
            except ValueError:
                continue
    return Persona(canary_id=int(view["id"]), name=name, birth_date=birth)
