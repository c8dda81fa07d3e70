"""The keyed codeword assignment as a pure function."""

from __future__ import annotations

import hashlib
from collections import Counter

from canary.telephony import codewords


def _seed(i: int) -> bytes:
    return hashlib.sha256(f"seed-{i}".encode()).digest()


def test_assignment_depends_on_the_key_not_on_pool_order():
    ids = list(range(1, 51))
    picks = Counter(codewords.assign(_seed(i), ids, 1)[0] for i in range(5000))
    # Uniform over 50 ids: about 100 each; a pool-order bias would pile up on id 1.
    assert len(picks) == 50
    assert max(picks.values()) < 160 and min(picks.values()) > 50
    assert codewords.assign(_seed(1), ids, 5) == codewords.assign(_seed(1), ids[::-1], 5)


def test_assignment_is_stable_when_a_number_is_added():
    ids = list(range(1, 41))
    moved = 0
    for i in range(1000):
        before = codewords.assign(_seed(i), ids, 1)[0]
        after = codewords.assign(_seed(i), [*ids, 41], 1)[0]
        moved += before != after
    # Rendezvous hashing: only the ~1/41 of choices the new number wins move.
    assert moved < 60


def test_assign_returns_distinct_ids_and_copes_with_small_pools():
    assert codewords.assign(_seed(0), [3, 3, 7], 5) == sorted(
        {3, 7}, key=lambda x: codewords.rank(_seed(0), [3, 7]).index(x)
    )
    assert codewords.assign(_seed(0), [], 3) == []
    assert codewords.assign(_seed(0), [1, 2], 0) == []


def test_choose_prefers_the_less_loaded_of_the_two_best_ranked():
    ids = list(range(10))
    top_two = codewords.assign(_seed(9), ids, 2)
    loads = {top_two[0]: 5, top_two[1]: 1}
    assert codewords.choose(_seed(9), ids, lambda i: loads.get(i, 0)) == top_two[1]
    assert codewords.choose(_seed(9), [], lambda i: 0) is None


def test_capacity_grows_with_pool_size_and_reach():
    small = codewords.capacity(100, 3, reach=0.6)
    large = codewords.capacity(1000, 3, reach=0.6)
    assert large > small >= 1
    assert codewords.capacity(1000, 3, reach=0.3) < large
    # One number per codeword: two codewords on one number cannot be told apart.
    assert codewords.capacity(1000, 1, reach=1.0, error=0.01) == 1 + int(0.01 / 0.001)


def test_confusion_is_the_containment_probability():
    assert codewords.confusion(10, 2, 2) == 1 / 45
    assert codewords.confusion(10, 2, 3) == 0.0
