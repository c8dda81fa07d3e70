"""Plan a copy's canaries for one period: profile, allocate numbers, mint, place, store.

Everything a canary holds for (copy, period, slot) comes from a random generator seeded
by ``keys.derive("mint", copy, period, slot)`` (HKDF): the same key and input give the
same canaries and positions, and without the key nobody can predict them. Re-planning a
copy and period that already has canaries reuses their stored rows (idempotent).
"""

from __future__ import annotations

import functools
import random
from collections import Counter
from dataclasses import replace

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from canary import periods, phones
from canary.canaries import registry
from canary.context import Context
from canary.errors import CanaryError, NoPlausibleNumber
from canary.feeds.table import TableSample
from canary.forging import frequency, names, placement
from canary.forging.mint import mint_row
from canary.forging.ordering import compare_rows
from canary.forging.plan import CanaryRow, InjectionPlan, SerialSpec
from canary.forging.profile import Column, FeedProfile, build
from canary.forging.values import parse_date
from canary.telephony import pool
from canary.telephony.models import ContactPoint

MINT_ATTEMPTS = 40
FRESH_NUMBER_TRIES = 6
# Told to the operator (the inject result's notes) when a canary had to share a number.
SHARED_NUMBER_NOTE = (
    "the pool had no fresh number for a canary, so it shares one with a canary still in "
    "circulation (under a clearly different name): a holder who keeps every delivery can "
    "see that number on two mothers; add numbers for this region and carriers to the pool"
)


def _prefix_counts(col: Column) -> Counter:
    if col.masked:
        return Counter(v[:3] for v in col.values if v[:3].isdigit())
    return Counter(col.prefixes)


def phone_constraints(col: Column, region: str, *, common_only: bool) -> pool.PhoneConstraints:
    """What a pool number must look like to pass in this phone column.

    ``common_only`` keeps the prefixes that make up the bulk of the column, so a canary
    never carries a prefix that only one real row has (an insider's "rare carrier" rule).
    """
    prefixes = _prefix_counts(col)
    total = sum(prefixes.values())
    chosen: set[str] = set(prefixes)
    if common_only and total >= 20:
        chosen, covered = set(), 0
        for prefix, n in prefixes.most_common():
            if covered >= 0.9 * total or n < 2:
                break
            chosen.add(prefix)
            covered += n
    return pool.PhoneConstraints(
        region=col.region or region, number_type=col.number_type, prefixes=frozenset(chosen)
    )


def _pool_prefixes(session: Session, constraints: pool.PhoneConstraints) -> Counter:
    """How many numbers the pool can offer per carrier prefix, for this region and type.

    Operators buy the pool across carriers in proportion to the local market, so these
    counts are the best population shares of prefixes the forger has.
    """
    found = session.execute(
        select(ContactPoint.prefix, func.count(ContactPoint.id))
        .where(
            ContactPoint.kind == "phone",
            ContactPoint.state.in_(pool.ALLOCATABLE),
            ContactPoint.country == constraints.region.upper(),
            ContactPoint.number_type == constraints.number_type,
        )
        .group_by(ContactPoint.prefix)
    )
    return Counter({p: n for p, n in found if p})


def _prefix_tries(session, col: Column, region: str, rng: random.Random) -> list:
    """Constraints to ask the pool with, best first.

    The first asks for one prefix drawn like one more row of the feed (frequency): a
    prefix the feed holds k times with the chance a real row's prefix is held k times by
    the others, or, as often as the feed's rare prefixes stay rare, one the feed lacks
    but the pool (bought in proportion to the market) has. Drawing by raw share instead
    gives canaries systematically commoner prefixes than real rows.
    """
    broad = phone_constraints(col, region, common_only=False)
    counts = _prefix_counts(col)
    tries = []
    if counts:
        new = "new"
        offered = _pool_prefixes(session, broad)
        drawn = frequency.draw_like_feed(
            rng, counts, col.prefix_survival, lambda r: new, prior=offered
        )
        if drawn == new:
            others = set(offered) - set(counts)
            if others:
                tries.append(replace(broad, prefixes=frozenset(others)))
        else:
            tries.append(replace(broad, prefixes=frozenset({drawn})))
    tries.append(phone_constraints(col, region, common_only=True))
    if broad not in tries:
        tries.append(broad)
    return tries


