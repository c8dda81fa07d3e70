"""The attribution likelihood: which leak point best explains the contacts seen so far.

Pure functions over numpy arrays (no database), so the service and the benchmark run
the very same model.

Hypotheses. ``H0``: every contact is background. ``H_r``: the canaries of candidate
row ``r`` (a copy or holder over a period range; its *codeword* is how many of those
canaries sit on each pool number) leaked to a campaign that contacts each leaked
canary with probability π, spread over m caller identities (a call centre with a
handful of caller IDs). π and m are unknown and are marginalised over a small grid,
which also covers "not called yet" (a young campaign has a small effective π).

Evidence is grouped into *clusters*: all contacts from one caller identity (keyed hash
of the caller ID, or of its number block in the block model). A cluster's footprint
is the set of pool numbers it reached. Treating clusters as a marked Poisson process,

    log LR_r = Σ_G log(1 + μ_cc(S_G | r) / μ_bg(S_G)) − Σ_S μ_cc(S | r)

with, for a campaign caller, μ_cc(S | r) = m · Π_{j∈S} q_j · Π_{j∉S} (1 − q_j),
q_j = 1 − (1 − π/m)^{c_j} (c_j leaked canaries on number j), which is zero unless S
lies inside the codeword — the group-testing view of Aldridge, Johnson & Scarlett
(2019): a caller who reaches several numbers of one copy's codeword is a positive
test on that copy. Background: singletons arrive at each number's own spam rate
(learnt in quarantine; "Who's Calling?", USENIX Security 2020, ~0.12/line/day), and a
share η of background callers (robocallers) reach k ≥ 2 pool numbers chosen at
random, μ_bg(S) = Λ·η·g(k) / C(K, k). So a random spammer hitting a few numbers is
expected; a caller whose reach fits one codeword is not.

Strong evidence (a persona's name or birth date spoken back, a canary found in a
leaked file) multiplies LR_r by hit/false-match for each distinct such canary in r, in
the spirit of Papadimitriou & Garcia-Molina's guilt scores (IEEE TKDE 2011) but as a
likelihood ratio against background rather than a heuristic score.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.special import gammaln, logsumexp

# Background spam when a number has no quarantine history: "Who's Calling?" (Prasad
# et al., USENIX Security 2020): 1.48M calls to 66,606 lines in 11 months.
DEFAULT_BACKGROUND_PER_DAY = 0.12
_NEG = -1e6  # log of "impossible", kept finite so that matrix products stay exact


@dataclass(frozen=True)
class Contact:
    """One inbound contact (call or SMS) on a pool number."""

    number: int  # column index of the pool number
    at: float  # days since any fixed origin
    caller: str = ""  # keyed hash of the caller ID ("" = withheld)
    block: str = ""  # keyed hash of the caller-ID block


@dataclass(frozen=True)
class Params:
    """Model constants. Defaults are the production values the benchmark calibrates."""

    # Grid for the campaign's reach π (p × progress) and number of caller identities m.
    reach_grid: tuple[float, ...] = (0.1, 0.3, 0.6, 0.9)
    callers_grid: tuple[int, ...] = (1, 2, 4, 8)
    # Share of background contacts made by callers that reach several pool numbers,
    # and the geometric decay of how many numbers they reach. Deliberately pessimistic
    # (robocallers sweeping number ranges exist); measured rates can replace them.
    multi_share: float = 0.05
    multi_decay: float = 0.5
    # Same for caller-ID blocks: spam from one VoIP range is more common than one ID.
    block_multi_share: float = 0.2
    # Prior weight of the block model (a call centre renting consecutive numbers).
    block_model_weight: float = 0.3
    # Prior probability that the observed contacts involve no leak at all.
    prior_background: float = 0.5
    # Strong evidence: P(seen | the canary leaked) and P(seen by chance) per strength.
    strong_hit: dict[str, float] = field(
        default_factory=lambda: {"name_mention": 0.3, "birth_date": 0.2, "file": 0.9}
    )
    strong_false: dict[str, float] = field(
        default_factory=lambda: {"name_mention": 1e-4, "birth_date": 3e-3, "file": 1e-6}
    )


@dataclass(frozen=True)
class Clusters:
    """Contacts grouped by caller identity: per-number singleton counts and footprints."""

    singletons: np.ndarray  # (K,) contacts from one-number callers
    footprints: tuple[np.ndarray, ...]  # distinct numbers of each multi-number caller


def cluster(contacts: Sequence[Contact], k: int, *, by: str = "caller") -> Clusters:
    """Group contacts by caller (``by="caller"``) or caller block (``by="block"``)."""
    singles = np.zeros(k, dtype=np.float64)
    groups: dict[str, set[int]] = {}

    for contact in contacts:
        key = contact.caller if by == "caller" else (contact.block or contact.caller)
        if not key:  # withheld caller ID: no correlation possible
            singles[contact.number] += 1
            continue
        groups.setdefault(key, set()).add(contact.number)
    footprints = []
    for numbers in groups.values():
        if len(numbers) == 1:
            # Repeat calls from one caller to one number are one observation of
            # interest, not several independent ones (a redialling autodialler).
            singles[next(iter(numbers))] += 1
        else:
            footprints.append(np.fromiter(sorted(numbers), dtype=np.int64))
    return Clusters(singles, tuple(footprints))


def _log_comb(n: float, r: np.ndarray | float) -> np.ndarray | float:
    return gammaln(n + 1) - gammaln(np.asarray(r) + 1) - gammaln(n - np.asarray(r) + 1)


def _log_lr_model(
    codewords: np.ndarray,
    clusters: Clusters,
    bg_per_day: np.ndarray,
    window_days: float,
    multi_share: float,
    params: Params,
) -> np.ndarray:
    """log LR of each row under one clustering, marginalised over the (π, m) grid."""
    rows, k = codewords.shape
    lam = np.maximum(bg_per_day, 1e-6) * max(window_days, 1.0 / 24)
    total_bg = float(lam.sum())
    log_mu_single = np.log(lam * (1 - multi_share))  # (K,)
    fp_sizes = np.array([len(f) for f in clusters.footprints], dtype=np.float64)
    log_mu_multi = (
        math.log(total_bg * multi_share)
        + np.log1p(-params.multi_decay)
        + (fp_sizes - 2) * math.log(params.multi_decay)
        - _log_comb(k, fp_sizes)
    )
    present = codewords > 0
    out = []
    for reach in params.reach_grid:
        for m in params.callers_grid:
            per = min(reach / m, 0.999999)
            log1mq = codewords * math.log1p(-per)  # (R, K): log(1 - q)
            q = -np.expm1(log1mq)
            diff = np.where(present, np.log(np.where(present, q, 1.0)) - log1mq, _NEG)
            base = log1mq.sum(axis=1)  # (R,)
            log_m = math.log(m)
            # Singletons: a campaign caller seen on one number so far.
            ratio = np.exp(np.minimum(log_m + base[:, None] + diff - log_mu_single, 50.0))
            total = np.log1p(ratio) @ clusters.singletons
            for fp, log_bg in zip(clusters.footprints, log_mu_multi, strict=True):
                log_cc = log_m + base + diff[:, fp].sum(axis=1)
                total += np.logaddexp(0.0, log_cc - log_bg)
            total -= m * (-np.expm1(base))  # expected campaign callers, none missing
            out.append(total)
    grid = np.vstack(out)
    return logsumexp(grid, axis=0) - math.log(grid.shape[0])


def log_likelihood_ratio(
    codewords: np.ndarray,
    contacts: Sequence[Contact],
    bg_per_day: np.ndarray,
    window_days: float,
    params: Params | None = None,
    *,
    strong: np.ndarray | None = None,
    strong_kinds: Sequence[str] = (),
) -> np.ndarray:
    """log P(contacts | row leaked) / P(contacts | background) for each codeword row.

    ``codewords`` is (R, K): leaked canaries per pool number for each candidate row.
    ``strong`` is (R, S) booleans: strong item s (a canary named, dated or found in a
    file, of kind ``strong_kinds[s]``) belongs to row r's leaked canaries.
    """
    params = params or Params()
    codewords = np.asarray(codewords, dtype=np.float64)
    k = codewords.shape[1]
    by_caller = _log_lr_model(
        codewords, cluster(contacts, k), bg_per_day, window_days, params.multi_share, params
    )
    by_block = _log_lr_model(
        codewords,
        cluster(contacts, k, by="block"),
        bg_per_day,
        window_days,
        params.block_multi_share,
        params,
    )
    w = params.block_model_weight
    result = np.logaddexp(by_caller + math.log(1 - w), by_block + math.log(w))
    if strong is not None and len(strong_kinds):
        gains = np.array(
            [
                math.log(params.strong_hit.get(kind, 0.5) / params.strong_false.get(kind, 1e-3))
                for kind in strong_kinds
            ]
        )
        result = result + np.asarray(strong, dtype=np.float64) @ gains
    return result


@dataclass(frozen=True)
class Ranking:
    """Posterior over leak points (units), plus "background only"."""

    units: np.ndarray  # unit ids, best first
    probabilities: np.ndarray  # posterior of each unit, same order
    best_rows: np.ndarray  # the most probable row (period range) of each unit
    background: float  # posterior that no candidate explains the contacts
    log_lr: np.ndarray  # (R,) per row, for explanations

    @property
    def confidence(self) -> float:
        return float(self.probabilities[0]) if len(self.probabilities) else 0.0


def rank(
    log_lr: np.ndarray,
    unit_of_row: np.ndarray,
    log_row_prior: np.ndarray,
    units_total: int,
    params: Params | None = None,
) -> Ranking:
    """Normalise row likelihood ratios into a posterior over units and background.

    Each unit (copy or holder) has prior (1 − π0)/units_total; its rows (period ranges)
    split that by ``log_row_prior`` (log-probabilities summing to ≤ 0 per unit).
    Units not among the rows are folded into "background only": their leak, if any,
    is not what these contacts show.
    """
    params = params or Params()
    log_lr = np.asarray(log_lr, dtype=np.float64)
    unit_of_row = np.asarray(unit_of_row)
    units, inverse = np.unique(unit_of_row, return_inverse=True)
    log_unit_prior = math.log((1 - params.prior_background) / max(units_total, len(units)))
    scored = log_lr + log_row_prior
    unit_scores = np.full(len(units), -np.inf)
    np.logaddexp.at(unit_scores, inverse, scored)
    unit_scores += log_unit_prior
    best = np.zeros(len(units), dtype=np.int64)
    best_score = np.full(len(units), -np.inf)
    for row, unit in enumerate(inverse):  # rows per unit are few; clarity over speed
        if scored[row] > best_score[unit]:
            best_score[unit], best[unit] = scored[row], row
    untouched = max(units_total - len(units), 0) / max(units_total, 1)
    log_bg = math.log(params.prior_background + (1 - params.prior_background) * untouched)
    norm = np.logaddexp(log_bg, logsumexp(unit_scores)) if len(units) else log_bg
    probs = np.exp(unit_scores - norm)
    order = np.argsort(-probs, kind="stable")
    return Ranking(
        units=units[order],
        probabilities=probs[order],
        best_rows=best[order],
        background=float(math.exp(log_bg - norm)),
        log_lr=log_lr,
    )
