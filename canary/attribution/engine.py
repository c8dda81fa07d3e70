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
from scipy import sparse
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
    reach_grid: tuple[float, ...] = (0.15, 0.4, 0.8)
    callers_grid: tuple[int, ...] = (1, 2, 4, 8)
    # Share of background contacts made by callers that reach several pool numbers,
    # and the geometric decay of how many numbers they reach. Robocallers do sweep
    # ranges ("Who's Calling?" saw heavy callers across its 66,606 lines), but a pool
    # of ~100 random numbers is hit twice by one sweep far less often; these are
    # priors that ``calibrate`` updates from the pool's own background.
    multi_share: float = 0.01
    multi_decay: float = 0.5
    # Same for caller-ID blocks: spam from one VoIP range is more common than one ID.
    block_multi_share: float = 0.05
    # Prior weight of the block model (a call centre renting consecutive numbers).
    block_model_weight: float = 0.3
    # Prior probability that the observed contacts involve no leak at all.
    prior_background: float = 0.5
    # Strong evidence: P(seen | the canary leaked) and P(seen by chance) per strength.
    # A spammer who does not hold the list cannot say a minted persona's full name
    # (pinyin match, so homophones from speech-to-text still count: allow 1e-6) and
    # rarely a birth date; a canary row found in a file is a keyed, unique record
    # (false-match target ~1e-9, Agrawal & Kiernan, VLDB 2002).
    strong_hit: dict[str, float] = field(
        default_factory=lambda: {"name_mention": 0.5, "birth_date": 0.3, "file": 0.95}
    )
    strong_false: dict[str, float] = field(
        default_factory=lambda: {"name_mention": 1e-6, "birth_date": 1e-4, "file": 1e-9}
    )


# Beta prior on the multi-number caller shares: mean as in ``Params``, worth this many
# background contacts, so a short quarantine cannot talk the model into trusting
# caller correlation more than the data supports.
SHARE_PRIOR_WEIGHT = 100.0


def calibrate(params: Params, background: Sequence[Contact]) -> Params:
    """Params with the multi-number caller shares learnt from known background.

    ``background`` are contacts known to be spam (quarantine, numbers carrying no
    live canary). The share of them made by callers (or caller blocks) that reached
    two or more pool numbers is shrunk towards the default with a Beta prior.
    """
    import dataclasses

    n = len(background)
    if n == 0:
        return params
    shares = []
    for how, prior in (("caller", params.multi_share), ("block", params.block_multi_share)):
        reach: dict[str, set[int]] = {}
        for c in background:
            key = _key(c, how)
            if key:
                reach.setdefault(key, set()).add(c.number)
        multi = sum(1 for c in background if len(reach.get(_key(c, how), ())) > 1)
        shares.append((multi + prior * SHARE_PRIOR_WEIGHT) / (n + SHARE_PRIOR_WEIGHT))
    return dataclasses.replace(params, multi_share=shares[0], block_multi_share=shares[1])


def _key(contact: Contact, how: str) -> str:
    return contact.caller if how == "caller" else (contact.block or contact.caller)


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
        key = _key(contact, by)
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


@dataclass(frozen=True)
class _Model:
    """One way of grouping contacts, with its background expectations."""

    clusters: Clusters
    log_mu_single: np.ndarray  # (K,) expected one-number background callers
    log_mu_multi: np.ndarray  # expected background callers with each footprint


def _model(clusters: Clusters, lam: np.ndarray, multi_share: float, decay: float, k: int) -> _Model:
    sizes = np.array([len(f) for f in clusters.footprints], dtype=np.float64)
    log_multi = (
        math.log(float(lam.sum()) * multi_share)
        + math.log1p(-decay)
        + (sizes - 2) * math.log(decay)
        - _log_comb(k, sizes)
    )
    return _Model(
        clusters,
        np.log(lam * (1 - multi_share)),
        np.asarray(log_multi, dtype=np.float64),
    )


def _grid(params: Params) -> tuple[np.ndarray, np.ndarray]:
    """log(1 − π/m) and m for every grid point."""
    pairs = [(r, m) for r in params.reach_grid for m in params.callers_grid]
    per = np.array([min(r / m, 0.999999) for r, m in pairs])
    return np.log1p(-per), np.array([m for _r, m in pairs], dtype=np.float64)


