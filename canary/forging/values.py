"""Reading and writing cell text exactly the way a feed writes it.

Formats are learnt by example: a date's layout (``2026-11-23``, ``2026/11/23``,
``2026年11月23日``, ``11/23/2026``, with or without a time), a number's decimals, and a
"digit template" that swaps the digits of a real cell for new ones while keeping its
separators and masks (``138-0013-8000``, ``310***********1234``). Copying the layout of
a real cell is what keeps an insider's "this one is formatted differently" rule blind.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

# Characters a spreadsheet would start a formula with (CSV injection, OWASP).
FORMULA_LEADS = ("=", "+", "-", "@")

_YMD = re.compile(
    r"^(?P<y>\d{4})(?P<s1>[-/.年])(?P<m>\d{1,2})(?P<s2>[-/.月])(?P<d>\d{1,2})(?P<s3>日?)"
    r"(?P<t>(?P<ts>[ T])(?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2}))?)?$"
)
_MDY = re.compile(
    r"^(?P<m>\d{1,2})(?P<s1>/)(?P<d>\d{1,2})(?P<s2>/)(?P<y>\d{4})"
    r"(?P<t>(?P<ts> )(?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2}))?)?$"
)
_COMPACT = re.compile(r"^(?P<y>(?:19|20)\d{2})(?P<m>[01]\d)(?P<d>[0-3]\d)$")


@dataclass(frozen=True)
class DateLayout:
    """How one cell writes a date: order, separators, padding, time precision."""

    order: str  # "ymd", "mdy", "compact"
    s1: str = "-"
    s2: str = "-"
    s3: str = ""
    pad: bool = True
    time: str = ""  # "", "HM" or "HMS"
    time_sep: str = " "
    hour_pad: bool = True

    def render(self, value: dt.datetime) -> str:
        def two(n: int, pad: bool) -> str:
            return f"{n:02d}" if pad else str(n)

        if self.order == "compact":
            text = value.strftime("%Y%m%d")
        elif self.order == "mdy":
            text = f"{two(value.month, self.pad)}/{two(value.day, self.pad)}/{value.year}"
        else:
            text = (
                f"{value.year}{self.s1}{two(value.month, self.pad)}{self.s2}"
                f"{two(value.day, self.pad)}{self.s3}"
            )
        if self.time:
            text += f"{self.time_sep}{two(value.hour, self.hour_pad)}:{value.minute:02d}"
            if self.time == "HMS":
                text += f":{value.second:02d}"
        return text


def parse_date(text: str) -> tuple[dt.datetime, DateLayout] | None:
    """A cell's date (and time) with its layout, or None if the cell is no date."""
    text = text.strip()
    for order, pattern in (("ymd", _YMD), ("mdy", _MDY), ("compact", _COMPACT)):
        m = pattern.match(text)
        if not m:
            continue
        g = m.groupdict()
        try:
            hour = int(g.get("H") or 0)
            value = dt.datetime(
                int(g["y"]),
                int(g["m"]),
                int(g["d"]),
                hour,
                int(g.get("M") or 0),
                int(g.get("S") or 0),
            )
        except ValueError:
            return None
        if not 1900 <= value.year <= 2100:
            return None
        padded = order == "compact" or (len(g["m"]) == 2 and len(g["d"]) == 2)
        time = ""
        if g.get("t"):
            time = "HMS" if g.get("S") else "HM"
        layout = DateLayout(
            order=order,
            s1=g.get("s1") or "",
            s2=g.get("s2") or "",
            s3=g.get("s3") or "",
            pad=padded,
            time=time,
            time_sep=g.get("ts") or " ",
            hour_pad=len(g.get("H") or "00") == 2,
        )
        return value, layout
    return None


_NUMBER = re.compile(r"^-?\d+(?:\.\d+)?$")


def parse_number(text: str) -> float | None:
    text = text.strip()
    if not _NUMBER.match(text):
        return None
    return float(text)


def decimals_of(text: str) -> int:
    text = text.strip()
    return len(text.split(".", 1)[1]) if "." in text else 0


def render_number(value: float, decimals: int) -> str:
    return f"{value:.{decimals}f}" if decimals else str(int(round(value)))


def fill_digits(template: str, digits: str) -> str:
    """Put ``digits`` into the digit places of ``template``, right-aligned.

    ``fill_digits("+86 138-0013-8000", "13912345678")`` gives ``+86 139-1234-5678``:
    the leading country code keeps its digits because only the last ``len(digits)``
    digit places are replaced; masks (``*``) and separators stay as they are.
    """
    places = [i for i, ch in enumerate(template) if ch.isdigit()]
    out = list(template)
    # Masked templates have fewer digit places than the number: keep the tail aligned.
    masked = [i for i, ch in enumerate(template) if ch in "*xX×#"]
    if masked and len(places) < len(digits):
        slots = sorted(places + masked)[-len(digits) :]
        for i, d in zip(slots, digits, strict=True):
            if template[i].isdigit():
                out[i] = d
        return "".join(out)
    if len(places) < len(digits):
        raise ValueError("template has fewer digit places than the number")
    for i, d in zip(places[len(places) - len(digits) :], digits, strict=True):
        out[i] = d
    return "".join(out)


def shape(text: str) -> str:
    """A cell's shape: digits -> 9, letters -> a/A, Han -> 汉, others kept (``138-9999-9999``)."""
    out = []
    for ch in text:
        if ch.isdigit():
            out.append("9")
        elif "\u4e00" <= ch <= "\u9fff":
            out.append("汉")
        elif ch.isalpha():
            out.append("A" if ch.isupper() else "a")
        else:
            out.append(ch)
    return "".join(out)


def formula_safe(text: str) -> bool:
    """True when a spreadsheet would read the cell as text or a plain number, not a formula."""
    if not text.startswith(FORMULA_LEADS):
        return True
    if text == "-":
        return True
    return parse_number(text.lstrip("+")) is not None and text.count("+") <= 1