def _allocate(session, ctx, copy_id, period, slot, col, region, rng) -> pool.AllocatedNumber:
    tries = _prefix_tries(session, col, region, rng)
    last: NoPlausibleNumber | None = None
    shared: pool.AllocatedNumber | None = None
    for constraints in tries:
        try:
            # A number already carrying a circulating canary shows up twice to an insider
            # who keeps every delivery; ask again (other keyed draws), then under the next
            # constraint, before settling for a shared number.
            for attempt in range(FRESH_NUMBER_TRIES):
                got = pool.allocate(
                    session,
                    ctx,
                    copy_id=copy_id,
                    period=period,
                    slot=slot + 10_000 * attempt,
                    constraints=constraints,
                    at=ctx.clock(),
                )
                if not got.name_keys_in_use:
                    return got
                shared = shared or got
        except NoPlausibleNumber as exc:
            last = exc
    if shared is not None:
        return shared
    assert last is not None
    raise last


def _serial_values(profile: FeedProfile, rows: list[CanaryRow]) -> None:
    """Give each canary the number its place in the file takes (the writer shifts the rest).

    A column counting up keeps its top row's number: rows below an insert move up by one.
    One counting down (newest-first exports: the bottom row is 1, the top N) keeps its
    bottom row's number, so the rows above an insert move up instead. Either way the
    canaries stay where the file's order put them: continuing a count-down at the top
    would put every canary in the rows an insider deletes first.
    """
    serial = profile.serial
    step = -1 if serial.descending else 1
    by_index = dict(zip(profile.indices, profile.rows, strict=True))

    def number_at(index: int) -> int:
        """The serial data row ``index`` has now (``total_rows``: the row after the last)."""
        near = min(by_index, key=lambda i: abs(i - index))
        return serial.parse(by_index[near][serial.column]) + step * (index - near)

    # ``rows`` is sorted by position, so ``k`` canaries end up above the k-th one.
    for k, row in enumerate(rows):
        moved = len(rows) - k if serial.descending else k
        row.values[serial.column] = serial.format(number_at(row.position) + moved)


def _row_order(profile: FeedProfile, a: CanaryRow, b: CanaryRow) -> int:
    """Canaries by position; canaries sharing a gap by the file's sort keys, then id."""
    if a.position != b.position:
        return -1 if a.position < b.position else 1
    by_keys = compare_rows(profile.sort_keys, a.values, b.values)
    return by_keys or (a.canary_id > b.canary_id) - (a.canary_id < b.canary_id)


def _window_donors(profile: FeedProfile, period: str) -> list[int]:
    gaps = placement.in_window_gaps(profile, periods.window(period))
    return gaps or [0]


def profile_delivery(
    ctx: Context, feed, sample: TableSample, history: list[TableSample] | None = None
) -> FeedProfile:
    """Profile one delivery of ``feed`` once; every holder's plan can then share it.

    The profile depends on the delivery and the feed only, never on the holder, so a
    delivery sent to ten holders is profiled once, not ten times.
    """
    return build(
        sample,
        locale=feed.locale or ctx.settings.locale,
        column_map=feed.column_map,
        history=history,
    )


def plan_injection(
    session: Session,
    ctx: Context,
    *,
    copy,
    period: str,
    sample: TableSample,
    count: int | None = None,
    actor: str,
    history: list[TableSample] | None = None,
    profile: FeedProfile | None = None,
) -> InjectionPlan:
    """Plan the canaries of one copy for one period (contract: docs/architecture.md).

    ``history`` are samples of the feed's earlier deliveries: they widen the value
    distributions the canaries are drawn from. ``profile`` is this delivery's profile
    from :func:`profile_delivery` (built here when not given).
    """
    periods.parse(period)
    wanted = ctx.settings.canaries_per_copy if count is None else count
    if wanted < 0:
        raise CanaryError("the canary count cannot be negative")
    if not sample.rows or sample.total_rows == 0:
        raise CanaryError("the delivery has no data rows to hide canaries among")
    feed = copy.feed
    if profile is None:
        profile = profile_delivery(ctx, feed, sample, history)
    plan = InjectionPlan(copy_id=copy.id, period=period, rows=[])
    stored = registry.existing(session, copy.id, period)
    rows: list[CanaryRow] = []
    if stored:
        views = registry.system_read(session, ctx.keys, stored, "inject")
        for view in views:
            values = [str(view["row"].get(h, "")) for h in profile.header]
            if any(h not in view["row"] for h in profile.header):
                plan.notes.append("the header changed since these canaries were minted")
            rng = random.Random(
                ctx.keys.derive("place", f"copy:{copy.id}", period, f"slot:{view['slot']}")
            )
            position = placement.place(profile, values, rng)
            if position is None:
                position = rng.randint(0, profile.total_rows)
                plan.notes.append("a stored canary fits no gap of this delivery's order")
            rows.append(CanaryRow(canary_id=view["id"], position=position, values=values))
    used_slots = {c.slot for c in stored}
    slot = 0
    while len(rows) < wanted:
        while slot in used_slots:
            slot += 1
        rows.append(_mint_slot(session, ctx, copy, period, slot, profile, plan, actor))
        used_slots.add(slot)
    rows.sort(key=functools.cmp_to_key(lambda a, b: _row_order(profile, a, b)))
    if profile.serial is not None and rows:
        _serial_values(profile, rows)
        plan.serial = SerialSpec(
            column=profile.serial.column,
            parse=profile.serial.parse,
            format=profile.serial.format,
            descending=profile.serial.descending,
        )
    if not profile.of_role("phone"):
        plan.notes.append(
            "the feed has no phone column: canaries carry no number and are recognised by "
            "name, ID or date mentions and by scans of leaked files"
        )
    plan.rows = rows
    total = sample.total_rows + len(rows)
    plan.canary_share = len(rows) / total if total else 0.0
    return plan


