"""Periods: canaries are minted per copy per ISO week (``2026-W48``) by default."""

from __future__ import annotations

import datetime as dt
import re

from canary.errors import CanaryError

_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")


def period_of(moment: dt.date | dt.datetime) -> str:
    day = moment.date() if isinstance(moment, dt.datetime) else moment
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def parse(period: str) -> tuple[int, int]:
    match = _WEEK.match(period or "")
    if not match:
        raise CanaryError(f"period {period!r} must be an ISO week like 2026-W48")
    year, week = int(match.group(1)), int(match.group(2))
    try:
        dt.date.fromisocalendar(year, week, 1)
    except ValueError as exc:
        raise CanaryError(f"period {period!r} is not a valid ISO week") from exc
    return year, week


def window(period: str) -> tuple[dt.date, dt.date]:
    """First and last day (Monday..Sunday) of the period."""
    year, week = parse(period)
    start = dt.date.fromisocalendar(year, week, 1)
    return start, start + dt.timedelta(days=6)


def start_of(period: str) -> dt.datetime:
    return dt.datetime.combine(window(period)[0], dt.time(), tzinfo=dt.UTC)


def shift(period: str, weeks: int) -> str:
    return period_of(window(period)[0] + dt.timedelta(weeks=weeks))


def span(first: str, last: str) -> str:
    """Human label: "2026-W40–W44", or a single week."""
    if first == last:
        return first
    if first[:4] == last[:4]:
        return f"{first}–{last[5:]}"
    return f"{first}–{last}"
