"""XLSX: canaries go into the list's sheet; everything else in the workbook survives."""

from __future__ import annotations

import csv
import shutil
import subprocess
import zipfile

import openpyxl
import pytest

from canary.feeds.base import Target
from canary.feeds.xlsxfmt import XlsxFile
from tests.feeds.helpers import plan, serial_spec
from tests.feeds.xlsx_fixtures import HEADER, clerk_workbook, data, shared_strings_workbook

CANARY_A = ["王小红", "13912345678", "2026-11-05", "3210"]
CANARY_B = ["李美玲", "13687654321", "2026-11-06", "3330"]
MAP = {"name": "产妇姓名", "phone": "联系电话"}


@pytest.fixture
def injected(tmp_path):
    src = tmp_path / "list.xlsx"
    clerk_workbook(src, n=10)
    scanned = XlsxFile(src, column_map=MAP)
    out = tmp_path / "out.xlsx"
    scanned.write([Target(out, plan([(0, CANARY_A), (10, CANARY_B)]))])
    return src, out, scanned


def values(path, sheet="名单"):
    return [list(r) for r in openpyxl.load_workbook(path)[sheet].iter_rows(values_only=True)]


def test_sample_reads_header_below_the_title_and_dates_as_text(injected):
    _, _, scanned = injected
    assert scanned.sample.header == HEADER
    assert scanned.sample.total_rows == 10
    assert scanned.sample.rows[0] == ["张0", "13800000000", "2026-11-01", "3000"]


def test_removing_canary_rows_gives_back_the_original_rows(injected):
    src, out, _ = injected
    before, after = values(src), values(out)
    assert len(after) == len(before) + 2
    assert after[2][:2] == CANARY_A[:2] and after[13][:2] == CANARY_B[:2]
    stripped = after[:2] + after[3:13] + after[14:]
    assert stripped[:-1] == before[:-1]


def test_other_parts_of_the_workbook_are_byte_identical(injected):
    src, out, _ = injected
    a, b = zipfile.ZipFile(src), zipfile.ZipFile(out)
    assert a.namelist() == b.namelist()
    changed = [n for n in a.namelist() if a.read(n) != b.read(n)]
    assert changed == ["xl/worksheets/sheet1.xml"]


def test_styles_widths_freeze_merge_and_validation_survive(injected):
    _, out, _ = injected
    ws = openpyxl.load_workbook(out)["名单"]
    assert ws.freeze_panes == "A3"
    assert [str(r) for r in ws.merged_cells.ranges] == ["A1:D1"]
    assert ws.column_dimensions["A"].width == 14 and ws.column_dimensions["B"].width == 18
    assert str(ws.data_validations.dataValidation[0].sqref) == "D3:D14"
    assert ws["A2"].font.b
    canary, neighbour = ws["B3"], ws["B4"]
    assert canary.value == "13912345678" and canary.data_type == "s"
    assert canary.number_format == neighbour.number_format == "@"
    assert ws["C3"].number_format == "yyyy-mm-dd" and ws["C3"].is_date
    assert ws["D14"].value == 3330 and ws["D14"].number_format == "#,##0"


def test_summary_formulas_grow_over_the_canaries(injected):
    _, out, _ = injected
    ws = openpyxl.load_workbook(out)["名单"]
    assert ws["A15"].value == "合计"
    assert ws["B15"].value == "=COUNTA(A3:A14)"
    assert ws["D15"].value == "=SUM(D3:D14)"


def test_shared_strings_workbook_gets_shared_strings_not_inline_ones(tmp_path):
    src = tmp_path / "sst.xlsx"
    shared_strings_workbook(src)
    out = tmp_path / "out.xlsx"
    XlsxFile(src).write([Target(out, plan([(1, ["王五", "13900000000"])]))])
    sheet = zipfile.ZipFile(out).read("xl/worksheets/sheet1.xml")
    assert b"inlineStr" not in sheet
    assert b'<dimension ref="A1:B4"/>' in sheet
    sst = zipfile.ZipFile(out).read("xl/sharedStrings.xml")
    assert b'count="8" uniqueCount="8"' in sst
    assert values(out, "Sheet1") == [
        ["姓名", "电话"],
        ["张三", "13800000001"],
        ["王五", "13900000000"],
        ["李四", "13800000002"],
    ]


def serial_workbook(path, cells: str, serials: list) -> None:
    """序号 and a name, six rows and a totals row; serial cells as numbers or as text."""
    rows = [
        ["序号", "产妇姓名"],
        *([n, f"张{i}"] for i, n in enumerate(serials)),
        ["合计", "共6人"],
    ]
    if cells == "shared-text":
        shared_strings_workbook(path, rows)
        return
    wb = openpyxl.Workbook()
    for row in rows:
        wb.active.append(row)  # openpyxl writes text as inline strings
    wb.save(path)


