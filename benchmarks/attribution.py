"""How fast and how surely attribution names the leaking copy from calls alone.

Simulates N copies sharing K pool numbers through the telephony area's keyed codeword
assignment (``canary.telephony.codewords.assign``: each copy and week gets
``--per-week`` distinct numbers), one leaking copy, a call centre and background spam,
and scores every copy with the production model (``canary.attribution.engine``).

* The leak: the last ``--leaked-weeks`` weeks of one copy (its codeword: per-week ×
  weeks canaries). Candidate rows are every copy over the last 1, 2, 4 or 8 weeks (the
  decoder does not know how much leaked).
* The call centre: 2–5 caller IDs (half the time from one number block), a campaign
  of 3–28 days working through the list, reaching each leaked canary with probability
  p (numbers and caller IDs only: no name mentions).
* Background: λ calls per number per week, each from a fresh random caller ID
  (``--robocall-share`` > 0 adds robocallers that sweep several pool numbers).

Reports top-1 accuracy 14 days after the first call, the time until the right copy
reaches 99% posterior, the same for a numbers-only baseline (caller IDs ignored) and a
Papadimitriou–Garcia-Molina style count baseline, the accuracy as K shrinks, and the
false-incident rate with no leak over simulated years (which fixes the threshold
``evaluate.OPEN_THRESHOLD`` used in production).

    .venv/bin/python benchmarks/attribution.py            # full run (a few minutes)
    .venv/bin/python benchmarks/attribution.py --quick    # smaller, for a smoke test
"""

from __future__ import annotations

import argparse
import hashlib
import heapq
import hmac
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from canary.attribution import engine  # noqa: E402
from canary.attribution.evaluate import OPEN_THRESHOLD  # noqa: E402
from canary.telephony import codewords  # noqa: E402

HISTORY_WEEKS = 8
EXACT_COPIES = 200
RANGES = (1, 2, 4, 8)  # candidate period ranges: the last r weeks before the leak
CHECKPOINTS = (1, 2, 3, 5, 7, 10, 14, 21, 28)


@dataclass
class Design:
    copies: int
    numbers: int
    per_week: int
    leaked_weeks: int


def _assign(key: bytes, messages: list[bytes], n: int) -> list[int]:
    """``codewords.assign`` for ids 0..K-1, with the HMAC in one C call per id."""
    digests = [hmac.digest(key, msg, "sha256") for msg in messages]
    return heapq.nlargest(n, range(len(messages)), key=digests.__getitem__)


def weekly_codewords(design: Design, seed: bytes) -> np.ndarray:
    """(copies, weeks, K) canary counts under the telephony area's design.

    ``codewords.assign`` (HMAC rendezvous ranking) is used verbatim for the first
    ``EXACT_COPIES`` copies; the rest are drawn from the same distribution (a uniform
    keyed subset of ``per_week`` distinct numbers per copy and week) with numpy,
    because 80,000 pure-Python HMAC rankings would dominate the runtime.
    """
    ids = list(range(design.numbers))
    messages = [i.to_bytes(8, "big", signed=True) for i in ids]
    out = np.zeros((design.copies, HISTORY_WEEKS, design.numbers), dtype=np.int8)
    exact = min(EXACT_COPIES, design.copies)
    for copy in range(exact):
        for week in range(HISTORY_WEEKS):
            key = hashlib.sha256(seed + f"{copy}:{week}".encode()).digest()
            chosen = _assign(key, messages, design.per_week)
            assert chosen == codewords.assign(key, ids, design.per_week)
            out[copy, week, chosen] = 1
    rng = np.random.default_rng(int.from_bytes(hashlib.sha256(seed).digest()[:8], "big"))
    keys = rng.random((design.copies - exact, HISTORY_WEEKS, design.numbers))
    chosen = np.argpartition(keys, design.numbers - design.per_week, axis=2)[
        :, :, design.numbers - design.per_week :
    ]
    np.put_along_axis(out[exact:], chosen, 1, axis=2)
    return out


