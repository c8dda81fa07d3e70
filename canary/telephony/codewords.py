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


def capacity(
    numbers: int,
    weight: int,
    *,
    reach: float,
    spam_per_number: float,
    error: float = 1e-3,
) -> int:
    """How many copies K numbers can serve so that the leaking copy is identified.

    Model (one leaking copy, weight-w codewords drawn uniformly at random): each of the
    leaking copy's w numbers is called with probability ``reach``; each other number
    is called by background spam with probability ``spam_per_number`` within the
    incident window. A competing copy is confused with the leaker when its codeword
    explains the observed calls at least as well, which needs it to contain every
    number the leaker's calls reached. With the leaker's reached numbers r ~ Bin(w,
    reach), an independent random codeword contains a fixed set of r numbers with
    probability C(K-r, w-r)/C(K, w) (and, noisily, spam numbers only help it
    marginally). A union bound over n copies gives the largest n with
    ``n · E[P(confused)] ≤ error``.

    This is a deliberately conservative count (union bound, one-sided errors); the
    decoder in attribution also weighs name mentions, which this ignores.
    """
    if numbers <= 0 or weight <= 0 or weight > numbers:
        return 0
    total = math.comb(numbers, weight)
    expected_confusion = 0.0
    for reached in range(weight + 1):
        p_reached = math.comb(weight, reached) * reach**reached * (1 - reach) ** (weight - reached)
        if reached == 0:
            p_confused = 1.0  # nothing called: nothing to tell copies apart
        else:
            contain = math.comb(numbers - reached, weight - reached) / total
            # A spam call on one of the competitor's other numbers does not make it
            # look better than the leaker, but a miss on the leaker's side does:
            # the competitor must also cover every reached number, hence ``contain``.
            p_confused = min(1.0, contain * (1 + spam_per_number * weight))
        expected_confusion += p_reached * p_confused
    # The case "no number reached" is not an identification failure but a silent
    # leak; leave it out of the confusion budget and report it in the docs instead.
    p_silent = (1 - reach) ** weight
    confusion_given_call = expected_confusion - p_silent
    if confusion_given_call <= 0:
        return total
    return max(0, min(total, int(error / confusion_given_call)))
