"""Scanning leaked files: formats, reformatting, attribution to copies, idempotence."""

from __future__ import annotations

import json

import openpyxl
import pytest
from sqlalchemy import func, select

from canary.attribution.models import Incident
from canary.forensics.service import payload_of, scan
from canary.telephony.models import Event, EventCanary
from tests.forensics.conftest import T0

HEADER = "序号,产妇姓名,联系电话,宝宝出生日期,医院\n"
BACKGROUND = [
    "1,赵敏,13700001111,2026-10-01,瑞金医院",
    "2,孙丽,15800002222,2026-10-02,瑞金医院",
    "3,周洁,18900003333,2026-10-03,仁济医院",
]


def write(tmp_path, name: str, lines: list[str], encoding: str = "utf-8") -> str:
    path = tmp_path / name
    path.write_bytes(("\n".join(lines) + "\n").encode(encoding))
    return str(path)


def found_ids(result) -> set[int]:
    return {item["canary_id"] for item in result.found}


@pytest.mark.parametrize(
    "written",
    [
        "18611112222",
        "+86 186 1111 2222",
        "+86-186-1111-2222",
        "0086 18611112222",
        "008618611112222",
        "186-1111-2222",
        "186.1111.2222",
        "(186) 1111 2222",
        "1861 111 2222",
        "８６１８６１１１１２２２２"[2:],
    ],
)
def test_reformatted_phone_of_a_single_canary_number_is_found(
    context, world, admin, tmp_path, written
):
    before = [HEADER.strip(), *BACKGROUND]
    path = write(tmp_path, "leak.csv", [*before, f"4,某某,{written},,"])
    result = scan(context, path, principal=admin)
    assert found_ids(result) == {world.canaries["ouyang"]}
    assert result.found[0]["fields"] == ["phone"]
    offset = len(("\n".join(before) + "\n").encode())
    assert result.found[0]["locations"] == [f"byte {offset}"]


def test_digits_glued_to_a_number_are_not_that_number(context, world, admin, tmp_path):
    path = write(tmp_path, "leak.csv", ["a,918611112222", "b,186111122229", "c,2018611112222"])
    result = scan(context, path, principal=admin)
    assert result.found == [] and result.ambiguous == []


@pytest.mark.parametrize(
    "name",
    [
        "Wang Xiaofang",
        "XIAOFANG WANG",
        "wangxiaofang",
        "Wáng Xiǎofāng",
        "wang2 xiao3fang1",
        "Xiao-Fang Wang",
    ],
)
def test_pinyin_name_picks_the_canary_on_a_shared_number(context, world, admin, tmp_path, name):
    path = write(tmp_path, "leak.txt", [f"{name} 139 1234 5678 Shanghai", "Zhao Min 13700001111"])
    result = scan(context, path, principal=admin)
    assert found_ids(result) == {world.canaries["wang"]}
    assert result.found[0]["fields"] == ["name", "phone"]


def test_traditional_characters_and_birth_date_disambiguate(context, world, admin, tmp_path):
    # 張麗華 is 张丽华 after OpenCC s2t; the date tells 吕秀英 (same number) apart too.
    path = write(
        tmp_path,
        "leak.csv",
        ["電話,姓名", "159-8765-4321,張麗華", "15987654321,2026年11月5日"],
    )
    result = scan(context, path, principal=admin)
    assert found_ids(result) == {world.canaries["zhang"], world.canaries["lv"]}
    fields = {item["canary_id"]: item["fields"] for item in result.found}
    assert fields[world.canaries["zhang"]] == ["name", "phone"]
    assert fields[world.canaries["lv"]] == ["birth_date", "phone"]


def test_phone_alone_on_a_shared_number_is_reported_as_ambiguous(context, world, admin, tmp_path):
    path = write(tmp_path, "leak.csv", [HEADER.strip(), *BACKGROUND, "9,陈某,13912345678,,"])
    result = scan(context, path, principal=admin)
    assert result.found == []
    assert len(result.ambiguous) == 1
    sighting = result.ambiguous[0]
    assert sighting["kind"] == "shared_number"
    assert set(sighting["candidate_canary_ids"]) == {world.canaries["wang"], world.canaries["li"]}
    with context.db.session() as s:
        event = s.get(Event, result.event_id)
        assert event.canaries == []  # no canary is blamed on a number it shares
        assert event.incident_id is None


