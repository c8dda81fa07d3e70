"""Where canary rows go: between real neighbours that keep the file's order.

Only neighbours the sample actually holds are used (the reader keeps consecutive
blocks), so every chosen gap is one where both rows around the canary are known and
its sort-key values can be checked against them. Appending at the end or the top,
the classic giveaway, happens only as often as any other gap.
"""

from __future__ import annotations

import datetime as dt
import random

from canary.forging.ordering import fits
from canary.forging.profile import FeedProfile
from canary.forging.values import parse_date


def gaps(profile: FeedProfile) -> list[int]:
    """Insert positions whose rows on both sides are in the sample (plus known ends)."""
    present = set(profile.indices)
    # Over the sample, not range(total_rows): same gaps, without a loop over a 1M-row file.
    out = [p for p in present if 1 <= p < profile.total_rows and p - 1 in present]
    if 0 in present:
        out.append(0)
    if profile.total_rows - 1 in present:
        out.append(profile.total_rows)
    return sorted(set(out))


def neighbours(profile: FeedProfile, position: int) -> tuple[list[str] | None, list[str] | None]:
    by_index = dict(zip(profile.indices, profile.rows, strict=True))
    return by_index.get(position - 1), by_index.get(position)


def in_window_gaps(profile: FeedProfile, window: tuple[dt.date, dt.date]) -> list[int]:
    """Gaps whose donor rows have their event dates inside the period (if the file has any).

    Event-date columns are the date columns with at least one value inside the window;
    a canary dated inside the period then also sits among rows of that date.
    """
    # The same for every holder's canaries of a delivery and period: work it out once.
    memo = profile.memo.setdefault("in_window_gaps", {})
    if window not in memo:
        memo[window] = _in_window_gaps(profile, window)
    return memo[window]


def _in_window_gaps(profile: FeedProfile, window: tuple[dt.date, dt.date]) -> list[int]:
    start, end = window
    event_cols = [
        c.index
        for c in profile.of_role("date")
        if any(start <= p[0].date() <= end for p in map(parse_date, c.values[:2000]) if p)
    ]
    all_gaps = gaps(profile)
    if not event_cols:
        return all_gaps

    def inside(row: list[str] | None) -> bool:
        if row is None:
            return False
        days = [parse_date(row[i]) for i in event_cols]
        return all(d is None or start <= d[0].date() <= end for d in days)

    by_index = dict(zip(profile.indices, profile.rows, strict=True))
    chosen = [p for p in all_gaps if inside(by_index.get(p - 1)) or inside(by_index.get(p))]
    return chosen or all_gaps


def place(profile: FeedProfile, row: list[str], rng: random.Random) -> int | None:
    """A position where ``row`` keeps the sort order, chosen at random; None if none fits."""
    if not profile.sort_keys:
        return rng.randint(0, profile.total_rows)
    by_index = dict(zip(profile.indices, profile.rows, strict=True))
    fitting = [
        p
        for p in gaps(profile)
        if fits(profile.sort_keys, by_index.get(p - 1), row, by_index.get(p))
    ]
    return rng.choice(fitting) if fitting else None
