"""Fixtures for the feeds tests: a mapped feed with holders, and the CLI."""

from __future__ import annotations

import pytest

from canary.flow import service as flow

MAP = {"name": "产妇姓名", "phone": "联系电话", "delivery_date": "分娩日期"}


@pytest.fixture
def mapped(context, tmp_path):
    """One hospital, a CSV feed and an XLSX feed with a column map, three holders."""
    with context.db.session() as session:
        flow.add_source(session, "仁济医院", "test")
        flow.add_feed(session, "daily", "test", source="仁济医院", fmt="csv", column_map=MAP)
        flow.add_feed(session, "daily-xlsx", "test", source="仁济医院", fmt="xlsx", column_map=MAP)
        for name in ("head-office", "clerk", "partner"):
            flow.add_holder(
                session, name, "test", receives=["daily"], outbox_dir=str(tmp_path / f"out-{name}")
            )
    return context


@pytest.fixture
def cli(context):
    """Run `canary ...` against the test's database and keys; returns the click result."""
    from click.testing import CliRunner

    from canary.cli import main

    s = context.settings
    env = {
        "CANARY_HOME": s.home,
        "CANARY_DATABASE_URL": s.database_url,
        "CANARY_SCHEDULER_IN_SERVE": "false",
    }

    def run(*args):
        return CliRunner().invoke(main, [str(a) for a in args], env=env)

    return run


@pytest.fixture
def pool(mapped):
    """Pool numbers that pass as the feed's phones, available at once."""
    from canary.telephony.pool import add_number

    with mapped.db.session() as session:
        for i in range(12):
            prefix = ("138", "139", "186", "135")[i % 4]
            add_number(
                session,
                mapped,
                f"+86{prefix}{5000_0000 + i * 7919:08d}",
                quarantine_days=0,
                actor="test",
            )
    return mapped


def daily_csv(path, n=40, *, encoding="utf-8", newline="\r\n"):
    """A hospital's daily list, as a clerk's export looks."""
    import datetime as dt
    import random

    rng = random.Random(7)
    surnames = "张王李赵刘陈杨黄周吴徐孙马朱胡郭何高林罗"
    given = "秀英丽娟敏静燕艳玲芳婷雪梅红霞佳怡欣悦"
    lines = ["产妇姓名,联系电话,分娩日期,体重"]
    for _ in range(n):
        name = rng.choice(surnames) + "".join(rng.choice(given) for _ in range(rng.choice((1, 2))))
        phone = rng.choice(("138", "139", "186", "135", "150")) + f"{rng.randrange(10**8):08d}"
        day = dt.date(2026, 11, 23) - dt.timedelta(days=rng.randrange(3))
        lines.append(f"{name},{phone},{day.isoformat()},{rng.randrange(2500, 4200)}")
    path.write_bytes((newline.join(lines) + newline).encode(encoding))
    return path
