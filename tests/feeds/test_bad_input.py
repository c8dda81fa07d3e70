"""Every kind of bad delivery gets a clear error, exit status 2 and no output file."""

from __future__ import annotations

import zipfile

import openpyxl
import pytest

from canary.feeds import errors, formats
from canary.feeds.xlsx_package import Limits
from tests.feeds.conftest import MAP
from tests.feeds.xlsx_fixtures import clerk_workbook

GOOD_HEADER = "产妇姓名,联系电话,分娩日期\r\n"


def _write(path, data: bytes):
    path.write_bytes(data)
    return path


def _zip_bomb(path):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("xl/workbook.xml", "<workbook/>")
        zf.writestr("xl/worksheets/sheet1.xml", b"\0" * (4 * 1024 * 1024))
    return path


def _other_sheets(path):
    wb = openpyxl.Workbook()
    wb.active.append(["姓名", "电话"])
    wb.active.append(["张三", "13800000001"])
    wb.create_sheet("统计").append(["月份", "人数"])
    wb.save(path)
    return path


CASES = {
    "empty": (lambda p: _write(p / "in.csv", b""), errors.EmptyFile, "empty"),
    "blank lines": (lambda p: _write(p / "in.csv", b"\r\n\r\n"), errors.EmptyFile, "no rows"),
    "header only": (
        lambda p: _write(p / "in.csv", GOOD_HEADER.encode()),
        errors.HeaderOnly,
        "no data rows",
    ),
    "ragged": (
        lambda p: _write(
            p / "in.csv",
            (
                GOOD_HEADER + "张三,13800000001,2026-11-01\r\n李四,13800000002\r\n"
                "王五,13800000003,2026-11-03\r\n"
            ).encode(),
        ),
        errors.RaggedRows,
        "line 3 has 2 cells",
    ),
    "undecodable": (
        lambda p: _write(
            p / "in.csv",
            GOOD_HEADER.encode()
            + "张三,13800000001,2026-11-01\r\n".encode() * 40
            + b"\xff\xfe\xfd,1,2\r\n",
        ),
        errors.UndecodableFile,
        "invalid byte on line 42",
    ),
    "binary": (
        lambda p: _write(p / "in.csv", bytes(range(256)) * 8),
        errors.UndecodableFile,
        "encoding",
    ),
    "encrypted workbook": (
        lambda p: _write(p / "in.xlsx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600),
        errors.EncryptedWorkbook,
        "password",
    ),
    "corrupt workbook": (
        lambda p: _write(p / "in.xlsx", b"PK\x03\x04" + b"garbage" * 50),
        errors.CorruptWorkbook,
        "not a readable .xlsx",
    ),
    "text named xlsx": (
        lambda p: _write(p / "in.xlsx", GOOD_HEADER.encode()),
        errors.CorruptWorkbook,
        "not an .xlsx package",
    ),
    "zip bomb": (lambda p: _zip_bomb(p / "in.xlsx"), errors.WorkbookTooLarge, "zip bomb"),
    "no matching sheet": (
        lambda p: _other_sheets(p / "in.xlsx"),
        errors.NoMatchingSheet,
        "no sheet of the workbook",
    ),
    "missing column": (
        lambda p: _write(p / "in.csv", "产妇姓名,手机\r\n张三,13800000001\r\n".encode()),
        errors.MissingColumn,
        "'联系电话'",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_delivery_is_refused_with_a_clear_error(tmp_path, case):
    make, exc_type, words = CASES[case]
    path = make(tmp_path)
    with pytest.raises(exc_type) as info:
        fmt = formats.detect_format(path, "csv")
        formats.scan(path, fmt=fmt, column_map=MAP)
    assert words in str(info.value)
    assert "张三" not in str(info.value) and "138" not in str(info.value)


@pytest.mark.parametrize("case", list(CASES))
def test_cli_exits_2_and_leaves_no_output(mapped, cli, tmp_path, case):
    make, _, words = CASES[case]
    path = make(tmp_path)
    out_dir = tmp_path / "copies"
    result = cli("inject", "daily", path, "--holders", "head-office,clerk", "--out-dir", out_dir)
    assert result.exit_code == 2, result.output
    assert words in result.output
    assert not out_dir.exists() or not any(out_dir.iterdir())


def test_cell_count_limit_refuses_a_huge_sheet(tmp_path):
    path = tmp_path / "in.xlsx"
    clerk_workbook(path, n=50)
    with pytest.raises(errors.WorkbookTooLarge, match="cells"):
        formats.scan(path, fmt="xlsx", column_map=MAP, limits=Limits(max_cells=100))


def test_decompressed_size_limit_is_enforced(tmp_path):
    path = tmp_path / "in.xlsx"
    clerk_workbook(path, n=50)
    with pytest.raises(errors.WorkbookTooLarge, match="limit"):
        formats.scan(path, fmt="xlsx", column_map=MAP, limits=Limits(max_total_bytes=2000))


def test_configured_cell_limit_applies_to_inject(mapped, tmp_path):
    from canary.feeds.inject import inject
    from canary.flow import service as flow

    with mapped.db.session() as session:
        flow.ensure_copy(
            session, flow.get_feed(session, "daily-xlsx"), flow.get_holder(session, "clerk"), "t"
        )
    mapped.settings = mapped.settings.replace(xlsx_max_cells=100)
    path = tmp_path / "in.xlsx"
    clerk_workbook(path, n=50)
    out = tmp_path / "out.xlsx"
    with pytest.raises(errors.WorkbookTooLarge, match="cells"):
        inject(mapped, feed="daily-xlsx", input_path=path, holders=["clerk"], output=out, actor="t")
    assert not out.exists()
