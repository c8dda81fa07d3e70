"""`canary scan FILE [--json]`."""

from __future__ import annotations

import json

from click.testing import CliRunner

from canary.cli import main


def _run(context, *args):
    s = context.settings
    env = {"CANARY_HOME": s.home, "CANARY_DATABASE_URL": s.database_url}
    return CliRunner().invoke(main, [str(a) for a in args], env=env)


def test_cli_scan_prints_copies_and_stores_the_event(context, world, tmp_path):
    path = tmp_path / "leak.csv"
    path.write_text("王晓芳,139-1234-5678\n赵敏,13700001111\n")
    result = _run(context, "scan", path)
    assert result.exit_code == 0, result.output
    assert "ruijin-births → clerk Zhou, 2026-W45: 1 canaries" in result.output
    assert "canary" in result.output and "event" in result.output
    again = _run(context, "scan", path, "--json")
    data = json.loads(again.output)
    assert data["already_scanned"] is True
    assert data["found"][0]["fields"] == ["name", "phone"]
    assert "13912345678" not in again.output  # the report names fields, not their values


def test_cli_scan_of_a_damaged_workbook_exits_2(context, world, tmp_path):
    path = tmp_path / "broken.xlsx"
    path.write_bytes(b"PK\x03\x04" + b"\x00" * 100)
    result = _run(context, "scan", path)
    assert result.exit_code == 2 and "error:" in result.output
