"""How a canary's fields may be written in a leaked file.

A buyer's file rarely keeps the feed's formatting: phones are regrouped
(``+86 138 0013 8000``, ``138-0013-8000``, ``0086…``), names are romanised (``Wang
Xiaofang``, ``XIAOFANG WANG``, ``wáng xiǎofāng``, ``wang2 xiao3fang1``) or converted to
traditional characters by OpenCC, and the text is re-encoded (GB18030 from Chinese Excel,
Big5 from Taiwan or Hong Kong tools). This module lists, for one field, the byte strings
(*anchors*) that any such rendering contains, so a literal multi-pattern matcher can find
candidates at C speed, and the readings that the confirmation step accepts.
"""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass, field
from functools import lru_cache

import phonenumbers
from pypinyin import Style, lazy_pinyin, pinyin

# Separators written between phone digit groups. Every grouping keeps its last two
# groups apart by at most one of these, so "group + separator + group" is an anchor.
PHONE_GROUP_SEPARATORS = ("", " ", "-", ".", "/")
# Groupings (digit counts) used for national numbers of each length: CN mobiles are
# written 3-4-4 and sometimes 4-3-4; CN fixed lines 2-4-4 (Shanghai 21…) or 3-4-4;
# NANP numbers 3-3-4.
GROUPINGS = {11: ((3, 4, 4), (4, 3, 4)), 10: ((3, 3, 4), (2, 4, 4)), 9: ((2, 3, 4),)}
TEXT_ENCODINGS = ("utf-8", "gb18030")
# Surnames whose reading differs from the everyday reading of the character
# (DOMAIN.md: "pypinyin: surnames need a surname reading override").
SURNAME_READINGS = {
    "曾": ("zeng",),
    "单": ("shan",),
    "解": ("xie",),
    "仇": ("qiu",),
    "朴": ("piao",),
    "查": ("zha",),
    "区": ("ou",),
    "盖": ("ge",),
    "乐": ("yue", "le"),
    "任": ("ren",),
    "华": ("hua",),
    "种": ("chong",),
    "缪": ("miao",),
    "翟": ("zhai",),
    "覃": ("qin",),
    "沈": ("shen",),
    "召": ("shao",),
    "秘": ("bi",),
    "长孙": ("zhangsun",),
    "尉迟": ("yuchi",),
    "万俟": ("moqi",),
    "单于": ("chanyu",),
}
COMPOUND_SURNAMES = frozenset(
    [
        "欧阳",
        "司马",
        "上官",
        "诸葛",
        "东方",
        "皇甫",
        "尉迟",
        "公孙",
        "慕容",
        "令狐",
        "夏侯",
        "司徒",
        "长孙",
        "宇文",
        "轩辕",
        "端木",
        "独孤",
        "南宫",
        "西门",
        "呼延",
        "万俟",
        "单于",
        "澹台",
        "公冶",
        "太史",
        "申屠",
        "钟离",
        "闻人",
        "赫连",
        "濮阳",
    ]
)
# Written forms of ü in romanised names: pypinyin's "v", passports' "yu", plain "u".
U_UMLAUT = ("v", "u", "yu", "ü")


@dataclass(frozen=True)
class PhoneForm:
    """A pool number as it may appear: its national digits and calling-code prefixes."""

    e164: str
    national: str
    # Digit strings that may stand directly before the national number ("86", "0086").
    prefixes: tuple[str, ...]
    anchors: tuple[bytes, ...]


def phone_form(e164: str) -> PhoneForm:
    """Anchors for one number: the tail groups of every usual grouping, any separator."""
    parsed = phonenumbers.parse(e164)
    national = str(parsed.national_number)
    cc = str(parsed.country_code)
    prefixes = (cc, "00" + cc, "0" + cc, "0")
    anchors: set[str] = set()
    for number, grouping in enumerate(GROUPINGS.get(len(national), ((len(national) - 4, 4),))):
        tail = grouping[-2:] if len(grouping) > 1 else grouping
        if sum(tail) < 7:  # too short to be selective; use the whole number
            tail = (len(national),)
        parts = _split(national[-sum(tail) :], tail)
        # The first grouping's contiguous form covers every other grouping's; short
        # digit literals are what slow the matcher down on digit-heavy files.
        separators = PHONE_GROUP_SEPARATORS if number == 0 else PHONE_GROUP_SEPARATORS[1:3]
        for sep in separators:
            anchors.add(sep.join(parts))
    ascii_anchors = {a.encode() for a in anchors}
    # Full-width digits (Chinese input methods, some Excel exports), contiguous only.
    wide = national[-8:].translate(_FULLWIDTH)
    for enc in TEXT_ENCODINGS:
        ascii_anchors.add(wide.encode(enc))
    return PhoneForm(e164, national, prefixes, tuple(sorted(ascii_anchors)))


_FULLWIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


def _split(digits: str, sizes: tuple[int, ...]) -> list[str]:
    out, i = [], 0
    for size in sizes:
        out.append(digits[i : i + size])
        i += size
    return out


@dataclass(frozen=True)
class NameForm:
    """A persona's name: Han spellings, romanised spellings and matcher anchors."""

    name: str
    han: frozenset[str]  # simplified, traditional (Taiwan, Hong Kong) forms
    # Letters-only, lower-case romanisations, surname first and given name first.
    spellings: frozenset[str]
    anchors: tuple[bytes, ...]
    caseless_anchors: tuple[bytes, ...] = field(default=())


def _opencc(config: str, text: str) -> str:
    return _converter(config).convert(text)


