"""Watched folders: complete files only, per-holder outboxes, archive, idempotence, failures."""

from __future__ import annotations

import logging

from canary.feeds.watch import scan_inboxes
from canary.flow.models import Feed
from tests.feeds.conftest import daily_csv


def _inbox(ctx, tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    with ctx.db.session() as session:
        session.query(Feed).filter(Feed.name == "daily").update({"inbox_dir": str(inbox)})
    return inbox


def test_a_new_file_is_taken_only_once_it_is_stable(pool, tmp_path):
    inbox = _inbox(pool, tmp_path)
    daily_csv(inbox / "daily.csv")
    (inbox / "upload.csv.part").write_bytes(b"half")
    assert scan_inboxes(pool) == 0  # first sight: it might still be growing
    assert (inbox / "daily.csv").exists()
    assert scan_inboxes(pool) == 1
    for holder in ("head-office", "clerk", "partner"):
        assert (tmp_path / f"out-{holder}" / "daily.csv").exists()
    archived = list((inbox / "archive").iterdir())
    assert len(archived) == 1 and archived[0].name.endswith("-daily.csv")
    assert (inbox / "upload.csv.part").exists()


def test_a_growing_file_waits(pool, tmp_path):
    inbox = _inbox(pool, tmp_path)
    path = daily_csv(inbox / "daily.csv", n=10)
    scan_inboxes(pool)
    with open(path, "ab") as fh:
        fh.write("王五,13800000009,2026-11-22,3000\r\n".encode())
    assert scan_inboxes(pool) == 0
    assert scan_inboxes(pool) == 1


def test_the_same_delivery_twice_is_injected_once(pool, tmp_path):
    inbox = _inbox(pool, tmp_path)
    src = daily_csv(tmp_path / "daily.csv")
    (inbox / "daily.csv").write_bytes(src.read_bytes())
    scan_inboxes(pool), scan_inboxes(pool)
    out = tmp_path / "out-clerk" / "daily.csv"
    first = out.stat().st_mtime_ns
    (inbox / "again.csv").write_bytes(src.read_bytes())
    assert scan_inboxes(pool) == 0 and scan_inboxes(pool) == 0
    assert out.stat().st_mtime_ns == first
    assert not (tmp_path / "out-clerk" / "again.csv").exists()
    assert len(list((inbox / "archive").iterdir())) == 2


def test_a_bad_file_goes_to_failed_with_a_report_and_no_personal_data_in_logs(
    pool, tmp_path, caplog
):
    inbox = _inbox(pool, tmp_path)
    (inbox / "broken.csv").write_bytes(
        "产妇姓名,联系电话,分娩日期\r\n张三,13800000001\r\n李四,13800000002,x\r\n".encode()
    )
    with caplog.at_level(logging.INFO, logger="canary.feeds.watch"):
        scan_inboxes(pool)
        assert scan_inboxes(pool) == 0
    assert (inbox / "failed" / "broken.csv").exists()
    report = (inbox / "failed" / "broken.csv.error.txt").read_text(encoding="utf-8")
    assert "line 2 has 2 cells" in report
    assert not list(tmp_path.glob("out-*/*"))
    assert "RaggedRows" in caplog.text
    assert "张三" not in caplog.text and "13800000001" not in caplog.text
