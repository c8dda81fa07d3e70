"""The likelihood model on its own (no database)."""

from __future__ import annotations

import numpy as np

from canary.attribution import engine

K = 60
RATE = np.full(K, 0.12)


def _codewords(copies=200, weight=16, seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    rows = np.zeros((copies, K))
    for r in range(copies):
        rows[r, rng.choice(K, weight, replace=False)] = 1
    return rows


def _campaign(codewords, leaker, callers, reach=0.6, seed=1, block=None):
    rng = np.random.default_rng(seed)
    numbers = np.flatnonzero(codewords[leaker])
    hit = numbers[rng.random(len(numbers)) < reach]
    return [
        engine.Contact(
            int(j), 0.3 * i, callers[i % len(callers)], block or callers[i % len(callers)]
        )
        for i, j in enumerate(hit)
    ]


def _spam(n, seed=2, days=7.0):
    rng = np.random.default_rng(seed)
    return [
        engine.Contact(int(rng.integers(K)), float(rng.uniform(0, days)), f"s{i}", f"sb{i}")
        for i in range(n)
    ]


def _posterior(codewords, contacts, days=7.0, params=None):
    log_lr = engine.log_likelihood_ratio(codewords, contacts, RATE, days, params)
    return engine.rank(log_lr, np.arange(len(codewords)), np.zeros(len(codewords)), len(codewords))


def test_caller_correlation_names_the_leaker_where_numbers_alone_cannot():
    rows = _codewords()
    contacts = _campaign(rows, 17, ["cc1", "cc2"]) + _spam(40)
    with_callers = _posterior(rows, contacts)
    withheld = _posterior(rows, [engine.Contact(c.number, c.at) for c in contacts])
    assert with_callers.units[0] == 17 and with_callers.confidence > 0.99
    assert withheld.confidence < 0.5


def test_one_random_call_to_a_canary_number_is_weak_evidence():
    rows = _codewords()
    ranking = _posterior(rows, [engine.Contact(int(np.flatnonzero(rows[3])[0]), 1.0, "x", "xb")])
    # The odds of a leak do not rise above the prior, and no copy stands out.
    assert ranking.background >= engine.Params().prior_background
    assert ranking.confidence < 0.01


def test_background_spam_alone_does_not_raise_the_odds_of_a_leak():
    rows = _codewords()
    ranking = _posterior(rows, _spam(100, days=14.0), days=14.0)
    assert ranking.background >= engine.Params().prior_background - 0.05
    assert ranking.confidence < 0.05


def test_robocaller_sweeping_random_numbers_is_not_a_leak():
    rows = _codewords()
    rng = np.random.default_rng(5)
    sweep = [
        engine.Contact(int(j), 0.01 * i, "robo", "robo")
        for i, j in enumerate(rng.choice(K, 12, replace=False))
    ]
    ranking = _posterior(rows, sweep + _spam(60))
    assert ranking.background > 0.4 and ranking.confidence < 0.05


def test_a_caller_reaching_numbers_outside_the_codeword_is_not_the_campaign():
    rows = _codewords()
    contacts = _campaign(rows, 17, ["cc1"])
    outside = int(np.flatnonzero(rows[17] == 0)[0])
    strays = [engine.Contact(outside, 1.0 + 0.1 * i, "cc1", "cc1") for i in range(1)]
    clean = engine.log_likelihood_ratio(rows, contacts, RATE, 7.0)[17]
    mixed = engine.log_likelihood_ratio(rows, contacts + strays, RATE, 7.0)[17]
    assert mixed < clean


def test_name_mention_is_strong_evidence_for_rows_holding_that_canary():
    rows = _codewords()
    strong = np.zeros((len(rows), 1), dtype=bool)
    strong[42, 0] = True
    contact = [engine.Contact(int(np.flatnonzero(rows[42])[0]), 1.0, "x", "xb")]
    log_lr = engine.log_likelihood_ratio(
        rows, contact, RATE, 7.0, strong=strong, strong_kinds=["name_mention"]
    )
    ranking = engine.rank(log_lr, np.arange(len(rows)), np.zeros(len(rows)), len(rows))
    assert ranking.units[0] == 42 and ranking.confidence > 0.9


def test_learnt_spam_correlation_lowers_trust_in_caller_correlation():
    rows = _codewords()
    contacts = _campaign(rows, 17, ["cc1", "cc2", "cc3"], reach=0.4)
    noisy = engine.calibrate(
        engine.Params(),
        [engine.Contact(j % K, 0.0, f"r{j // 4}", f"r{j // 4}") for j in range(400)],
    )
    quiet = engine.calibrate(engine.Params(), _spam(400))
    assert noisy.multi_share > engine.Params().multi_share > quiet.multi_share
    loud = engine.log_likelihood_ratio(rows, contacts, RATE, 7.0, noisy)[17]
    calm = engine.log_likelihood_ratio(rows, contacts, RATE, 7.0, quiet)[17]
    assert calm > loud


def test_ranking_is_deterministic():
    rows = _codewords()
    contacts = _campaign(rows, 9, ["a", "b"]) + _spam(30)
    first = _posterior(rows, contacts)
    second = _posterior(rows, list(contacts))
    assert np.array_equal(first.units, second.units)
    assert np.array_equal(first.probabilities, second.probabilities)