def test_reordered_renamed_columns_and_gb18030_encoding(context, world, admin, tmp_path):
    lines = [
        "联系方式,备注,姓名（母亲）,出生",
        "13800001111,无,赵敏,2026-09-01",
        "139 1234 5678,VIP,王晓芳,2026/10/28",
    ]
    path = write(tmp_path, "leak_gbk.csv", lines, encoding="gb18030")
    result = scan(context, path, principal=admin)
    assert found_ids(result) == {world.canaries["wang"]}
    assert result.found[0]["fields"] == ["birth_date", "name", "phone"]


def test_id_number_alone_finds_its_canary(context, world, admin, tmp_path):
    path = write(tmp_path, "dump.txt", ["身份证 310101 19920315 452x 住址 上海"])
    result = scan(context, path, principal=admin)
    assert found_ids(result) == {world.canaries["wang"]}
    assert result.found[0]["fields"] == ["id_number"]


def test_name_with_birth_date_but_changed_phone_is_found(context, world, admin, tmp_path):
    path = write(tmp_path, "dump.txt", ["欧阳静 13011112222 2026-11-06", "欧阳静 13011113333"])
    result = scan(context, path, principal=admin)
    assert found_ids(result) == {world.canaries["ouyang"]}
    assert result.found[0]["fields"] == ["birth_date", "name"]
    assert result.found[0]["records"] == 1


def test_xlsx_workbook_with_several_sheets(context, world, admin, tmp_path):
    book = openpyxl.Workbook()
    first = book.active
    first.title = "瑞金"
    first.append(["姓名", "电话"])
    first.append(["赵敏", 13700001111])
    second = book.create_sheet("汇总")
    second.append(["电话号码", "产妇"])
    second.append([18611112222, "某"])
    second.append(["159 8765 4321", "张丽华"])
    path = tmp_path / "merged.xlsx"
    book.save(path)
    result = scan(context, path, principal=admin)
    assert result.format == "xlsx"
    assert found_ids(result) == {world.canaries["ouyang"], world.canaries["zhang"]}
    locations = {item["canary_id"]: item["locations"] for item in result.found}
    assert locations[world.canaries["zhang"]] == ["汇总!3"]


def test_pretty_json_keeps_fields_of_one_record_together(context, world, admin, tmp_path):
    records = [
        {"mother": {"name": "李娜"}, "contact": "+86 139-1234-5678", "n": 1},
        {"mother": {"name": "赵敏"}, "contact": "13700001111", "n": 2},
    ]
    path = tmp_path / "leak.json"
    path.write_text(json.dumps({"data": records}, ensure_ascii=False, indent=2))
    result = scan(context, path, principal=admin)
    assert result.format == "json"
    assert found_ids(result) == {world.canaries["li"]}
    assert result.found[0]["locations"] == ["record 1"]


def test_ndjson_is_scanned_line_by_line(context, world, admin, tmp_path):
    path = write(
        tmp_path,
        "leak.ndjson",
        [json.dumps({"tel": "13912345678", "nm": "Li Na"}), json.dumps({"tel": "1"})],
    )
    result = scan(context, path, principal=admin)
    assert result.format == "text"
    assert found_ids(result) == {world.canaries["li"]}


def test_merged_file_reports_every_copy_and_period(context, world, admin, tmp_path):
    utf8 = "\n".join(["王晓芳,13912345678", "赵敏,13700001111"]).encode("utf-8")
    gbk = "\n".join(["李娜,139-1234-5678", "吕秀英,15987654321"]).encode("gb18030")
    path = tmp_path / "merged.csv"
    path.write_bytes(utf8 + b"\n" + gbk + b"\n")
    result = scan(context, path, principal=admin)
    assert found_ids(result) == {world.canaries[k] for k in ("wang", "li", "lv")}
    copies = {(c["holder"], c["period"]) for c in result.copies}
    assert copies == {
        ("clerk Zhou", "2026-W45"),
        ("photo studio", "2026-W45"),
        ("photo studio", "2026-W46"),
    }


