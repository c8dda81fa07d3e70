"""Workbooks like the ones clerks send: title, styled header, text phones, totals."""

from __future__ import annotations

import datetime as dt
import zipfile

import openpyxl
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.worksheet.datavalidation import DataValidation

HEADER = ["产妇姓名", "联系电话", "分娩日期", "体重"]


def data(n: int) -> list[list]:
    return [[f"张{i}", f"138{i:08d}", dt.date(2026, 11, 1 + i % 28), 3000 + i] for i in range(n)]


def clerk_workbook(path, n: int = 10) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "名单"
    ws.append(["2026年11月 新生儿名单"])
    ws.merge_cells("A1:D1")
    ws["A1"].alignment = Alignment(horizontal="center")
    ws.append(HEADER)
    for cell in ws[2]:
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="FFDDEEFF")
    for i, row in enumerate(data(n)):
        ws.append(row)
        r = 3 + i
        ws.cell(r, 2).number_format = "@"
        ws.cell(r, 3).number_format = "yyyy-mm-dd"
        ws.cell(r, 4).number_format = "#,##0"
    last = 2 + n
    ws.append(["合计", f"=COUNTA(A3:A{last})", None, f"=SUM(D3:D{last})"])
    ws.column_dimensions["A"].width = 14
    ws.column_dimensions["B"].width = 18
    ws.freeze_panes = "A3"
    dv = DataValidation(type="whole", operator="between", formula1="500", formula2="6000")
    dv.add(f"D3:D{last}")
    ws.add_data_validation(dv)
    other = wb.create_sheet("说明")
    other.append(["本表仅供内部使用", 1])
    wb.save(path)


def shared_strings_workbook(path, rows: list[list[str]] | None = None) -> None:
    """A minimal workbook as Excel writes it: shared strings, no inline strings."""
    rows = rows or [["姓名", "电话"], ["张三", "13800000001"], ["李四", "13800000002"]]
    strings = list(dict.fromkeys(text for row in rows for text in row))
    sst = "".join(f"<si><t>{s}</t></si>" for s in strings)
    cells = [
        "".join(
            f'<c r="{chr(65 + c)}{r}" t="s"><v>{strings.index(text)}</v></c>'
            for c, text in enumerate(row)
        )
        for r, row in enumerate(rows, 1)
    ]
    sheet = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        f'<dimension ref="A1:{chr(64 + len(rows[0]))}{len(rows)}"/><sheetData>'
        + "".join(f'<row r="{r}">{row}</row>' for r, row in enumerate(cells, 1))
        + "</sheetData></worksheet>"
    )
    parts = {
        "[Content_Types].xml": (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
            '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
            '<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
            "</Types>"
        ),
        "_rels/.rels": (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>'
            "</Relationships>"
        ),
        "xl/workbook.xml": (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
            'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
            '<sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>'
        ),
        "xl/_rels/workbook.xml.rels": (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>'
            '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/>'
            "</Relationships>"
        ),
        "xl/worksheets/sheet1.xml": sheet,
        "xl/sharedStrings.xml": (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
            f'count="{len(strings)}" uniqueCount="{len(strings)}">{sst}</sst>'
        ),
    }
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, text in parts.items():
            zf.writestr(name, text)
