"""Minted canaries look like the feed's rows but never reproduce a real person."""

from __future__ import annotations

import datetime as dt
import random

from canary.canaries import registry
from canary.flow.models import Copy
from canary.forging import idcard
from canary.forging.locales import load
from canary.forging.names import spoken
from canary.forging.service import plan_injection
from canary.forging.values import shape
from tests.forging.conftest import add_local_numbers, newborn_rows, sample_of

PERIOD = "2026-W48"


def _plan(context, copy_id, sample, count):
    with context.db.session() as session:
        plan = plan_injection(
            session,
            context,
            copy=session.get(Copy, copy_id),
            period=PERIOD,
            sample=sample,
            count=count,
            actor="test",
        )
        views = registry.system_read(
            session, context.keys, registry.existing(session, copy_id, PERIOD), "test"
        )
    return plan, views


def _with_ids(rows, *, masked: bool):
    rng = random.Random(5)
    header = ["产妇", "电话", "分娩日期", "产妇生日", "身份证", "体重"]
    out = []
    for r in rows:
        born = dt.date.fromisoformat(r[4])
        full = idcard.make(rng.choice(["310104", "310110", "320102"]), born, rng.randrange(500) * 2)
        out.append(
            [r[1], r[2], r[3], r[4], full[:3] + "*" * 11 + full[-4:] if masked else full, r[5]]
        )
    return header, out


def test_canary_values_follow_the_feed_layouts_and_categories(cn_pool, copy_id):
    rows = newborn_rows(150)
    plan, views = _plan(cn_pool, copy_id, sample_of(rows), 4)
    phone_shapes = {shape(r[2]) for r in rows}
    for row in plan.rows:
        v = row.values
        assert shape(v[2]) in phone_shapes  # 999-9999-9999
        assert shape(v[3]) == "9999/99/99" and shape(v[4]) == "9999-99-99"
        assert int(v[5]) % 10 == 0 and 2500 <= int(v[5]) <= 4200
        assert v[6] in {"男", "女"} and v[7] in {"顺产", "剖宫产"}
        start, end = dt.date(2026, 11, 23), dt.date(2026, 11, 29)
        delivered = dt.date.fromisoformat(v[3].replace("/", "-"))
        assert start - dt.timedelta(days=7) <= delivered <= end
    assert all(v["persona"]["name_pinyin"] for v in views)


def test_canaries_never_reproduce_a_real_name_phone_or_id(cn_pool, copy_id):
    header, rows = _with_ids(newborn_rows(120), masked=False)
    plan, _ = _plan(cn_pool, copy_id, sample_of(rows, header), 5)
    names = {r[0] for r in rows}
    phones = {r[1] for r in rows}
    ids = {r[4] for r in rows}
    births = {(r[0], r[3]) for r in rows}
    for row in plan.rows:
        v = row.values
        assert v[0] not in names and v[1] not in phones and v[4] not in ids
        assert (v[0], v[3]) not in births
        # Full IDs carry a valid check character and the row's own birth date.
        assert idcard.is_valid(v[4]) and v[4][6:14] == v[3].replace("-", "")
        assert v[4][:6] in {r[4][:6] for r in rows}


def test_masked_ids_are_masked_the_same_way(cn_pool, copy_id):
    header, rows = _with_ids(newborn_rows(100), masked=True)
    plan, _ = _plan(cn_pool, copy_id, sample_of(rows, header), 3)
    shapes = {shape(r[4]) for r in rows}  # 999***********9999, or ...999X
    for row in plan.rows:
        assert shape(row.values[4]) in shapes and row.values[4][3:14] == "*" * 11
        assert row.values[4] not in {r[4] for r in rows}


def test_canaries_sharing_a_number_have_names_that_sound_different(context, copy_id):
    add_local_numbers(context, ["+8613812345678"])
    _, views = _plan(context, copy_id, sample_of(newborn_rows(150)), 6)
    assert len({tuple(v["contact_point_ids"]) for v in views}) == 1
    spoken_forms = [spoken(v["persona"]["name"], load("zh_CN")) for v in views]
    assert len(set(spoken_forms)) == len(spoken_forms)


def test_feed_without_phone_column_still_gets_canaries(context, copy_id):
    rows = [[r[1], r[3], r[5]] for r in newborn_rows(80)]
    plan, views = _plan(context, copy_id, sample_of(rows, ["产妇", "分娩日期", "体重"]), 2)
    assert len(plan.rows) == 2 and all(not v["contact_point_ids"] for v in views)
    assert any("no phone column" in note for note in plan.notes)


def test_a_donor_in_a_tail_never_gives_a_more_extreme_number():
    from canary.forging.mint import mint_row
    from canary.forging.profile import build

    rows = newborn_rows(200, seed=6)
    profile = build(sample_of(rows))
    by_weight = sorted(rows, key=lambda r: int(r[5]))
    heaviest, lightest = by_weight[-6], by_weight[5]  # in the tails, not at the ends
    for seed in range(40):
        for donor, sign in ((heaviest, 1), (lightest, -1)):
            minted = mint_row(
                random.Random(seed),
                profile,
                donor,
                phone_national="13812345678",
                keep=set(),
                name_ok=lambda name: True,
                today=dt.date(2026, 11, 29),
            )
            assert sign * int(minted.values[5]) <= sign * int(donor[5])
