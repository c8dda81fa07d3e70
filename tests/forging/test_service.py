"""plan_injection end to end: numbers from the pool, keyed repeatability, refusal, storage."""

from __future__ import annotations

import pytest

from canary.canaries import registry
from canary.errors import NoPlausibleNumber
from canary.flow.models import Copy
from canary.forging.ordering import fits
from canary.forging.profile import build
from canary.forging.service import plan_injection
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