@pytest.mark.parametrize("count_down", [False, True], ids=["counting-up", "counting-down"])
@pytest.mark.parametrize("cells", ["numbers", "inline-text", "shared-text"])
def test_serial_column_is_renumbered_around_the_canaries(tmp_path, count_down, cells):
    def cell(n):
        return n if cells == "numbers" else f"NB{n:03d}"

    src = tmp_path / "list.xlsx"
    serial_workbook(src, cells, [cell(6 - i if count_down else i + 1) for i in range(6)])
    # Canaries at the top, two sharing a gap, and at the bottom, numbered as the forger
    # numbers them; a count-down column keeps its bottom row's number, one counting up
    # its top row's.
    numbers = [10, 6, 5, 1] if count_down else [1, 5, 6, 10]
    canaries = [
        (p, [str(cell(n)), name])
        for p, n, name in zip((0, 3, 3, 6), numbers, "甲乙丙丁", strict=True)
    ]
    shape = ("", 0) if cells == "numbers" else ("NB", 3)
    out = tmp_path / "out.xlsx"
    XlsxFile(src).write(
        [Target(out, plan(canaries, serial=serial_spec(0, *shape, descending=count_down)))]
    )
    got = values(out, sheet=openpyxl.load_workbook(out).sheetnames[0])
    column = list(range(10, 0, -1)) if count_down else list(range(1, 11))
    assert [r[0] for r in got[1:-1]] == [cell(n) for n in column]
    real = [f"张{i}" for i in range(6)]
    assert [r[1] for r in got[1:-1]] == ["甲", *real[:3], "乙", "丙", *real[3:], "丁"]
    assert got[-1] == ["合计", "共10人"]


def _formula_serial_workbook(path, formulas: str) -> None:
    """Six rows numbered by =ROW()-1, each cell with its own formula or one shared."""
    shared_strings_workbook(path)
    with zipfile.ZipFile(path) as z:
        parts = {n: z.read(n) for n in z.namelist()}
    rows = [
        '<row r="1"><c r="A1" t="inlineStr"><is><t>序号</t></is></c>'
        '<c r="B1" t="inlineStr"><is><t>姓名</t></is></c></row>'
    ]
    for r in range(2, 8):
        if formulas == "own":
            f = "<f>ROW()-1</f>"
        else:
            f = (
                '<f t="shared" ref="A2:A7" si="0">ROW()-1</f>'
                if r == 2
                else '<f t="shared" si="0"/>'
            )
        rows.append(
            f'<row r="{r}"><c r="A{r}">{f}<v>{r - 1}</v></c>'
            f'<c r="B{r}" t="inlineStr"><is><t>张{r}</t></is></c></row>'
        )
    parts["xl/worksheets/sheet1.xml"] = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        "<sheetData>" + "".join(rows) + "</sheetData></worksheet>"
    ).encode()
    with zipfile.ZipFile(path, "w") as z:
        for name, data_ in parts.items():
            z.writestr(name, data_)


@pytest.mark.parametrize("formulas", ["own", "shared"])
def test_a_serial_column_of_formulas_stays_formulas_with_the_right_saved_numbers(
    tmp_path, formulas
):
    src, out = tmp_path / "list.xlsx", tmp_path / "out.xlsx"
    _formula_serial_workbook(src, formulas)
    canaries = [(0, ["1", "甲"]), (3, ["5", "乙"]), (6, ["9", "丙"])]
    XlsxFile(src).write([Target(out, plan(canaries, serial=serial_spec(0)))])
    sheet = openpyxl.load_workbook(out).active
    saved = openpyxl.load_workbook(out, data_only=True).active
    names = [sheet.cell(r, 2).value for r in range(2, 11)]
    assert names == ["甲", "张2", "张3", "张4", "乙", "张5", "张6", "张7", "丙"]
    # What a viewer shows without computing: a count by one through the canaries.
    assert [saved.cell(r, 1).value for r in range(2, 11)] == list(range(1, 10))
    # Every serial cell, the canaries' included, is still the column's formula.
    for r in range(2, 11):
        formula = sheet.cell(r, 1).value
        assert isinstance(formula, str) and formula.startswith("="), (r, formula)
    assert sheet.cell(2, 1).value == "=ROW()-1" and sheet.cell(6, 1).value == "=ROW()-1"


LIBREOFFICE = shutil.which("libreoffice") or shutil.which("soffice")


@pytest.mark.skipif(LIBREOFFICE is None, reason="apt package libreoffice-calc-nogui not installed")
def test_libreoffice_opens_the_copy_and_sees_the_original_rows_plus_canaries(injected, tmp_path):
    _, out, _ = injected
    profile = tmp_path / "lo-profile"
    subprocess.run(
        [
            LIBREOFFICE,
            f"-env:UserInstallation=file://{profile}",
            "--headless",
            "--convert-to",
            "csv:Text - txt - csv (StarCalc):44,34,76,1",
            "--outdir",
            str(tmp_path / "lo"),
            str(out),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    with open(tmp_path / "lo" / "out.csv", encoding="utf-8", newline="") as fh:
        # LibreOffice writes cells as displayed: "#,##0" shows 3210 as "3,210".
        rows = [[c.replace(",", "") for c in r] for r in csv.reader(fh)]
    expected = [[r[0], r[1], r[2].isoformat(), str(r[3])] for r in data(10)]
    assert rows[1][:4] == HEADER
    assert rows[2][:4] == CANARY_A and rows[13][:4] == CANARY_B
    assert [r[:4] for r in rows[3:13]] == expected
    total = sum(3000 + i for i in range(10)) + 3210 + 3330
    assert rows[14][0] == "合计" and rows[14][1] == "12" and rows[14][3] == str(total)
