"""Fixtures for the forging tests: a feed with a copy, a pool of local numbers, sample feeds."""

from __future__ import annotations

import datetime as dt
import random

import pytest

from canary.feeds.table import TableSample
from canary.flow import service as flow
from canary.telephony import pool

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹"
GIVEN = "丽静敏婷芳娟艳燕霞玲雪慧倩颖琳晶佳欣怡琪雨梦思悦晨瑶璐"
PREFIXES = ["138", "139", "136", "135", "186", "189", "133", "159", "158", "137"]


def newborn_rows(n: int, seed: int = 1, *, day: dt.date = dt.date(2026, 11, 23)) -> list[list[str]]:
    """A daily newborn list: serial, mother, phone (grouped), delivery date, weight (10 g)."""
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        name = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))
        phone = rng.choice(PREFIXES) + f"{rng.randrange(10**8):08d}"
        born = day - dt.timedelta(days=rng.randint(0, 6))
        mother = dt.date(rng.randint(1986, 2000), rng.randint(1, 12), rng.randint(1, 28))
        rows.append(
            [
                "",
                name,
                f"{phone[:3]}-{phone[3:7]}-{phone[7:]}",
                f"{born:%Y/%m/%d}",
                f"{mother:%Y-%m-%d}",
                str(rng.randint(250, 420) * 10),
                rng.choice(["男", "女"]),
                rng.choice(["顺产", "剖宫产", "剖宫产", "顺产", "顺产"]),
            ]
        )
    rows.sort(key=lambda r: (r[3], r[1]))
    for i, row in enumerate(rows):
        row[0] = f"{i + 1:03d}"
    return rows


HEADER = ["序号", "产妇", "电话", "分娩日期", "产妇生日", "体重g", "性别", "分娩方式"]


def sample_of(rows: list[list[str]], header: list[str] | None = None) -> TableSample:
    return TableSample(
        header=list(header or HEADER),
        total_rows=len(rows),
        rows=rows,
        indices=list(range(len(rows))),
    )


@pytest.fixture
def copy_id(context):
    """A hospital feed delivered to one holder; returns the copy's id."""
    with context.db.session() as session:
        flow.add_source(session, "仁济医院", "test")
        flow.add_feed(session, "daily", "test", source="仁济医院")
        flow.add_holder(session, "clerk", "test", receives=["daily"])
        copy = flow.ensure_copy(
            session, flow.get_feed(session, "daily"), flow.get_holder(session, "clerk"), "test"
        )
        return copy.id


def add_local_numbers(context, numbers: list[str]) -> None:
    with context.db.session() as session:
        for raw in numbers:
            pool.add_number(
                session, context, raw, forwards_to="+14155550100", quarantine_days=0, actor="test"
            )


@pytest.fixture
def cn_pool(context):
    """Local mobile numbers with common prefixes that forward to the service."""
    add_local_numbers(context, [f"+86{p}{k:04d}{k:04d}" for p in PREFIXES[:6] for k in (11, 27)])
    return context
