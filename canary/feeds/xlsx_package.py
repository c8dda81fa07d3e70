"""Opening an XLSX package safely and finding its parts.

Guards: an encrypted workbook is an OLE/CFB container, not a zip (MS-OFFCRYPTO), so it is
recognised by its magic bytes; a zip bomb is refused by the declared and the actual
decompressed sizes, the compression ratio and the member count (the classic 42.zip
and overlapping-entry bombs all break one of these).
"""

from __future__ import annotations

import html
import posixpath
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

from canary.feeds.errors import (
    CorruptWorkbook,
    EncryptedWorkbook,
    NoMatchingSheet,
    WorkbookTooLarge,
)

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


@dataclass(frozen=True)
class Limits:
    max_total_bytes: int = 1024 * 1024 * 1024
    max_ratio: float = 200.0
    max_members: int = 10_000
    max_cells: int = 20_000_000


@dataclass
class SheetRef:
    name: str
    path: str  # member name inside the zip, e.g. xl/worksheets/sheet1.xml
    index: int


def _attrs(tag: str) -> dict[str, str]:
    return {k.split(":")[-1]: html.unescape(v) for k, v in re.findall(r'([\w:]+)="([^"]*)"', tag)}


class Package:
    """A checked, open XLSX zip."""

    def __init__(self, path: Path, limits: Limits) -> None:
        self.path, self.limits = Path(path), limits
        with open(self.path, "rb") as fh:
            magic = fh.read(8)
        if not magic:
            from canary.feeds.errors import EmptyFile

            raise EmptyFile("the file is empty; nothing was written")
        if magic == OLE_MAGIC:
            raise EncryptedWorkbook(
                "the workbook is password-protected (or an old .xls file); remove the "
                "password in Excel (File > Info > Protect Workbook) and save it as .xlsx"
            )
        try:
            self.zip = zipfile.ZipFile(self.path)
            infos = self.zip.infolist()
        except (zipfile.BadZipFile, OSError, ValueError):
            raise CorruptWorkbook(
                "the file is not a readable .xlsx workbook (damaged or not a workbook); "
                "open it in Excel and save it again"
            ) from None
        if len(infos) > limits.max_members:
            raise WorkbookTooLarge(f"the workbook has more than {limits.max_members} parts")
        total = sum(i.file_size for i in infos)
        if total > limits.max_total_bytes:
            raise WorkbookTooLarge(
                f"the workbook unpacks to {total} bytes, over the limit of "
                f"{limits.max_total_bytes}; split it or raise the limit"
            )
        for info in infos:
            if info.file_size > 1024 * 1024 and info.file_size > limits.max_ratio * max(
                info.compress_size, 1
            ):
                raise WorkbookTooLarge(
                    "the workbook is compressed implausibly well (a zip bomb?); refused"
                )
        self.names = {i.filename for i in infos}
        if "xl/workbook.xml" not in self.names:
            raise CorruptWorkbook(
                "the file is a zip but not an .xlsx workbook (no xl/workbook.xml)"
            )

    def read(self, name: str) -> bytes:
        """A member's bytes, never more than the size limit however the zip lies."""
        try:
            with self.zip.open(name) as fh:
                data = fh.read(self.limits.max_total_bytes + 1)
        except (zipfile.BadZipFile, KeyError, OSError, EOFError, ValueError):
            raise CorruptWorkbook(
                f"the workbook part {name} is damaged; open the file in Excel and save it again"
            ) from None
        except RuntimeError:  # zipfile raises this for encrypted members
            raise EncryptedWorkbook(
                "the workbook's parts are encrypted; remove the password"
            ) from None
        if len(data) > self.limits.max_total_bytes:
            raise WorkbookTooLarge("a workbook part unpacks beyond the size limit; refused")
        return data

    def text(self, name: str) -> str:
        return self.read(name).decode("utf-8")

    def rels(self, owner: str) -> dict[str, tuple[str, str]]:
        """Relationship id -> (type suffix, member path) for a part."""
        folder, base = posixpath.split(owner)
        rels_name = posixpath.join(folder, "_rels", base + ".rels")
        if rels_name not in self.names:
            return {}
        out = {}
        for tag in re.findall(r"<Relationship\b[^>]*>", self.text(rels_name)):
            a = _attrs(tag)
            target = a.get("Target", "")
            path = (
                target.lstrip("/")
                if target.startswith("/")
                else posixpath.normpath(posixpath.join(folder, target))
            )
            out[a.get("Id", "")] = (a.get("Type", "").rsplit("/", 1)[-1], path)
        return out

    def sheets(self) -> list[SheetRef]:
        rels = self.rels("xl/workbook.xml")
        out = []
        for i, tag in enumerate(re.findall(r"<sheet\b[^>]*>", self.text("xl/workbook.xml"))):
            a = _attrs(tag)
            rel = rels.get(a.get("id", ""))
            if rel and rel[0] == "worksheet" and rel[1] in self.names:
                out.append(SheetRef(a.get("name", ""), rel[1], i))
        if not out:
            raise NoMatchingSheet("the workbook has no worksheets")
        return out

    def shared_strings(self) -> tuple[str | None, list[str]]:
        rels = self.rels("xl/workbook.xml")
        path = next((p for t, p in rels.values() if t == "sharedStrings"), None)
        if path is None or path not in self.names:
            return None, []
        text = self.text(path)
        strings = [
            html.unescape("".join(re.findall(r"<t\b[^>]*>(.*?)</t>", si, re.S)))
            for si in re.findall(r"<si>(.*?)</si>|<si/>", text, re.S)
        ]
        return path, strings

    def date_styles(self) -> set[int]:
        """Indexes of cell formats (``s=``) that display numbers as dates."""
        rels = self.rels("xl/workbook.xml")
        path = next((p for t, p in rels.values() if t == "styles"), None)
        if path is None or path not in self.names:
            return set()
        text = self.text(path)
        custom = {
            int(a["numFmtId"]): a.get("formatCode", "")
            for a in (_attrs(t) for t in re.findall(r"<numFmt\b[^>]*>", text))
            if "numFmtId" in a
        }
        xfs = re.search(r"<cellXfs\b[^>]*>(.*?)</cellXfs>", text, re.S)
        out = set()
        for i, tag in enumerate(re.findall(r"<xf\b[^>]*>", xfs.group(1) if xfs else "")):
            fmt = int(_attrs(tag).get("numFmtId", "0"))
            if 14 <= fmt <= 22 or 45 <= fmt <= 47 or _is_date_code(custom.get(fmt, "")):
                out.add(i)
        return out

    def date1904(self) -> bool:
        return bool(re.search(r'date1904="(1|true)"', self.text("xl/workbook.xml")))


def _is_date_code(code: str) -> bool:
    bare = re.sub(r'"[^"]*"|\[[^\]]*\]|\\.', "", code).lower()
    return bool(bare) and any(ch in bare for ch in "ymd") and "general" not in bare
