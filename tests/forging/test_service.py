"""plan_injection end to end: numbers from the pool, keyed repeatability, refusal, storage."""

from __future__ import annotations

import pytest

from canary.canaries import registry
from canary.errors import NoPlausibleNumber
from canary.flow import service as flow
from canary.flow.models import Copy
from canary.forging.ordering import fits
from canary.forging.profile import build
from canary.forging.service import SHARED_NUMBER_NOTE, plan_injection
from canary.security.crypto import KeyRing
from tests.forging.conftest import add_local_numbers, newborn_rows, sample_of

PERIOD = "2026-W48"


def _plan(context, copy_id, sample, count=3):
    with context.db.session() as session:
        copy = session.get(Copy, copy_id)
        plan = plan_injection(
            session, context, copy=copy, period=PERIOD, sample=sample, count=count, actor="test"
        )
        views = registry.system_read(
            session, context.keys, registry.existing(session, copy_id, PERIOD), "test"
        )
    return plan, views


def test_plan_places_canaries_in_sort_order_and_continues_the_serial(cn_pool, copy_id):
    rows = newborn_rows(150)
    sample = sample_of(rows)
    plan, views = _plan(cn_pool, copy_id, sample)
    assert len(plan.rows) == 3 and plan.serial is not None
    assert plan.canary_share == pytest.approx(3 / 153)
    profile = build(sample)
    for k, row in enumerate(plan.rows):
        before = rows[row.position - 1] if row.position else None
        after = rows[row.position] if row.position < len(rows) else None
        assert fits(profile.sort_keys, before, row.values, after)
        # The canary takes the number of the row it displaces, shifted by earlier canaries.
        assert row.values[0] == f"{row.position + 1 + k:03d}"
    assert {v["persona"]["phone"][:6] for v in views} <= {
        f"+86{p}" for p in ("138", "139", "136", "135", "186", "189")
    }
    assert all(v["contact_point_ids"] for v in views)


def test_count_down_serial_canaries_stay_spread_and_take_their_places_number(cn_pool, copy_id):
    # A newest-first export numbered 300 at the top down to 001 at the bottom. Moving
    # every canary to the top would let a holder strip them by deleting the first rows.
    rows = newborn_rows(300)[::-1]
    for i, row in enumerate(rows):
        row[0] = f"{len(rows) - i:03d}"
    sample = sample_of(rows)
    plan, _ = _plan(cn_pool, copy_id, sample, count=6)
    assert plan.serial is not None and plan.serial.descending
    assert not any("count-down" in note for note in plan.notes)
    positions = [r.position for r in plan.rows]
    assert len(set(positions)) > 1 and max(positions) > len(positions)
    profile = build(sample)
    for k, row in enumerate(plan.rows):
        before = rows[row.position - 1] if row.position else None
        after = rows[row.position] if row.position < len(rows) else None
        assert fits(profile.sort_keys, before, row.values, after)
        # The number of the row it lands above (300 - position), raised by one for each
        # canary below it: the writer raises the real rows above each canary the same way.
        below = len(plan.rows) - k - 1
        assert row.values[0] == f"{len(rows) - row.position + below + 1:03d}"


def test_a_canary_that_has_to_share_a_number_is_reported_to_the_operator(cn_pool, copy_id):
    sample = sample_of(newborn_rows(600))
    plan, _ = _plan(cn_pool, copy_id, sample, count=3)
    assert SHARED_NUMBER_NOTE not in plan.notes
    # Twenty canaries from a pool of twelve numbers: some must share one.
    plan, views = _plan(cn_pool, copy_id, sample, count=20)
    assert len(views) == 20 and plan.notes.count(SHARED_NUMBER_NOTE) == 1


def test_replanning_reuses_the_stored_canaries_and_positions(cn_pool, copy_id):
    sample = sample_of(newborn_rows(150))
    first, _ = _plan(cn_pool, copy_id, sample)
    again, views = _plan(cn_pool, copy_id, sample)
    assert [(r.position, r.values) for r in first.rows] == [
        (r.position, r.values) for r in again.rows
    ]
    assert len(views) == 3


