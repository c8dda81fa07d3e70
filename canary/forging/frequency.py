"""Draw a value the way one more real row would: Good–Turing over the feed's own counts.

An insider's frequency rules ("the only row with this carrier prefix", "a name character
seen nowhere else") compare how often a row's value occurs elsewhere. For a real row the
other rows hold its value ``c - 1`` times, where ``c`` is the value's count including
the row itself. A canary must show the same spread *after* it is added, so it takes a
value the feed holds ``k`` times with the chance a real row's value is held ``k`` times
by the others: ``(k + 1) * N_{k+1} / N`` (Good 1953; ``N_r`` is the number of values seen
``r`` times). For ``k = 0`` that is the Good–Turing chance of a value the feed has not
shown, ``N_1 / N``. Drawing by raw frequency instead would make every canary's value one
count more common than a real row's, which a classifier picks up.

A value new to one delivery is not necessarily new to an insider who keeps many
deliveries: the rarer values of a feed mostly recur in a bigger sample, a forged newcomer
from a generic pack rarely does. :func:`novelty_survival` extrapolates, by rarefaction,
how the feed's singleton share falls as its sample grows, and thins "new" draws to the
share expected at the scale of an insider's archive (``INSIDER_SCALE`` deliveries).
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Mapping

# How many deliveries' worth of rows an insider compares a row against: a quarter of
# weekly lists. Canaries' "never seen elsewhere" values are thinned to that scale.
INSIDER_SCALE = 12.0


def occurrence_draw(rng: random.Random, counts: Counter) -> int | None:
    """How many times the feed holds the value of one more row (``k``); None if empty."""
    total = sum(counts.values())
    if total <= 0:
        return None
    pick = rng.randrange(total)
    for value in sorted(counts):
        pick -= counts[value]
        if pick < 0:
            return counts[value] - 1
    return 0  # unreachable: pick < total


def with_count(
    rng: random.Random, counts: Counter, k: int, prior: Mapping[str, float] | None = None
) -> str:
    """A value held ``k`` times (or as near to ``k`` as the feed has).

    Among equally frequent values the ``prior`` (population shares: the locale pack, the
    pool bought in proportion to the market) decides: a real row whose value the others
    hold ``k`` times has a commoner value than a typical value held ``k`` times, by a
    factor that grows with its population share. Without a prior the choice is uniform.
    """
    levels = sorted({n for n in counts.values() if n > 0})
    nearest = min(levels, key=lambda n: (abs(n - k), n))
    tier = sorted(v for v, n in counts.items() if n == nearest)
    if prior:
        known = [prior[v] for v in tier if prior.get(v, 0) > 0]
        if known:
            floor = min(known)
            weights = [prior.get(v, 0) or floor for v in tier]
            return rng.choices(tier, weights=weights, k=1)[0]
    return rng.choice(tier)


def singleton_share(counts: Counter, m: int) -> float:
    """Expected share of singletons in a random subsample of ``m`` of the occurrences.

    Rarefaction (Hurlbert 1971): a value held ``c`` times out of ``n`` appears exactly
    once in the subsample with hypergeometric probability ``c * C(n-c, m-1) / C(n, m)``.
    """
    n = sum(counts.values())
    if m <= 0 or n <= 0:
        return 0.0
    m = min(m, n)

    def log_choose(a: int, b: int) -> float:
        return math.lgamma(a + 1) - math.lgamma(b + 1) - math.lgamma(a - b + 1)

    whole = log_choose(n, m)
    ones = sum(
        c * math.exp(log_choose(n - c, m - 1) - whole) for c in counts.values() if n - c >= m - 1
    )
    return ones / m


def novelty_survival(counts: Counter, scale: float = INSIDER_SCALE) -> float:
    """How much of the feed's singleton share is left in a sample ``scale`` times larger.

    The singleton share ``r(m)`` is read at half and full size and extrapolated as a power
    law ``r(m) ~ m^-b``: a closed vocabulary (a few hundred name characters) has a steep
    fall and its rare values are not rare in an archive; an open one (Latin first names,
    free text) keeps them rare. Returns ``scale^-b`` in [0, 1].
    """
    n = sum(counts.values())
    full = singleton_share(counts, n)
    if n < 4 or full <= 0:
        return 1.0 if n < 4 else 0.0
    half = singleton_share(counts, n // 2)
    if half <= full:
        return 1.0
    b = math.log(half / full) / math.log(n / (n // 2))
    return min(1.0, scale ** -min(b, 3.0))


def draw_like_feed(
    rng: random.Random,
    counts: Counter,
    survival: float,
    new_value,
    prior: Mapping[str, float] | None = None,
    raw_share: float = 0.0,
) -> str:
    """One value distributed like one more row of the feed.

    ``new_value(rng)`` returns a value the feed does not hold (or None when there is
    none to offer); it is asked with the Good–Turing chance of a new value, thinned by
    ``survival``; otherwise the value comes from the feed's own counts (``prior``
    breaks ties between equally frequent values, see :func:`with_count`). With chance
    ``raw_share`` the value is instead drawn by its raw frequency in the feed.
    """
    if counts and raw_share and rng.random() < raw_share:
        values = sorted(counts)
        return rng.choices(values, weights=[counts[v] for v in values], k=1)[0]
    k = occurrence_draw(rng, counts)
    if k is None:
        fresh = new_value(rng)
        if fresh is None:
            raise ValueError("nothing to draw from: no counts and no new value")
        return fresh
    if k == 0 and rng.random() < survival:
        fresh = new_value(rng)
        if fresh is not None:
            return fresh
    # k == 0 without a new value: a value the feed holds once (it will then hold it twice).
    return with_count(rng, counts, max(k, 1), prior)
