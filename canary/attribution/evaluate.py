"""Turn the stored events into a verdict: load evidence, build candidates, rank them.

This is the database side of attribution; the model itself is ``engine`` (pure).
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from canary import periods
from canary.attribution import engine, graph
from canary.attribution.models import Incident
from canary.canaries.models import Canary, CanaryContact
from canary.context import Context
from canary.settings import Settings
from canary.telephony.models import ContactPoint, Event

log = logging.getLogger("canary.attribution")

CONTACT_KINDS = ("call", "sms")
# Incidents whose events no longer count as open evidence.
CLOSED = ("resolved", "false_positive")
MAX_PERIODS_PER_UNIT = 8


def lookback_days(ctx: Context) -> int:
    """How far back contacts are weighed together (a campaign runs days to weeks)."""
    return ctx.settings.attribution_lookback_days


def open_threshold(ctx: Context) -> float:
    """P(leak) needed to open an incident; calibrated by benchmarks/attribution.py
    for under one false incident per year across a 100-number pool."""
    return ctx.settings.incident_open_threshold


# Calibrated in benchmarks/attribution.py (see docs/attribution.md, "Decoding").
OPEN_THRESHOLD = Settings.incident_open_threshold


def circulating_since(ctx: Context, at: dt.datetime) -> dt.datetime:
    """Canaries live after this moment may still circulate (the pool's own horizon)."""
    return at - dt.timedelta(days=ctx.settings.circulation_days)


def _days(moment: dt.datetime, origin: dt.datetime) -> float:
    return (moment - origin).total_seconds() / 86400


@dataclass
class Candidate:
    """One row: a unit over a period range, with the numbers its canaries carry."""

    unit: graph.Unit
    first: str
    last: str
    canaries: list[Canary]
    gate: dt.datetime  # the leak cannot precede the newest leaked canary going live


@dataclass
class Verdict:
    """The ranked explanation of a set of events."""

    ranked: list[dict]
    background: float
    top: Candidate | None
    confidence: float
    explanation: str
    event_ids: list[int] = field(default_factory=list)  # events the top row explains
    numbers: list[int] = field(default_factory=list)  # contact points it involves

    @property
    def p_leak(self) -> float:
        return 1.0 - self.background


def evidence_events(session: Session, ctx: Context, at: dt.datetime) -> list[Event]:
    """Contacts and findings weighed together: recent, not expected, not already
    explained by a closed incident."""
    since = at - dt.timedelta(days=lookback_days(ctx))
    closed = select(Incident.id).where(Incident.status.in_(CLOSED))
    query = (
        select(Event)
        .where(
            Event.occurred_at >= since,
            Event.occurred_at <= at,
            Event.classification.in_(("canary", "background")),
            (Event.incident_id.is_(None)) | (Event.incident_id.not_in(closed)),
        )
        .order_by(Event.occurred_at, Event.id)
    )
    return [
        e
        for e in session.scalars(query)
        if e.kind in CONTACT_KINDS
        or e.kind == "scan"
        or any(link.strength != "number" for link in e.canaries)
    ]


def _pool(session: Session) -> list[int]:
    return list(
        session.scalars(
            select(ContactPoint.id)
            .where(ContactPoint.kind == "phone", ContactPoint.state != "released")
            .order_by(ContactPoint.id)
        )
    )


def _background_rates(session: Session, points: list[int], at: dt.datetime) -> np.ndarray:
    try:
        from canary.telephony import lifecycle

        rate_of = lifecycle.background_rate
    except ImportError:  # the telephony area's estimator is not installed
        rate_of = None
    rates = []
    for cp_id in points:
        point = session.get(ContactPoint, cp_id)
        rate = rate_of(session, point, at) if (rate_of and point) else None
        rates.append(rate if rate else engine.DEFAULT_BACKGROUND_PER_DAY)
    return np.array(rates, dtype=np.float64)


def _ranges(hit_periods: list[str]) -> list[tuple[str, str]]:
    ps = sorted(set(hit_periods))[-MAX_PERIODS_PER_UNIT:]
    return [(a, b) for i, a in enumerate(ps) for b in ps[i:]]


def evaluate(session: Session, ctx: Context, events: list[Event], at: dt.datetime) -> Verdict:
    """Rank every leak point that these events could implicate."""
    linked_ids = {link.canary_id for e in events for link in e.canaries}
    if not linked_ids:
        return Verdict([], 1.0, None, 0.0, "no canary is involved in these events")
    linked = {c.id: c for c in session.scalars(select(Canary).where(Canary.id.in_(linked_ids)))}
    flow_graph = graph.load_graph(session)
    units = graph.units_seeing(flow_graph, {c.copy_id for c in linked.values()})
    points = _pool(session)
    column = {cp: i for i, cp in enumerate(points)}
    horizon = circulating_since(ctx, at)

    candidates: list[Candidate] = []
    for unit in units:
        hit = [c.period for c in linked.values() if c.copy_id in unit.copy_ids]
        pool_canaries = list(
            session.scalars(
                select(Canary).where(
                    Canary.copy_id.in_(sorted(unit.copy_ids)), Canary.live_from >= horizon
                )
            )
        )
        for first, last in _ranges(hit):
            inside = [c for c in pool_canaries if first <= c.period <= last]
            if inside:
                gate = max(c.live_from for c in inside)
                candidates.append(Candidate(unit, first, last, inside, gate))
    if not candidates:
        return Verdict([], 1.0, None, 0.0, "no live canary explains these events")

    contact_of = _contact_numbers(session, [c for cand in candidates for c in cand.canaries])
    codewords = np.zeros((len(candidates), len(points)))
    for row, cand in enumerate(candidates):
        for canary in cand.canaries:
            for cp_id in contact_of.get(canary.id, ()):
                if cp_id in column:
                    codewords[row, column[cp_id]] += 1
    strong_items = sorted(
        {(link.canary_id, link.strength) for e in events for link in e.canaries}
        - {(cid, "number") for cid in linked_ids}
    )
    strong = np.array(
        [
            [any(c.id == cid for c in cand.canaries) for cid, _kind in strong_items]
            for cand in candidates
        ],
        dtype=bool,
    ).reshape(len(candidates), len(strong_items))
    rates = _background_rates(session, points, at)
    params = _calibrated(session, ctx, column, at)
    log_lr = _gated_log_lr(
        candidates, codewords, events, column, rates, at, strong, strong_items, params
    )

    unit_index = {u.key: i for i, u in enumerate(units)}
    unit_of_row = np.array([unit_index[c.unit.key] for c in candidates])
    row_prior = np.zeros(len(candidates))
    for row, cand in enumerate(candidates):
        n = len({c.period for c in _unit_canaries(candidates, cand.unit.key)})
        row_prior[row] = -math.log(max(n * (n + 1) / 2, 1))
    ranking = engine.rank(log_lr, unit_of_row, row_prior, graph.count_units(flow_graph), params)
    return _verdict(candidates, units, ranking, codewords, events, column, contact_of)


def _unit_canaries(candidates: list[Candidate], key: str) -> list[Canary]:
    seen: dict[int, Canary] = {}
    for cand in candidates:
        if cand.unit.key == key:
            seen.update({c.id: c for c in cand.canaries})
    return list(seen.values())


def _contact_numbers(session: Session, canaries: list[Canary]) -> dict[int, list[int]]:
    ids = sorted({c.id for c in canaries})
    result: dict[int, list[int]] = defaultdict(list)
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        for canary_id, cp_id in session.execute(
            select(CanaryContact.canary_id, CanaryContact.contact_point_id).where(
                CanaryContact.canary_id.in_(chunk)
            )
        ):
            result[canary_id].append(cp_id)
    return result


def _contacts(events: list[Event], column: dict[int, int], origin: dt.datetime, gate):
    return [
        engine.Contact(
            number=column[e.contact_point_id],
            at=_days(e.occurred_at, origin),
            caller=e.caller_hash or "",
            block=e.caller_block_hash or "",
        )
        for e in events
        if e.kind in CONTACT_KINDS and e.contact_point_id in column and e.occurred_at >= gate
    ]


def _calibrated(session: Session, ctx: Context, column: dict[int, int], at) -> engine.Params:
    """Learn how often spam callers reach several pool numbers from known background
    (quarantine, numbers carrying no live canary) over the last year."""
    since = at - dt.timedelta(days=365)
    rows = session.execute(
        select(
            Event.contact_point_id, Event.occurred_at, Event.caller_hash, Event.caller_block_hash
        )
        .where(
            Event.classification == "background",
            Event.kind.in_(CONTACT_KINDS),
            Event.occurred_at >= since,
        )
        .limit(100_000)
    )
    background = [
        engine.Contact(column[cp], _days(when, since), caller or "", block or "")
        for cp, when, caller, block in rows
        if cp in column
    ]
    return engine.calibrate(engine.Params(), background)


def _gated_log_lr(candidates, codewords, events, column, rates, at, strong, strong_items, params):
    """Contacts before a row's gate cannot be about its canaries: rows sharing a gate
    are scored together on the contacts after it."""
    log_lr = np.zeros(len(candidates))
    by_gate: dict[dt.datetime, list[int]] = defaultdict(list)
    for row, cand in enumerate(candidates):
        by_gate[cand.gate].append(row)
    kinds = [kind for _cid, kind in strong_items]
    for gate, rows in by_gate.items():
        contacts = _contacts(events, column, gate, gate)
        first = min((c.at for c in contacts), default=0.0)
        window = max(_days(at, gate) - first, 1.0)
        log_lr[rows] = engine.log_likelihood_ratio(
            codewords[rows],
            contacts,
            rates,
            window,
            params,
            strong=strong[rows],
            strong_kinds=kinds,
        )
    return log_lr


def _verdict(candidates, units, ranking, codewords, events, column, contact_of) -> Verdict:
    by_key = {u.key: u for u in units}
    ranked = []
    for prob, row in zip(ranking.probabilities, ranking.best_rows, strict=True):
        cand = candidates[int(row)]
        unit = by_key[cand.unit.key]
        ranked.append(
            {
                "unit": unit.key,
                "label": unit.label,
                "also": unit.aliases,
                "copy_id": unit.copy_id,
                "holder_id": unit.holder_id,
                "feed_id": unit.feed_id,
                "period_from": cand.first,
                "period_to": cand.last,
                "probability": float(prob),
                "log10_likelihood_ratio": float(ranking.log_lr[int(row)] / math.log(10)),
            }
        )
    ranked = ranked[:10]
    if not ranked:
        return Verdict([], ranking.background, None, 0.0, "no candidate")
    top = candidates[int(ranking.best_rows[0])]
    top_numbers = {cp for c in top.canaries for cp in contact_of.get(c.id, ())}
    top_ids = {c.id for c in top.canaries}
    explained = [
        e.id
        for e in events
        if (e.contact_point_id in top_numbers and e.occurred_at >= top.gate)
        or any(link.canary_id in top_ids and link.strength != "number" for link in e.canaries)
    ]
    called = sorted(
        {e.contact_point_id for e in events if e.id in set(explained) and e.contact_point_id}
    )
    explanation = _explain(top, ranked[0], ranking.background, top_numbers, called, events)
    return Verdict(
        ranked, ranking.background, top, ranking.confidence, explanation, explained, called
    )


def _explain(top, best, background, top_numbers, called, events) -> str:
    span = periods.span(top.first, top.last)
    callers: dict[str, set[int]] = defaultdict(set)
    for e in events:
        if e.caller_hash and e.contact_point_id in top_numbers and e.occurred_at >= top.gate:
            callers[e.caller_hash].add(e.contact_point_id)
    repeat = sum(1 for reach in callers.values() if len(reach) >= 2)
    strong = sorted(
        {
            link.strength
            for e in events
            for link in e.canaries
            if link.strength != "number" and link.canary_id in {c.id for c in top.canaries}
        }
    )
    parts = [
        f"{len(called)} of the {len(top_numbers)} numbers carried by the "
        f"{len(top.canaries)} canaries of {best['label']} in {span} were contacted after "
        f"they went live"
    ]
    if repeat:
        parts.append(f"{repeat} caller ID(s) reached two or more of them")
    if strong:
        parts.append("strong evidence: " + ", ".join(s.replace("_", " ") for s in strong))
    if best["also"]:
        parts.append("the same canaries also reached " + ", ".join(best["also"]))
    parts.append(
        f"posterior {best['probability']:.4g}; chance this is background spam {_bound(background)}"
    )
    return "; ".join(parts) + "."


def _bound(p: float) -> str:
    if p < 1e-6:
        return "< 1e-6"
    return f"{p:.2g}"