def test_same_key_gives_same_canaries_and_another_key_different_ones(settings, tmp_path):
    from canary.context import open_context
    from tests.forging.conftest import PREFIXES

    results = []
    for home, master in (("a", b"k" * 32), ("b", b"k" * 32), ("c", b"z" * 32)):
        ctx = open_context(
            settings.replace(
                home=str(tmp_path / home), database_url=f"sqlite:///{tmp_path / home}.db"
            ),
            initialise=True,
        )
        ctx.keys = KeyRing.from_master(master)
        try:
            add_local_numbers(
                ctx, [f"+86{p}{k:04d}{k:04d}" for p in PREFIXES[:6] for k in (11, 27)]
            )
            from canary.flow import service as flow

            with ctx.db.session() as session:
                flow.add_source(session, "h", "t")
                flow.add_feed(session, "daily", "t", source="h")
                flow.add_holder(session, "clerk", "t", receives=["daily"])
            plan, _ = _plan(ctx, 1, sample_of(newborn_rows(150)))
            results.append([(r.position, r.values) for r in plan.rows])
        finally:
            ctx.close()
    assert results[0] == results[1]
    assert results[0] != results[2]


def test_refuses_when_the_pool_has_only_foreign_numbers(context, copy_id):
    add_local_numbers(context, ["+14155550123", "+14155550124"])
    with pytest.raises(NoPlausibleNumber, match="forward"):
        _plan(context, copy_id, sample_of(newborn_rows(80)))
    with context.db.session() as session:
        assert registry.existing(session, copy_id, PERIOD) == []


def _merged(rows, plan):
    """The data rows as the writer emits them: canaries inserted before their position."""
    out, k = [], 0
    for position in range(len(rows) + 1):
        while k < len(plan.rows) and plan.rows[k].position == position:
            out.append(plan.rows[k].values)
            k += 1
        if position < len(rows):
            out.append(rows[position])
    return out


def test_canaries_sharing_a_gap_are_in_order_among_themselves(cn_pool, copy_id):
    from canary.forging.ordering import compare_rows

    rows = newborn_rows(6, seed=4)
    sample = sample_of(rows)
    plan, _ = _plan(cn_pool, copy_id, sample, count=12)
    assert len({r.position for r in plan.rows}) < len(plan.rows)  # some gaps are shared
    keys = build(sample).sort_keys
    assert keys
    merged = _merged(rows, plan)
    for before, after in zip(merged, merged[1:], strict=False):
        assert compare_rows(keys, before, after) <= 0, (before, after)


def test_canary_prefixes_follow_how_rare_the_feeds_prefixes_are(context, copy_id):
    """A feed whose carriers are each seen once gets canaries on prefixes it lacks too;
    a feed of a few common carriers keeps its canaries on those carriers."""
    from tests.forging.conftest import PREFIXES

    others = ["150", "151", "152", "155", "156", "157", "176", "177", "180", "181", "182"]
    add_local_numbers(
        context, [f"+86{p}{k:04d}{k:04d}" for p in PREFIXES + others for k in (11, 27, 35)]
    )
    rows = newborn_rows(40, seed=9)
    few = {r[2][:3] for r in rows}
    assert few <= set(PREFIXES)
    plan, views = _plan(context, copy_id, sample_of(rows), count=20)
    assert {v["persona"]["phone"][3:6] for v in views} <= few

    rare = newborn_rows(10, seed=9)
    for row, prefix in zip(rare, PREFIXES, strict=True):
        row[2] = prefix + row[2][3:]
    with context.db.session() as session:
        flow.add_holder(session, "clerk2", "test", receives=["daily"])
        copy = flow.ensure_copy(
            session, flow.get_feed(session, "daily"), flow.get_holder(session, "clerk2"), "t"
        )
        second = copy.id
    _, views = _plan(context, second, sample_of(rare), count=10)
    assert {v["persona"]["phone"][3:6] for v in views} & set(others)