@lru_cache(maxsize=8)
def _converter(config: str):
    import opencc

    return opencc.OpenCC(config)


def han_forms(name: str) -> frozenset[str]:
    """The name in simplified and traditional characters (OpenCC s2t, s2tw, s2hk, t2s)."""
    forms = {name}
    for config in ("s2t", "s2tw", "s2hk", "t2s"):
        forms.add(_opencc(config, name))
    return frozenset(f for f in forms if f)


def split_name(simplified: str) -> tuple[str, str]:
    """(surname, given name); compound surnames such as 欧阳 count as one."""
    if len(simplified) >= 3 and simplified[:2] in COMPOUND_SURNAMES:
        return simplified[:2], simplified[2:]
    return simplified[:1], simplified[1:]


def _readings(chars: str, *, surname: bool, style: Style) -> list[list[str]]:
    """Possible romanisations per syllable (surnames with their special readings)."""
    if surname and chars in SURNAME_READINGS and style == Style.NORMAL:
        return [list(SURNAME_READINGS[chars])]
    contextual = lazy_pinyin(chars, style=style)
    if not surname:
        return [[r] for r in contextual]
    out = []
    for char, first in zip(chars, contextual, strict=False):
        options = [first]
        if style == Style.NORMAL:
            options += [r for r in pinyin(char, style=style, heteronym=True)[0] if r not in options]
            options += [r for r in SURNAME_READINGS.get(char, ()) if r not in options]
        out.append(options)
    return out


def _umlauts(syllable: str) -> list[str]:
    if "v" not in syllable:
        return [syllable]
    return [syllable.replace("v", u) for u in U_UMLAUT]


def _spell(readings: list[list[str]]) -> set[str]:
    out = set()
    for choice in itertools.product(*readings):
        for spelled in itertools.product(*(_umlauts(s) for s in choice)):
            out.add("".join(spelled))
    return out


def name_form(name: str) -> NameForm | None:
    """Han and romanised forms of a Chinese name; None for names too short to match."""
    name = "".join(ch for ch in (name or "") if not ch.isspace())
    if len(name) < 2:
        return None
    # Two-character names (李娜) are so common that a record holding one means little
    # without a phone or ID: they are confirmed on records those reach, not anchored.
    anchored = len(name) >= 3
    simplified = _opencc("t2s", name)
    han = han_forms(simplified) | {name}
    anchors: set[bytes] = set()
    for form in han:
        sur, given = split_name(form)
        # Two-character names are often padded to three columns: "王  芳".
        texts = (form, f"{sur} {given}") if len(given) == 1 else (form,)
        encodings = (*TEXT_ENCODINGS, "big5") if form != simplified else TEXT_ENCODINGS
        for text in texts:
            for enc in encodings:
                try:
                    anchors.add(text.encode(enc))
                except UnicodeEncodeError:
                    continue
    sur, given = split_name(simplified)
    if not all("\u3400" <= ch <= "\u9fff" for ch in simplified):
        return NameForm(
            name, frozenset(han), frozenset(), tuple(sorted(anchors)) if anchored else ()
        )
    sur_plain = _spell(_readings(sur, surname=True, style=Style.NORMAL))
    given_syllables = _readings(given, surname=False, style=Style.NORMAL)
    given_plain = _spell(given_syllables)
    spellings = {s + g for s in sur_plain for g in given_plain}
    spellings |= {g + s for s in sur_plain for g in given_plain}
    caseless = set()
    toned_sur = "".join(lazy_pinyin(sur, style=Style.TONE))
    toned_given = lazy_pinyin(given, style=Style.TONE)
    numbered_given = lazy_pinyin(given, style=Style.TONE3)
    if len(given) >= 2:
        # Romanised given names keep their syllables together ("Xiaofang", "Xiao-Fang"),
        # so the given name alone anchors either order of surname and given name.
        for parts in itertools.product(*(_umlauts(r[0]) for r in given_syllables)):
            for sep in ("", " ", "-"):
                caseless.add(sep.join(parts))
        caseless.add("".join(toned_given))
        caseless.add("".join(numbered_given))
    else:
        for s in sur_plain:
            for g in given_plain:
                for sep in ("", " "):
                    caseless.add(f"{s}{sep}{g}")
                    caseless.add(f"{g}{sep}{s}")
        for sep in ("", " "):
            caseless.add(f"{toned_sur}{sep}{toned_given[0]}")
            caseless.add(f"{toned_given[0]}{sep}{toned_sur}")
    if not anchored:
        anchors, caseless = set(), set()
    return NameForm(
        name,
        frozenset(han),
        frozenset(spellings),
        tuple(sorted(anchors)),
        tuple(sorted(c.encode("utf-8") for c in caseless if len(c) >= 4)),
    )


def id_anchors(id_number: str) -> tuple[bytes, ...]:
    """A resident ID number, contiguous and grouped 6-8-4 (region, birth date, serial)."""
    value = "".join(ch for ch in id_number if ch.isalnum()).upper()
    if len(value) < 8:
        return ()
    out = {value}
    if len(value) == 18:
        out.add(f"{value[:6]} {value[6:14]} {value[14:]}")
    return tuple(sorted(v.encode() for v in out))


def parse_date(raw: object) -> dt.date | None:
    """A persona's stored date (ISO text, date or datetime)."""
    if isinstance(raw, dt.datetime):
        return raw.date()
    if isinstance(raw, dt.date):
        return raw
    text = str(raw or "").strip()
    try:
        return dt.date.fromisoformat(text[:10])
    except ValueError:
        return None