def test_file_without_canaries_stores_nothing(context, world, admin, tmp_path):
    path = write(tmp_path, "clean.csv", [HEADER.strip(), *BACKGROUND])
    result = scan(context, path, principal=admin)
    assert result.found == [] and result.ambiguous == [] and result.event_id is None
    with context.db.session() as s:
        assert s.scalar(select(func.count()).select_from(Event)) == 0
        assert s.scalar(select(func.count()).select_from(Incident)) == 0


def test_scan_opens_an_incident_with_file_evidence_once(context, world, admin, tmp_path):
    from canary.evidence.models import EvidenceEntry

    path = write(tmp_path, "leak.csv", ["王晓芳,13912345678,2026-10-28", "欧阳静,18611112222"])
    first = scan(context, path, principal=admin)
    again = scan(context, path, principal=admin)
    assert first.event_id is not None and not first.already_scanned
    assert again.already_scanned and again.event_id == first.event_id
    with context.db.session() as s:
        assert s.scalar(select(func.count()).select_from(Event)) == 1
        event = s.get(Event, first.event_id)
        assert event.kind == "scan" and event.provider_sid == first.sha256
        assert {(link.canary_id, link.strength) for link in event.canaries} == {
            (world.canaries["wang"], "file"),
            (world.canaries["ouyang"], "file"),
        }
        payload = payload_of(context, event)
        assert payload["file_name"] == "leak.csv" and payload["size"] == first.size
        assert b"leak.csv" not in event.payload_enc
        entries = s.scalars(select(EvidenceEntry).where(EvidenceEntry.event_id == event.id)).all()
        assert [e.kind for e in entries].count("scan") == 1
        incident = s.get(Incident, first.incident_id)
        # Both canaries found were minted for the clerk's copy, in weeks 45 and 46.
        assert incident.copy_id == world.copies["clerk"]
        assert (incident.period_from, incident.period_to) == ("2026-W45", "2026-W46")


def test_scan_reads_canaries_through_the_audited_registry(context, world, admin, tmp_path):
    from canary.security.models import AuditEntry

    path = write(tmp_path, "clean.csv", BACKGROUND)
    scan(context, path, principal=admin)
    with context.db.session() as s:
        actions = [a.action for a in s.scalars(select(AuditEntry))]
    assert "canary.read" in actions and "scan" in actions


def test_operator_may_not_scan(context, world, tmp_path):
    from canary.errors import PermissionDenied
    from canary.security.tokens import Principal

    path = write(tmp_path, "leak.csv", ["欧阳静,18611112222"])
    with pytest.raises(PermissionDenied):
        scan(context, path, principal=Principal("token:9:ops", "operator"))
    with context.db.session() as s:
        assert s.scalar(select(func.count()).select_from(EventCanary)) == 0


def test_utf16_text_export_is_transcoded(context, world, admin, tmp_path):
    path = tmp_path / "unicode.txt"
    path.write_bytes("姓名\t电话\r\n欧阳静\t186 1111 2222\r\n".encode("utf-16"))
    result = scan(context, path, principal=admin)
    assert result.format == "utf16"
    assert found_ids(result) == {world.canaries["ouyang"]}


def test_malformed_json_is_a_clear_error(context, world, admin, tmp_path):
    from canary.errors import FeedFormatError

    path = tmp_path / "broken.json"
    path.write_text('[{"tel": "18611112222"}, {"tel": ')
    with pytest.raises(FeedFormatError, match="malformed after record 1"):
        scan(context, path, principal=admin)


def test_dates_from_the_forgers_date_map_count_as_birth_date(context, world, admin, tmp_path):
    from canary.canaries import registry
    from canary.telephony import pool

    with context.db.session() as s:
        point = pool.add_number(s, context, "+8613312340000", quarantine_days=0, actor="t")
        canary = registry.store(
            s,
            context.keys,
            copy_id=world.copies["partner"],
            period="2026-W47",
            slot=9,
            row={},
            persona={"name": "周雨涵", "dates": {"分娩日期": "2026-11-18"}},
            contact_point_ids=[point.id],
            live_from=T0,
        )
    path = write(tmp_path, "dump.txt", ["周雨涵 2026年11月18日 13000000000"])
    result = scan(context, path, principal=admin)
    assert found_ids(result) == {canary.id}
    assert result.found[0]["fields"] == ["birth_date", "name"]
