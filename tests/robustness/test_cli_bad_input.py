"""The CLI answers bad arguments and unusable paths with a message and a non-zero
exit, never a traceback; a refused output path registers no canary."""

from __future__ import annotations

import os

from sqlalchemy import func, select

from canary.canaries.models import Canary
from tests.feeds.conftest import daily_csv


def _no_traceback(result):
    assert not (result.exception and not isinstance(result.exception, SystemExit)), (
        result.exception,
        result.output,
    )
    assert result.exit_code != 0, result.output
    assert "Traceback" not in result.output


def _canaries(context) -> int:
    with context.db.session() as session:
        return session.scalar(select(func.count()).select_from(Canary))


BAD_ARGUMENTS = [
    ("evidence", "export", "99999999999999999999"),
    ("incidents", "show", "99999999999999999999"),
    ("alerts", "enable", "99999999999999999999"),
    ("alerts", "remove", "99999999999999999999"),
    ("alerts", "test", "²"),
    ("alerts", "redeliver", "99999999999999999999"),
    ("alerts", "deliveries", "--limit", "-1"),
    ("alerts", "add", "d", "--url", "http://127.0.0.1:9/", "--min-confidence", "nan"),
    ("canaries", "list", "--copy", "99999999999999999999"),
    ("audit", "--limit", "-5"),
    ("numbers", "add", "+8613812345678", "--cost", "inf"),
    ("numbers", "add", "+8613812345678", "--quarantine-days", "99999999999999"),
    ("numbers", "cooldown", "+8613812345678", "--days", "-3"),
    ("token", "revoke", "99999999999999999999"),
]


def test_bad_arguments_get_a_message_not_a_traceback(cli):
    for args in BAD_ARGUMENTS:
        _no_traceback(cli(*args))


def test_inject_refuses_an_output_that_is_not_a_regular_file(pool, cli, tmp_path):
    """Outputs are moved into place: a device or pipe would be replaced, not written."""
    src = daily_csv(tmp_path / "daily.csv")
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    before = _canaries(pool)
    result = cli("inject", "daily", src, "--holder", "clerk", "-o", fifo)
    _no_traceback(result)
    assert "not a regular file" in result.output
    assert fifo.is_fifo()
    assert _canaries(pool) == before  # refused before any canary was registered


def test_inject_refuses_an_out_dir_whose_target_is_a_folder(pool, cli, tmp_path):
    src = daily_csv(tmp_path / "daily.csv")
    out = tmp_path / "out"
    (out / "daily.clerk.csv").mkdir(parents=True)
    before = _canaries(pool)
    _no_traceback(cli("inject", "daily", src, "--holders", "clerk,partner", "--out-dir", out))
    assert _canaries(pool) == before
    assert sorted(p.name for p in out.iterdir()) == ["daily.clerk.csv"]


def test_inject_refuses_an_output_under_a_file(pool, cli, tmp_path):
    src = daily_csv(tmp_path / "daily.csv")
    blocker = tmp_path / "file"
    blocker.write_text("x")
    before = _canaries(pool)
    result = cli("inject", "daily", src, "--holder", "clerk", "-o", blocker / "sub" / "out.csv")
    _no_traceback(result)
    assert "not a folder" in result.output
    assert _canaries(pool) == before


def test_inject_over_its_own_input_is_refused_and_the_input_kept(pool, cli, tmp_path):
    src = daily_csv(tmp_path / "daily.csv")
    original = src.read_bytes()
    _no_traceback(cli("inject", "daily", src, "--holder", "clerk", "-o", src))
    assert src.read_bytes() == original


def test_evidence_export_refuses_a_device_as_output(cli, tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    result = cli("evidence", "export", "1", "-o", fifo)
    _no_traceback(result)
    assert fifo.is_fifo()


def test_a_good_inject_leaves_no_temporary_files(pool, cli, tmp_path):
    src = daily_csv(tmp_path / "daily.csv")
    out = tmp_path / "out"
    result = cli("inject", "daily", src, "--holders", "clerk,partner", "--out-dir", out)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["daily.clerk.csv", "daily.partner.csv"]


def test_an_unreachable_database_is_a_message_not_a_traceback(context):
    from click.testing import CliRunner

    from canary.cli import main

    env = {
        "CANARY_HOME": context.settings.home,  # real keys, a database that is not there
        "CANARY_DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=1",
    }
    result = CliRunner().invoke(main, ["incidents"], env=env)
    assert "database is unavailable" in result.output
    _no_traceback(result)
    assert "nobody" not in result.output  # the URL can carry a password: never echoed
