"""The inject pipeline through the real forger and number pool."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from sqlalchemy import select

from canary.errors import CanaryError
from canary.feeds.inject import inject
from canary.flow import service as flow
from canary.flow.models import HolderLink
from canary.periods import period_of
from tests.feeds.conftest import MAP, daily_csv
from tests.feeds.xlsx_fixtures import clerk_workbook


def added_lines(original: bytes, output: bytes, newline=b"\r\n") -> list[bytes]:
    """Lines of the output that are not in the input; asserts the rest is the input, in order."""
    before, after = original.split(newline), output.split(newline)
    extra = Counter(after) - Counter(before)
    kept = []
    remaining = Counter(extra)
    for line in after:
        if remaining[line]:
            remaining[line] -= 1
        else:
            kept.append(line)
    assert kept == before
    return list(extra.elements())


def test_each_holder_gets_its_own_canaries_in_one_pass(pool, tmp_path):
    src = daily_csv(tmp_path / "daily.csv")
    result = inject(
        pool,
        feed="daily",
        input_path=src,
        holders=["head-office", "clerk", "partner"],
        period="2026-W48",
        out_dir=tmp_path / "copies",
        actor="test",
    )
    assert [o.holder for o in result.outputs] == ["head-office", "clerk", "partner"]
    canaries = []
    for out in result.outputs:
        assert out.rows_written == 41 and out.canaries_added == 1
        assert out.canary_share == pytest.approx(1 / 41, abs=1e-5)
        lines = added_lines(
            src.read_bytes(), (tmp_path / "copies" / out.path.split("/")[-1]).read_bytes()
        )
        assert len(lines) == 1
        canaries.append(lines[0])
    assert len(set(canaries)) == 3
    assert sorted(p.name for p in (tmp_path / "copies").iterdir()) == [
        "daily.clerk.csv",
        "daily.head-office.csv",
        "daily.partner.csv",
    ]


def test_reinjecting_the_same_copy_and_period_gives_the_same_file(pool, tmp_path):
    src = daily_csv(tmp_path / "daily.csv", encoding="gb18030")
    for name in ("one.csv", "two.csv"):
        inject(
            pool,
            feed="daily",
            input_path=src,
            holders=["clerk"],
            period="2026-W48",
            output=tmp_path / name,
            actor="test",
        )
    assert (tmp_path / "one.csv").read_bytes() == (tmp_path / "two.csv").read_bytes()
    (line,) = added_lines(src.read_bytes(), (tmp_path / "one.csv").read_bytes())
    line.decode("gb18030")


def test_period_defaults_to_the_current_iso_week(pool, tmp_path):
    result = inject(
        pool,
        feed="daily",
        input_path=daily_csv(tmp_path / "d.csv"),
        holders=["clerk"],
        output=tmp_path / "o.csv",
        actor="test",
    )
    assert result.period == period_of(pool.clock())


def test_xlsx_feed_through_the_pipeline(pool, tmp_path):
    import openpyxl

    with pool.db.session() as session:
        flow.ensure_copy(
            session, flow.get_feed(session, "daily-xlsx"), flow.get_holder(session, "clerk"), "test"
        )
    src = tmp_path / "list.xlsx"
    clerk_workbook(src, n=30)
    result = inject(
        pool,
        feed="daily-xlsx",
        input_path=src,
        holders=["clerk"],
        period="2026-W48",
        output=tmp_path / "out.xlsx",
        actor="test",
    )
    assert result.format == "xlsx" and result.outputs[0].rows_written == 31
    ws = openpyxl.load_workbook(tmp_path / "out.xlsx")["名单"]
    assert ws.max_row == 2 + 31 + 1
    assert ws.cell(ws.max_row, 4).value == "=SUM(D3:D33)"


def count_down_list(n: int) -> list[list[str]]:
    """A newest-first export: serial NB{n} at the top counting down to NB0001 at the bottom."""
    import datetime as dt
    import random

    rng = random.Random(11)
    rows = []
    for _ in range(n):
        name = rng.choice("张王李赵刘陈杨黄") + rng.choice("秀英丽娟敏静燕艳") * rng.choice((1, 2))
        phone = rng.choice(("138", "139", "186", "135")) + f"{rng.randrange(10**8):08d}"
        day = dt.date(2026, 11, 29) - dt.timedelta(days=rng.randrange(7))
        rows.append([name, phone, day.isoformat(), str(rng.randrange(2500, 4200))])
    rows.sort(key=lambda r: r[2], reverse=True)
    return [[f"NB{n - i:04d}", *row] for i, row in enumerate(rows)]


def _serial_feed(pool, fmt: str) -> str:
    """The feed for ``fmt`` (CSV and XLSX come with the fixture), with a copy for clerk."""
    name = {"csv": "daily", "xlsx": "daily-xlsx"}.get(fmt, f"daily-{fmt}")
    with pool.db.session() as session:
        if fmt in ("json", "ndjson"):
            flow.add_feed(session, name, "test", source="仁济医院", fmt=fmt, column_map=MAP)
        feed, holder = flow.get_feed(session, name), flow.get_holder(session, "clerk")
        flow.ensure_copy(session, feed, holder, "test")
    return name


def _inject_for_clerk(pool, fmt: str, src, out, *, count: int) -> None:
    inject(
        pool,
        feed=_serial_feed(pool, fmt),
        input_path=src,
        holders=["clerk"],
        period="2026-W48",
        output=out,
        actor="test",
        count=count,
    )


def _write_list(path, fmt: str, header: list[str], rows: list[list]) -> None:
    import openpyxl

    if fmt == "csv":
        path.write_bytes("".join(",".join(map(str, r)) + "\r\n" for r in [header, *rows]).encode())
    elif fmt == "xlsx":
        wb = openpyxl.Workbook()
        for row in [header, *rows]:
            wb.active.append(row)
        wb.save(path)
    else:
        records = [json.dumps(dict(zip(header, r, strict=True)), ensure_ascii=False) for r in rows]
        text = "\n".join(records) if fmt == "ndjson" else "[\n" + ",\n".join(records) + "\n]"
        path.write_text(text + "\n", encoding="utf-8")


def _read_list(path, fmt: str, header: list[str]) -> list[tuple]:
    """Each data row as (serial, the other cells)."""
    import openpyxl

    if fmt == "csv":
        lines = path.read_bytes().decode().split("\r\n")
        assert lines[0] == ",".join(header) and lines[-1] == ""
        return [(line.split(",", 1)[0], line.split(",", 1)[1]) for line in lines[1:-1]]
    if fmt == "xlsx":
        rows = list(openpyxl.load_workbook(path).active.iter_rows(values_only=True))
        assert list(rows[0]) == header
        return [(r[0], tuple(r[1:])) for r in rows[1:]]
    text = path.read_text(encoding="utf-8")
    records = [json.loads(x) for x in text.splitlines()] if fmt == "ndjson" else json.loads(text)
    return [(r[header[0]], tuple(r[h] for h in header[1:])) for r in records]


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "json", "ndjson"])
def test_count_down_serial_keeps_counting_down_with_the_canaries_spread(pool, tmp_path, fmt):
    header = ["序号", "产妇姓名", "联系电话", "分娩日期", "体重"]
    real = count_down_list(3000)
    src, out = tmp_path / f"list.{fmt}", tmp_path / f"out.{fmt}"
    _write_list(src, fmt, header, real)
    _inject_for_clerk(pool, fmt, src, out, count=6)
    got = _read_list(out, fmt, header)
    originals = [rest for _, rest in _read_list(src, fmt, header)]
    # Still a strict count-down by one, padded and prefixed as before, ending at NB0001.
    assert [serial for serial, _ in got] == [f"NB{n:04d}" for n in range(3006, 0, -1)]
    # Real rows keep every other cell exactly, in order; the canaries are spread through
    # the file, not stacked on top where deleting the first rows would strip them.
    known = set(originals)
    assert [rest for _, rest in got if rest in known] == originals
    at = [k for k, (_, rest) in enumerate(got) if rest not in known]
    gaps = {k - i for i, k in enumerate(at)}  # the real row each canary sits above
    assert len(at) == 6 and max(at) > 6 and len(gaps) > 1


@pytest.mark.parametrize("fmt", ["json", "ndjson"])
def test_json_serial_numbers_are_renumbered_after_the_canaries(pool, tmp_path, fmt):
    header = ["序号", "产妇姓名", "联系电话", "分娩日期", "体重"]
    real = [[k + 1, *row[1:]] for k, row in enumerate(reversed(count_down_list(500)))]
    src, out = tmp_path / f"list.{fmt}", tmp_path / f"out.{fmt}"
    _write_list(src, fmt, header, real)
    _inject_for_clerk(pool, fmt, src, out, count=4)
    got = _read_list(out, fmt, header)
    # JSON numbers stay numbers and count up by one through the canaries.
    assert [serial for serial, _ in got] == list(range(1, 505))
    known = {tuple(r[1:]) for r in real}
    assert [rest for _, rest in got if rest in known] == [tuple(r[1:]) for r in real]


def test_aggregate_feed_records_the_holder_to_holder_edge(pool, tmp_path):
    with pool.db.session() as session:
        flow.add_feed(
            session,
            "merged",
            "test",
            produced_by="head-office",
            column_map={"name": "产妇姓名", "phone": "联系电话"},
        )
    inject(
        pool,
        feed="merged",
        input_path=daily_csv(tmp_path / "m.csv"),
        holders=["clerk"],
        period="2026-W48",
        output=tmp_path / "o.csv",
        actor="test",
    )
    with pool.db.session() as session:
        links = session.scalars(select(HolderLink)).all()
        ho, clerk = flow.get_holder(session, "head-office"), flow.get_holder(session, "clerk")
        assert [(x.from_holder_id, x.to_holder_id) for x in links] == [(ho.id, clerk.id)]


def test_refuses_to_overwrite_the_input(pool, tmp_path):
    src = daily_csv(tmp_path / "d.csv")
    with pytest.raises(CanaryError, match="overwrite the input"):
        inject(pool, feed="daily", input_path=src, holders=["clerk"], output=src, actor="test")


def test_refuses_an_output_that_is_a_folder_before_minting(pool, tmp_path):
    src = daily_csv(tmp_path / "d.csv")
    (tmp_path / "out" / "d.clerk.csv").mkdir(parents=True)
    with pytest.raises(CanaryError, match="not a regular file"):
        inject(
            pool,
            feed="daily",
            input_path=src,
            holders=["clerk"],
            out_dir=tmp_path / "out",
            actor="test",
        )
    with pytest.raises(CanaryError, match="is a file, not a folder"):
        inject(
            pool,
            feed="daily",
            input_path=src,
            holders=["clerk"],
            output=src / "x.csv",
            actor="test",
        )
    from canary.canaries.models import Canary

    with pool.db.session() as session:
        assert session.scalars(select(Canary)).all() == []


@pytest.mark.parametrize("count", [0, 41, 100_000])
def test_refuses_a_canary_count_that_would_swamp_the_delivery(pool, tmp_path, count):
    src = daily_csv(tmp_path / "d.csv", n=40)
    out = tmp_path / "o.csv"
    with pytest.raises(CanaryError, match="canar"):
        inject(
            pool,
            feed="daily",
            input_path=src,
            holders=["clerk"],
            output=out,
            actor="test",
            count=count,
        )
    assert not out.exists()


def test_cli_single_holder_json_summary(pool, cli, tmp_path):
    src = daily_csv(tmp_path / "d.csv")
    result = cli(
        "inject",
        "daily",
        src,
        "--holder",
        "clerk",
        "--period",
        "2026-W48",
        "-o",
        tmp_path / "o.csv",
        "--json",
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["outputs"][0]["canaries_added"] == 1 and data["input_rows"] == 40
    assert (tmp_path / "o.csv").exists()


def test_the_operator_is_told_when_canaries_have_to_share_numbers(pool, cli, tmp_path):
    from canary.forging.service import SHARED_NUMBER_NOTE

    src = daily_csv(tmp_path / "d.csv", n=400)
    out = tmp_path / "o.csv"
    args = ["inject", "daily", src, "--holder", "clerk", "--period", "2026-W48", "-o", out]
    result = cli(*args, "--count", "2")
    assert result.exit_code == 0, result.output
    assert "note:" not in result.output
    # Sixteen canaries from the pool's twelve numbers: the operator reads why and what to do.
    result = cli(*args, "--count", "16")
    assert result.exit_code == 0, result.output
    assert "note: " + SHARED_NUMBER_NOTE in " ".join(result.output.split())
    # Told when the canaries are minted (next week's here), in the JSON result too.
    args[args.index("2026-W48")] = "2026-W49"
    data = json.loads(cli(*args, "--count", "16", "--json").output)
    assert data["outputs"][0]["notes"] == [SHARED_NUMBER_NOTE]


def test_cli_several_holders_need_an_out_dir(pool, cli, tmp_path):
    src = daily_csv(tmp_path / "d.csv")
    result = cli("inject", "daily", src, "--holders", "clerk,partner", "-o", tmp_path / "o.csv")
    assert result.exit_code == 2 and "--out-dir" in result.output
    result = cli("inject", "daily", src, "--holders", "clerk,partner", "--out-dir", tmp_path / "c")
    assert result.exit_code == 0, result.output
    assert "clerk" in result.output and "canaries" in result.output