def candidate_rows(weekly: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows (copy, last r weeks) → codeword, unit index and log prior (uniform over r)."""
    blocks, units = [], []
    for r in RANGES:
        blocks.append(weekly[:, HISTORY_WEEKS - r :, :].sum(axis=1))
        units.append(np.arange(weekly.shape[0]))
    rows = engine.Codebook.build(np.concatenate(blocks))
    unit = np.concatenate(units)
    prior = np.full(len(unit), -math.log(len(RANGES)))
    return rows, unit, prior


@dataclass
class Scenario:
    contacts: list[engine.Contact]  # time origin: the first campaign call
    leaker: int
    start: float  # when the evidence window opens (the gate), ≤ 0


def _callers(rng, m: int, same_block: bool) -> list[tuple[str, str]]:
    block = f"b{rng.integers(1 << 40)}"
    return [
        (f"cc{rng.integers(1 << 40)}", block if same_block else f"b{rng.integers(1 << 40)}")
        for _ in range(m)
    ]


def background(rng, k, lam_week, t0, t1, robocall_share=0.0) -> list[engine.Contact]:
    """Spam from fresh caller IDs; optionally robocallers sweeping several numbers."""
    days = t1 - t0
    n = rng.poisson(lam_week / 7 * days * k * (1 - robocall_share))
    out = [
        engine.Contact(int(j), float(t), f"bg{rng.integers(1 << 50)}", f"bb{rng.integers(1 << 40)}")
        for j, t in zip(rng.integers(0, k, n), rng.uniform(t0, t1, n), strict=True)
    ]
    if robocall_share > 0:
        calls = rng.poisson(lam_week / 7 * days * k * robocall_share)
        while calls > 0:
            reach = min(calls, 2 + rng.geometric(0.5) - 1, k)
            who, block, t = (
                f"rc{rng.integers(1 << 40)}",
                f"rb{rng.integers(1 << 40)}",
                rng.uniform(t0, t1),
            )
            for j in rng.choice(k, reach, replace=False):
                out.append(engine.Contact(int(j), float(t + rng.uniform(0, 0.1)), who, block))
            calls -= reach
    return out


def leak_scenario(rng, weekly, design, p, lam_week, campaign=(2.0, 14.0)) -> Scenario:
    leaker = int(rng.integers(weekly.shape[0]))
    leaked = weekly[leaker, HISTORY_WEEKS - design.leaked_weeks :, :]
    numbers = np.repeat(np.arange(design.numbers), leaked.sum(axis=0))  # one per canary
    m = int(rng.integers(2, 6))
    callers = _callers(rng, m, same_block=bool(rng.random() < 0.5))
    duration = rng.uniform(*campaign)
    contacted = numbers[rng.random(len(numbers)) < p]
    times = np.sort(rng.uniform(0, duration, len(contacted)))
    if len(times):
        times -= times[0]  # time origin: the first call
    order = rng.permutation(len(contacted))
    contacts = [
        engine.Contact(int(contacted[i]), float(t), *callers[int(rng.integers(m))])
        for i, t in zip(order, times, strict=True)
    ]
    # The window opens when the newest leaked week's canaries went live; the campaign
    # starts 0–7 days after that week ends.
    start = -7.0 - rng.uniform(0, 7)
    contacts += background(rng, design.numbers, lam_week, start, max(CHECKPOINTS))
    return Scenario(sorted(contacts, key=lambda c: c.at), leaker, start)


def quarantine_params(rng, k, lam_week, robocall_share=0.0) -> engine.Params:
    """What production learns before any canary goes live: 14 days of quarantine."""
    return engine.calibrate(engine.Params(), background(rng, k, lam_week, 0, 14, robocall_share))


def rank_at(rows, unit, prior, scenario, t, lam_week, n_units, params, *, ignore_callers=False):
    seen = [c for c in scenario.contacts if c.at <= t]
    if ignore_callers:
        seen = [engine.Contact(c.number, c.at) for c in seen]
    bg = np.full(rows.counts.shape[1], lam_week / 7)
    log_lr = engine.log_likelihood_ratio(rows, seen, bg, t - scenario.start, params)
    return engine.rank(log_lr, unit, prior, n_units, params)


def count_baseline(weekly, design, scenario, t) -> int:
    """Guilt by overlap (Papadimitriou & Garcia-Molina): the copy whose codeword holds
    the most called numbers, each number weighted by 1/(copies sharing it)."""
    called = np.zeros(design.numbers)
    for c in scenario.contacts:
        if c.at <= t:
            called[c.number] = 1
    cw = (weekly[:, HISTORY_WEEKS - design.leaked_weeks :, :].sum(axis=1) > 0).astype(float)
    share = np.maximum(cw.sum(axis=0), 1)
    return int(np.argmax(cw @ (called / share)))


def run_leaks(design, trials, p, lam_week, seed, *, baselines=True, campaign=(2.0, 14.0)) -> dict:
    rng = np.random.default_rng(seed)
    weekly = weekly_codewords(design, b"bench-%d" % seed)
    rows, unit, prior = candidate_rows(weekly)
    params = quarantine_params(rng, design.numbers, lam_week)
    correct14 = base14 = count14 = 0
    to99: list[float] = []
    for _ in range(trials):
        sc = leak_scenario(rng, weekly, design, p, lam_week, campaign)
        reached = math.inf
        for t in CHECKPOINTS:
            ranking = rank_at(rows, unit, prior, sc, t, lam_week, design.copies, params)
            top_ok = int(ranking.units[0]) == sc.leaker
            if t == 14:
                correct14 += top_ok
            if top_ok and ranking.confidence >= 0.99 and reached == math.inf:
                reached = t
            if t >= 14 and reached < math.inf:
                break
        to99.append(reached)
        if baselines:
            nr = rank_at(
                rows, unit, prior, sc, 14, lam_week, design.copies, params, ignore_callers=True
            )
            base14 += int(nr.units[0]) == sc.leaker
            count14 += count_baseline(weekly, design, sc, 14) == sc.leaker
    arr = np.array(to99)
    return {
        "top1_14d": correct14 / trials,
        "numbers_only_14d": base14 / trials,
        "count_baseline_14d": count14 / trials,
        "reach99_14d": float(np.mean(arr <= 14)),
        "median_days_to_99": float(np.quantile(arr, 0.5, method="higher")),
        "p90_days_to_99": float(np.quantile(arr, 0.9, method="higher")),
    }


def run_no_leak(design, windows, lam_week, robocall_share, seed) -> np.ndarray:
    """Max P(leak) per independent 14-day window of pure background."""
    rng = np.random.default_rng(seed)
    weekly = weekly_codewords(design, b"noleak-%d" % seed)
    rows, unit, prior = candidate_rows(weekly)
    bg = np.full(design.numbers, lam_week / 7)
    params = quarantine_params(rng, design.numbers, lam_week, robocall_share)
    peaks = []
    for _ in range(windows):
        contacts = background(rng, design.numbers, lam_week, 0, 14, robocall_share)
        peak = 0.0
        for t in (14 / 3, 28 / 3, 14):
            seen = [c for c in contacts if c.at <= t]
            ranking = engine.rank(
                engine.log_likelihood_ratio(rows, seen, bg, t, params),
                unit,
                prior,
                design.copies,
                params,
            )
            peak = max(peak, 1 - ranking.background)
        peaks.append(peak)
    return np.array(peaks)


def _print_leaks(title: str, r: dict) -> None:
    print(f"\n{title}")
    print(f"  top-1 accuracy 14 days after first call : {r['top1_14d']:.3f}")
    print(f"  right copy at >= 99% within 14 days     : {r['reach99_14d']:.3f}")
    print(
        f"  days from first call to 99% (median/p90): {r['median_days_to_99']:.1f} / "
        f"{r['p90_days_to_99']:.1f}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--copies", type=int, default=10_000)
    ap.add_argument("--numbers", type=int, default=100)
    ap.add_argument("--per-week", type=int, default=12, help="canaries per copy per week")
    ap.add_argument("--leaked-weeks", type=int, default=4)
    ap.add_argument("--p", type=float, default=0.5)
    ap.add_argument("--lam", type=float, default=1.0, help="spam calls per number per week")
    ap.add_argument("--campaign-days", default="2,14", help="campaign length range, days")
    ap.add_argument("--trials", type=int, default=60)
    ap.add_argument("--years", type=float, default=3.0, help="no-leak pool-years simulated")
    ap.add_argument("--robocall-share", type=float, default=0.05)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    if a.quick:
        a.copies, a.trials, a.years = 2000, 20, 1.0
    campaign = tuple(float(x) for x in a.campaign_days.split(","))
    started = time.time()
    design = Design(a.copies, a.numbers, a.per_week, a.leaked_weeks)
    weight = a.per_week * a.leaked_weeks
    print(
        f"design: N={a.copies} copies, K={a.numbers} numbers, {a.per_week} canaries per copy "
        f"per week (distinct numbers within a week), {a.leaked_weeks} weeks leaked -> the "
        f"leak carries {weight} canaries (codeword weight {weight}); call centre: 2-5 "
        f"caller IDs, p={a.p}, campaign {campaign[0]:g}-{campaign[1]:g} days; "
        f"background λ={a.lam}/number/week from random caller IDs"
    )
    main_run = run_leaks(design, a.trials, a.p, a.lam, a.seed, campaign=campaign)
    _print_leaks(f"leak, {a.trials} trials (numbers and caller IDs only):", main_run)
    for name, key in (
        ("numbers only (caller IDs ignored)", "numbers_only_14d"),
        ("overlap guilt score (P&GM 2011)", "count_baseline_14d"),
    ):
        print(
            f"  baseline, {name:<34}: top-1 {main_run[key]:.3f} -> model/baseline "
            f"{_ratio(main_run['top1_14d'], main_run[key])}"
        )
    small = max(a.trials // 4, 10)  # sensitivity runs: fewer trials, coarser figures
    slow = run_leaks(design, small, a.p, a.lam, a.seed + 1, baselines=False, campaign=(3, 28))
    _print_leaks(f"sensitivity: slow campaign (3-28 days), {small} trials:", slow)
    light = Design(a.copies, a.numbers, max(a.per_week * 2 // 3, 1), a.leaked_weeks)
    lighter = run_leaks(light, small, a.p, a.lam, a.seed + 2, baselines=False, campaign=campaign)
    _print_leaks(
        f"sensitivity: {light.per_week} canaries per copy per week, {small} trials:", lighter
    )

    print(f"\naccuracy as K shrinks (N={a.copies}, same design, p, λ; {small} trials each):")
    print("      K   top-1 at 14 d   >=99% by 14 d   median days to 99%")
    print(
        f"  {a.numbers:5d}   {main_run['top1_14d']:.3f}           {main_run['reach99_14d']:.3f}"
        f"           {main_run['median_days_to_99']:.1f}"
    )
    for k in (70, 50, 35, 25):
        if k >= a.numbers:
            continue
        d = Design(a.copies, k, min(a.per_week, k), a.leaked_weeks)
        r = run_leaks(d, small, a.p, a.lam, a.seed + k, baselines=False, campaign=campaign)
        print(
            f"  {k:5d}   {r['top1_14d']:.3f}           {r['reach99_14d']:.3f}"
            f"           {r['median_days_to_99']:.1f}"
        )

    print(
        f"\nno leak, K={a.numbers}, λ={a.lam}: independent 14-day windows, P(leak) every 4.7 days"
    )
    for share, years in ((0.0, max(a.years / 4, 0.5)), (a.robocall_share, a.years)):
        windows = max(int(years * 365 / 14), 1)
        peaks = run_no_leak(design, windows, a.lam, share, a.seed + 7)
        years = windows * 14 / 365
        print(
            f"  robocall share {share} ({years:.1f} pool-years): max P(leak) median "
            f"{np.quantile(peaks, 0.5):.2e}, 99th pct {np.quantile(peaks, 0.99):.2e}, "
            f"max {peaks.max():.2e}"
        )
        for thr in sorted({0.5, 0.9, OPEN_THRESHOLD}):
            hits = int((peaks >= thr).sum())
            bound = (3.0 if hits == 0 else hits + 2 * math.sqrt(hits)) / years
            mark = "  <- production incident threshold" if thr == OPEN_THRESHOLD else ""
            print(
                f"    threshold {thr:<5}: {hits / years:.2f} false incidents per pool-year "
                f"(95% upper bound {bound:.2f}){mark}"
            )
    print(f"\nruntime {time.time() - started:.0f} s")


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.1f}x" if b > 0 else "inf (baseline 0)"


if __name__ == "__main__":
    main()
