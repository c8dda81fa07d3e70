"""Names as they are spoken: toneless pinyin with surname readings, and keyed name keys.

Canaries that share a phone number are told apart by what the caller says ("is this
Ms Zhang Li?"). Two names written differently but read the same (张丽 / 章莉) would be
confused on the phone, so the comparison is on toneless pinyin, with the surname read
as a surname (曾 zeng not ceng, 单 shan not dan) from the locale pack's readings.
"""

from __future__ import annotations

import re

from pypinyin import Style, lazy_pinyin

from canary.forging.locales import LocalePack
from canary.security.crypto import KeyRing

_HAN = re.compile(r"[\u4e00-\u9fff]")


def is_han(text: str) -> bool:
    return bool(_HAN.search(text or ""))


def split_han(name: str, pack: LocalePack) -> tuple[str, str]:
    """(surname, given name): compound surnames (欧阳) are matched first."""
    name = name.strip()
    for compound in pack.compound_surnames:
        if name.startswith(compound) and len(name) > len(compound):
            return compound, name[len(compound) :]
    return name[:1], name[1:]


def spoken(name: str, pack: LocalePack | None = None) -> str:
    """Toneless reading: ``曾小凡`` -> ``zeng xiao fan``; Latin names are lower-cased words."""
    name = (name or "").strip()
    if not is_han(name):
        return " ".join(re.findall(r"[a-z]+", name.lower()))
    surname, given = split_han(name, pack) if pack else (name[:1], name[1:])
    readings = pack.surname_readings if pack else {}
    head = readings.get(surname) or " ".join(lazy_pinyin(surname, style=Style.NORMAL))
    tail = lazy_pinyin(given, style=Style.NORMAL) if given else []
    return " ".join([head, *tail]).strip()


def name_key(keys: KeyRing, name: str, pack: LocalePack | None = None) -> str:
    """The keyed hash of a name's spoken form, stored as ``Canary.name_key``.

    Keyed so the registry's index does not let anyone test a guessed name offline.
    """
    return keys.lookup_hash("name", spoken(name, pack))


def collation_key(name: str) -> str:
    """The order Chinese spreadsheets sort names in (by pinyin, then by character)."""
    if not is_han(name):
        return name.lower()
    return " ".join(lazy_pinyin(name, style=Style.NORMAL)) + "\x00" + name
