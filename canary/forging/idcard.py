"""Chinese resident ID numbers (GB 11643-1999): 6-digit region, 8-digit birth date,
3-digit sequence (odd for men, even for women), ISO 7064 MOD 11-2 check character."""

from __future__ import annotations

import datetime as dt
import re

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"
_FULL = re.compile(r"^\d{17}[\dXx]$")


def check_char(first17: str) -> str:
    """The GB 11643 check character of the first 17 digits."""
    total = sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True))
    return _CHECK[total % 11]


def is_valid(text: str) -> bool:
    """A full 18-character ID with a correct check character and a real birth date."""
    if not _FULL.match(text):
        return False
    if check_char(text[:17]) != text[17].upper():
        return False
    return birth_date(text) is not None


def birth_date(text: str) -> dt.date | None:
    try:
        day = dt.datetime.strptime(text[6:14], "%Y%m%d").date()
    except ValueError:
        return None
    return day if 1900 <= day.year <= 2100 else None


def make(region: str, born: dt.date, sequence: int, *, upper_x: bool = True) -> str:
    """A full ID with a valid check character (the sequence's parity gives the sex)."""
    first17 = f"{region[:6]}{born:%Y%m%d}{sequence % 1000:03d}"
    check = check_char(first17)
    return first17 + (check if upper_x else check.lower())
