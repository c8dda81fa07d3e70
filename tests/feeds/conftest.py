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