@dataclass(frozen=True)
class Codebook:
    """Candidate codewords prepared once for repeated scoring.

    q_j = 1 − (1 − π/m)^{c_j} depends on a row only through the small integer c_j and
    on its weight w (Π(1 − q_j) = (1 − π/m)^w), so every term is a table lookup and
    the singleton sum is one sparse product per (weight, c_j) group.
    """

    counts: np.ndarray  # (R, K) int
    weights: np.ndarray  # (R,)
    groups: tuple[tuple[np.ndarray | slice, int, tuple[tuple[int, sparse.csr_matrix], ...]], ...]

    @classmethod
    def build(cls, codewords: np.ndarray) -> Codebook:
        counts = np.rint(np.asarray(codewords)).astype(np.int64)
        weights = counts.sum(axis=1)
        groups = []
        for weight in np.unique(weights):
            rows = np.flatnonzero(weights == weight)
            if len(rows) == rows[-1] - rows[0] + 1:  # contiguous: a view, not a copy
                rows = slice(int(rows[0]), int(rows[-1]) + 1)
            block = counts[rows]
            by_value = tuple(
                (int(v), sparse.csr_matrix((block == v).astype(np.float64)))
                for v in np.unique(block)
                if v > 0
            )
            groups.append((rows, int(weight), by_value))
        return cls(counts, weights, tuple(groups))

    def __len__(self) -> int:
        return self.counts.shape[0]


def _score(book: Codebook, model: _Model, l1: np.ndarray, m: np.ndarray) -> np.ndarray:
    """(G, R) log LR of each row at each grid point, for one grouping of contacts."""
    cmax = int(book.counts.max(initial=0))
    values = np.arange(cmax + 1)
    with np.errstate(divide="ignore"):
        table = np.log(-np.expm1(np.outer(l1, values))) - np.outer(l1, values)  # (G, V)
    table[:, 0] = _NEG  # a number outside the codeword cannot be a campaign hit
    log_m = np.log(m)
    base = np.outer(l1, book.weights) + log_m[:, None]  # (G, R): log m + Σ log(1 − q)
    total = -m[:, None] * -np.expm1(np.outer(l1, book.weights))  # − expected callers
    singles = model.clusters.singletons
    if singles.any():
        for rows, weight, by_value in book.groups:
            for v, indicator in by_value:
                # A campaign caller seen on one number so far, vs one-off spam there.
                x = (weight * l1 + log_m + table[:, v])[None, :] - model.log_mu_single[:, None]
                total[:, rows] += (indicator @ (np.logaddexp(0.0, x) * singles[:, None])).T
    for fp, log_bg in zip(model.clusters.footprints, model.log_mu_multi, strict=True):
        sub = book.counts[:, fp]
        rows = np.flatnonzero((sub > 0).all(axis=1))  # only codewords holding it all
        if len(rows):
            inside = table[:, sub[rows]].sum(axis=2)  # (G, rows)
            total[:, rows] += np.logaddexp(0.0, base[:, rows] + inside - log_bg)
    return total


def log_likelihood_ratio(
    codewords: np.ndarray | Codebook,
    contacts: Sequence[Contact],
    bg_per_day: np.ndarray,
    window_days: float,
    params: Params | None = None,
    *,
    strong: np.ndarray | None = None,
    strong_kinds: Sequence[str] = (),
) -> np.ndarray:
    """log P(contacts | row leaked) / P(contacts | background) for each codeword row.

    ``codewords`` is (R, K) integer counts: leaked canaries per pool number for each
    candidate row. ``bg_per_day`` is each number's background contact rate;
    ``window_days`` how long the contacts were collected. ``strong`` is (R, S)
    booleans: strong item s (a canary named, dated or found in a file, of kind
    ``strong_kinds[s]``) is in row r's leak. Two groupings are mixed: by caller ID, and
    by caller-ID block (a call centre often rents consecutive numbers), weighted by
    ``params.block_model_weight``.
    """
    params = params or Params()
    book = codewords if isinstance(codewords, Codebook) else Codebook.build(codewords)
    k = book.counts.shape[1]
    lam = np.maximum(np.asarray(bg_per_day, dtype=np.float64), 1e-6) * max(window_days, 1 / 24)
    l1, m = _grid(params)
    by = []
    for how, share in (("caller", params.multi_share), ("block", params.block_multi_share)):
        model = _model(cluster(contacts, k, by=how), lam, share, params.multi_decay, k)
        grid = _score(book, model, l1, m)
        top = grid.max(axis=0)
        by.append(top + np.log(np.exp(grid - top).mean(axis=0)))
    w = params.block_model_weight
    result = np.logaddexp(by[0] + math.log(1 - w), by[1] + math.log(w))
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
    # Best row per unit: sort by (unit, score) and take each unit's last entry.
    order_rows = np.lexsort((scored, inverse))
    last = np.r_[inverse[order_rows][1:] != inverse[order_rows][:-1], True]
    best = np.zeros(len(units), dtype=np.int64)
    best[inverse[order_rows][last]] = order_rows[last]
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