def _mint_slot(session, ctx, copy, period, slot, profile: FeedProfile, plan, actor) -> CanaryRow:
    seed = ctx.keys.derive("mint", f"copy:{copy.id}", period, f"slot:{slot}")
    rng = random.Random(seed)
    numbers: list[pool.AllocatedNumber] = []
    for k, col in enumerate(profile.of_role("phone")):
        numbers.append(
            _allocate(session, ctx, copy.id, period, slot + 1000 * k, col, profile.region, rng)
        )
    taken = set().union(*(n.name_keys_in_use for n in numbers)) if numbers else set()
    if taken and SHARED_NUMBER_NOTE not in plan.notes:
        plan.notes.append(SHARED_NUMBER_NOTE)
    sibling_keys = _sibling_keys(session, ctx, copy.id, period, numbers)

    def name_ok(name: str) -> bool:
        key = names.name_key(ctx.keys, name, profile.pack)
        return key not in taken and key not in sibling_keys

    donors = _window_donors(profile, period)
    keep = {k.column for k in profile.sort_keys if k.kind not in ("name", "phone", "id", "code")}
    by_index = dict(zip(profile.indices, profile.rows, strict=True))
    today = ctx.clock().date()
    minted = position = None
    for _ in range(MINT_ATTEMPTS):
        gap = rng.choice(donors)
        donor = by_index.get(gap - 1) if rng.random() < 0.5 else by_index.get(gap)
        donor = donor or by_index.get(gap) or by_index.get(gap - 1) or rng.choice(profile.rows)
        national = phones.national_digits(numbers[0].e164) if numbers else None
        minted = mint_row(
            rng, profile, donor, phone_national=national, keep=keep, name_ok=name_ok, today=today
        )
        for extra, col in zip(numbers[1:], profile.of_role("phone")[1:], strict=False):
            from canary.forging.mint import phone_cell

            minted.values[col.index] = phone_cell(rng, col, phones.national_digits(extra.e164))
        position = placement.place(
            profile,
            minted.values,
            random.Random(ctx.keys.derive("place", f"copy:{copy.id}", period, f"slot:{slot}")),
        )
        if position is not None:
            break
    if position is None:
        position = rng.randint(0, profile.total_rows)
        plan.notes.append("no gap keeps the file's order for a canary; placed at random")
    persona = dict(minted.persona)
    if numbers:
        persona["phone"] = numbers[0].e164
    if minted.name:
        persona["name_pinyin"] = names.spoken(minted.name, profile.pack)
    event = _event_date(profile, minted.values, period)
    if event:
        persona["birth_date"] = event
    canary = registry.store(
        session,
        ctx.keys,
        copy_id=copy.id,
        period=period,
        slot=slot,
        row=dict(zip(profile.header, minted.values, strict=True)),
        persona=persona,
        contact_point_ids=[n.contact_point_id for n in numbers],
        live_from=ctx.clock(),
        name_key=names.name_key(ctx.keys, minted.name, profile.pack) if minted.name else "",
        actor=actor,
    )
    return CanaryRow(canary_id=canary.id, position=position, values=minted.values)


def _sibling_keys(session, ctx, copy_id, period, numbers) -> set[str]:
    """Name keys of this copy and period's canaries on the same numbers (same plan)."""
    ids = {n.contact_point_id for n in numbers}
    keys = set()
    for canary in registry.existing(session, copy_id, period):
        if ids & {c.contact_point_id for c in canary.contacts} and canary.name_key:
            keys.add(canary.name_key)
    return keys


def _event_date(profile: FeedProfile, values: list[str], period: str) -> str | None:
    """The row's date nearest the period (delivery or baby's birth date) as ISO text."""
    start, _ = periods.window(period)
    best = None
    for col in profile.of_role("date"):
        parsed = parse_date(values[col.index])
        if parsed:
            day = parsed[0].date()
            if best is None or abs((day - start).days) < abs((best - start).days):
                best = day
    return best.isoformat() if best else None
