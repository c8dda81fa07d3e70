"""Keyed codeword assignment: which pool numbers a copy carries in a period.

With K numbers and many copies, numbers are shared. Each (copy, period) gets a small
set of numbers, its *codeword*; the leaking copy is the one whose codeword best
explains the numbers that were called (decoding lives in attribution). This module
only assigns, and does so as a pure function of a secret seed and the eligible ids:

* **Keyed.** The order comes from HMAC-SHA256 under a seed derived from the master
  key, copy, period and slot. An insider who knows which numbers exist still cannot
  predict which copy carries which number, so cannot frame another copy by calling
  the "right" numbers (the threat model of keyed fingerprints, Agrawal & Kiernan,
  VLDB 2002; Li, Swarup & Jajodia, TDSC 2005).
* **Random constant-weight codes.** Picking w of K numbers uniformly at random is the
  classic random design of non-adaptive group testing (Aldridge, Johnson & Scarlett,
  2019); see ``capacity`` and docs/attribution.md for how many copies it serves.
* **Stable under pool changes.** The ranking is rendezvous (highest-random-weight)
  hashing (Thaler & Ravishankar, 1998): adding or removing a number only moves the
  choices that involved that number, so re-planning after a pool change is minimal.
* **Balanced.** ``choose`` takes the less loaded of the two best-ranked candidates
  ("power of two choices", Mitzenmacher 2001): the heaviest number carries
  O(log log n) more canaries than average instead of O(log n / log log n), and
  balanced loads keep every number informative for decoding.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from collections.abc import Callable, Sequence


def _weight(seed: bytes, item: int) -> bytes:
    return hmac.new(seed, item.to_bytes(8, "big", signed=True), hashlib.sha256).digest()


def rank(seed: bytes, eligible_ids: Sequence[int]) -> list[int]:
    """All eligible ids in keyed pseudo-random order (rendezvous hashing)."""
    return sorted(set(eligible_ids), key=lambda item: _weight(seed, item), reverse=True)


def assign(seed: bytes, eligible_ids: Sequence[int], n: int) -> list[int]:
    """The ``n`` highest-ranked ids for this seed (fewer if fewer are eligible)."""
    if n <= 0:
        return []
    return rank(seed, eligible_ids)[:n]


def choose(
    seed: bytes,
    eligible_ids: Sequence[int],
    load: Callable[[int], float],
    choices: int = 2,
) -> int | None:
    """One id: among the ``choices`` best-ranked, the one with the lowest ``load``.

    Ties keep the keyed order, so the result is a pure function of seed, ids and loads.
    """
    candidates = assign(seed, eligible_ids, max(1, choices))
    if not candidates:
        return None
    return min(candidates, key=lambda item: (load(item), candidates.index(item)))


def confusion(numbers: int, weight: int, reached: int) -> float:
    """P(a random weight-w codeword contains r given numbers) = C(K−r, w−r) / C(K, w)."""
    if reached > weight:
        return 0.0
    return math.comb(numbers - reached, weight - reached) / math.comb(numbers, weight)


def capacity(numbers: int, weight: int, *, reach: float, error: float = 0.01) -> int:
    """How many live codewords (copy × period) K numbers can tell apart from calls alone.

    Model: one codeword leaks; each of its w numbers is called with probability
    ``reach``; the decoder shortlists every codeword containing all r called numbers.
    Another codeword is shortlisted with probability ``confusion(K, w, r)``, so with n
    live codewords the chance of any rival is at most (n − 1)·confusion (union bound).
    Averaging over r ~ Binomial(w, reach) given that at least one call came, this
    returns the largest n whose rival probability stays below ``error``.

    Background spam only adds numbers *outside* the leaker's codeword, which the
    likelihood decoder in attribution discounts by each number's background rate;
    name and birth-date mentions are ignored here, so the figure is conservative.
    """
    if numbers <= 0 or weight <= 0 or weight > numbers or not 0 < reach <= 1:
        return 0
    p_any = 1 - (1 - reach) ** weight
    per_rival = 0.0
    for reached in range(1, weight + 1):
        p_r = math.comb(weight, reached) * reach**reached * (1 - reach) ** (weight - reached)
        per_rival += p_r / p_any * confusion(numbers, weight, reached)
    return max(1, int(error / per_rival) + 1) if per_rival > 0 else math.comb(numbers, weight)
