"""The README's main job: the whole loop on loopback must end in a verified alert."""

from __future__ import annotations

import csv
import io

from click.testing import CliRunner

from canary.cli import main
from canary.demo import sample_feed
from canary.demo.run import LEAKER, run_demo


def test_demo_names_the_leaking_clerk_and_verifies_the_alert(tmp_path):
    steps: list[tuple[str, str]] = []
    result = run_demo(lambda step, text: steps.append((step, text)), workdir=tmp_path, keep=True)

    assert result.signature_verified
    assert result.incident["holder"] == LEAKER
    assert result.incident["confidence"] >= 0.99
    assert result.alert["data"]["holder"]["name"] == LEAKER
    assert result.alert["data"]["incident_id"] == result.incident["id"]
    assert result.alert["data"]["period"]["from"] == result.incident["period_from"]

    # Each copy carries its own canaries: the copies differ only in the injected rows.
    copies = {
        holder: list(csv.DictReader(io.StringIO(path.read_bytes().decode("gb18030"))))
        for holder, path in result.outputs.items()
    }
    phones = {
        holder: {row[sample_feed.COLUMN_MAP["phone"]] for row in rows}
        for holder, rows in copies.items()
    }
    only_in = [p - q for p, q in (tuple(phones.values()), tuple(phones.values())[::-1])]
    assert all(len(extra) >= 1 for extra in only_in)
    assert [step for step, _ in steps if step == "alert"]


def test_demo_command_exits_zero_and_reports_the_leak(tmp_path):
    out = CliRunner().invoke(main, ["demo", "--workdir", str(tmp_path)])
    assert out.exit_code == 0, out.output
    assert f"Leak attributed to holder {LEAKER}" in " ".join(out.output.split())
