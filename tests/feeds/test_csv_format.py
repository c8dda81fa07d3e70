"""CSV/TSV: the output is the input's bytes plus the canary rows, whatever the dialect."""

from __future__ import annotations

import codecs

import pytest

from canary.feeds.base import Target
from canary.feeds.csvfmt import CsvFile
from tests.feeds.helpers import int_serial, plan, serial_spec

HEADER = ["产妇姓名", "联系电话", "分娩日期"]


def rows(n):
    return [[f"张{i}", f"138{i:08d}", f"2026-11-{1 + i % 28:02d}"] for i in range(n)]


def write_csv(path, lines, *, encoding="utf-8", newline="\r\n", bom=b"", delimiter=","):
    text = newline.join(delimiter.join(r) for r in lines) + newline
    path.write_bytes(bom + text.encode(encoding))
    return path.read_bytes()


CANARY_A = ["王小红", "13912345678", "2026-11-05"]
CANARY_B = ["李美玲", "13687654321", "2026-11-06"]


def inject(path, tmp_path, p, **kw):
    scanned = CsvFile(path, **kw)
    out = tmp_path / f"out{path.suffix}"
    (stats,) = scanned.write([Target(out, p)])
    return scanned, out.read_bytes(), stats


@pytest.mark.parametrize(
    ("encoding", "bom", "label"),
    [("utf-8", b"", "utf-8"), ("utf-8", codecs.BOM_UTF8, "utf-8+BOM"), ("gb18030", b"", "gb18030")],
)
def test_removing_canary_rows_gives_back_the_original_bytes(tmp_path, encoding, bom, label):
    original = write_csv(tmp_path / "in.csv", [HEADER, *rows(50)], encoding=encoding, bom=bom)
    scanned, out, stats = inject(
        tmp_path / "in.csv", tmp_path, plan([(0, CANARY_A), (50, CANARY_B)])
    )
    assert scanned.sample.facts["encoding"] == label
    a = (",".join(CANARY_A) + "\r\n").encode(encoding)
    b = (",".join(CANARY_B) + "\r\n").encode(encoding)
    assert out.count(a) == 1 and out.count(b) == 1
    assert out.replace(a, b"").replace(b, b"") == original
    assert out.startswith(bom + ",".join(HEADER).encode(encoding) + b"\r\n" + a)
    assert stats.rows_written == 52 and stats.canaries_added == 2


def test_gbk_export_is_written_back_as_gb18030_bytes(tmp_path):
    path = tmp_path / "gbk.csv"
    original = write_csv(path, [HEADER, *rows(5)], encoding="gbk")
    _, out, _ = inject(path, tmp_path, plan([(2, CANARY_A)]))
    assert out.replace((",".join(CANARY_A) + "\r\n").encode("gb18030"), b"") == original


def test_lf_endings_tabs_and_quoted_columns_are_kept(tmp_path):
    path = tmp_path / "in.tsv"
    lines = [HEADER] + [[f'"{a}"', b, c] for a, b, c in rows(10)]
    original = write_csv(path, lines, newline="\n", delimiter="\t")
    scanned, out, _ = inject(path, tmp_path, plan([(3, CANARY_A)]), fmt="tsv")
    assert scanned.dialect.delimiter == "\t"
    canary = f'"{CANARY_A[0]}"\t{CANARY_A[1]}\t{CANARY_A[2]}\n'.encode()
    assert out.replace(canary, b"") == original
    assert b"\r\n" not in out


def test_cells_with_delimiters_newlines_and_formula_leads_pass_through(tmp_path):
    path = tmp_path / "in.csv"
    body = (
        "产妇姓名,联系电话,备注\r\n"
        '"张, 三",13800000001,"line one\r\nline two"\r\n'
        '李四,13800000002,=HYPERLINK("http://x")\r\n'
        "王五,13800000003,+86 138\r\n"
        "赵六,13800000004,@home\r\n"
    )
    path.write_bytes(body.encode())
    _, out, _ = inject(path, tmp_path, plan([(1, ["钱七", "13900000005", "备注, 有逗号"])]))
    canary = '钱七,13900000005,"备注, 有逗号"\r\n'.encode()
    assert out.replace(canary, b"") == body.encode()
    assert out.index(canary) == len(
        '产妇姓名,联系电话,备注\r\n"张, 三",13800000001,"line one\r\nline two"\r\n'.encode()
    )


def test_title_row_stays_above_the_header(tmp_path):
    path = tmp_path / "in.csv"
    original = write_csv(path, [["2026年11月 新生儿名单", "", ""], HEADER, *rows(5)])
    scanned, out, _ = inject(path, tmp_path, plan([(0, CANARY_A)]))
    assert scanned.sample.header == HEADER
    assert scanned.sample.rows[0] == rows(1)[0]
    assert out.split(b"\r\n")[2] == ",".join(CANARY_A).encode()
    assert out.replace((",".join(CANARY_A) + "\r\n").encode(), b"") == original


def test_summary_row_is_kept_last_and_counts_and_sums_follow(tmp_path):
    path = tmp_path / "in.csv"
    header = ["产妇姓名", "联系电话", "体重"]
    data = [[f"张{i}", f"138{i:08d}", str(3000 + i)] for i in range(10)]
    total = sum(3000 + i for i in range(10))
    write_csv(path, [header, *data, ["合计", "共10人", str(total)]])
    scanned, out, stats = inject(path, tmp_path, plan([(10, ["王五", "13900000000", "3250"])]))
    assert scanned.sample.total_rows == 10 and scanned.sample.facts["summary_row"]
    lines = out.decode().split("\r\n")
    assert lines[-3] == "王五,13900000000,3250"
    assert lines[-2] == f"合计,共11人,{total + 3250}"
    assert stats.rows_written == 11


def test_serial_column_is_renumbered_after_inserted_rows_only(tmp_path):
    path = tmp_path / "in.csv"
    header = ["序号", "产妇姓名"]
    write_csv(path, [header] + [[str(i + 1), f"张{i}"] for i in range(6)])
    _, out, _ = inject(
        path,
        tmp_path,
        plan([(2, ["3", "王五"]), (4, ["6", "赵六"])], serial=int_serial(0)),
    )
    assert out.decode().split("\r\n")[1:-1] == [
        "1,张0",
        "2,张1",
        "3,王五",
        "4,张2",
        "5,张3",
        "6,赵六",
        "7,张4",
        "8,张5",
    ]


def test_count_down_serial_is_renumbered_above_inserted_rows_only(tmp_path):
    # A newest-first export: the bottom row is NB001 and keeps it; the rows above each
    # canary move up by one, so the column still counts down by one with no gap.
    path = tmp_path / "in.csv"
    original = write_csv(
        path, [["序号", "产妇姓名"]] + [[f"NB{6 - i:03d}", f"张{i}"] for i in range(6)]
    )
    canaries = [(0, ["NB010", "王五"]), (3, ["NB006", "赵六"]), (3, ["NB005", "钱七"])]
    spec = serial_spec(0, "NB", 3, descending=True)
    _, out, _ = inject(path, tmp_path, plan([*canaries, (6, ["NB001", "孙八"])], serial=spec))
    assert out.decode().split("\r\n")[1:-1] == [
        "NB010,王五",
        "NB009,张0",
        "NB008,张1",
        "NB007,张2",
        "NB006,赵六",
        "NB005,钱七",
        "NB004,张3",
        "NB003,张4",
        "NB002,张5",
        "NB001,孙八",
    ]
    real = [line for line in out.split(b"\r\n")[1:-1] if "张".encode() in line]
    assert [line[5:] for line in real] == [line[5:] for line in original.split(b"\r\n")[1:-1]]


def test_missing_final_newline_gets_one_before_an_appended_canary(tmp_path):
    path = tmp_path / "in.csv"
    path.write_bytes("产妇姓名,联系电话\n张三,13800000001".encode())
    _, out, _ = inject(path, tmp_path, plan([(1, ["王五", "13900000000"])]))
    assert out.decode() == "产妇姓名,联系电话\n张三,13800000001\n王五,13900000000"


def test_large_file_sample_holds_head_tail_and_contiguous_blocks(tmp_path):
    path = tmp_path / "big.csv"
    write_csv(path, [HEADER, *rows(20_000)])
    scanned = CsvFile(path)
    sample = scanned.sample
    assert sample.total_rows == 20_000
    assert len(sample.rows) < 20_000
    assert sample.indices[0] == 0 and sample.indices[-1] == 19_999
    expected = rows(20_000)
    for i, idx in enumerate(sample.indices):
        assert sample.rows[i] == expected[idx]
    middle = [i for i in sample.indices if 500 <= i < 19_500]
    assert middle, "random blocks from the middle are sampled"


def test_insertions_deep_in_a_large_file_land_at_the_planned_rows(tmp_path):
    path = tmp_path / "big.csv"
    original = write_csv(path, [HEADER, *rows(5000)], newline="\n")
    _, out, _ = inject(path, tmp_path, plan([(3333, CANARY_A), (4097, CANARY_B)]))
    lines = out.decode().split("\n")
    assert lines[1 + 3333] == ",".join(CANARY_A)
    assert lines[1 + 4097 + 1] == ",".join(CANARY_B)
    assert lines[1 + 3334] == ",".join(rows(3334)[3333])
    stripped = out.replace((",".join(CANARY_A) + "\n").encode(), b"")
    assert stripped.replace((",".join(CANARY_B) + "\n").encode(), b"") == original


def test_several_holders_get_their_own_canaries_from_one_pass(tmp_path):
    path = tmp_path / "in.csv"
    original = write_csv(path, [HEADER, *rows(30)])
    scanned = CsvFile(path)
    outs = [tmp_path / "a.csv", tmp_path / "b.csv"]
    scanned.write([Target(outs[0], plan([(5, CANARY_A)])), Target(outs[1], plan([(20, CANARY_B)]))])
    a, b = (o.read_bytes() for o in outs)
    assert a != b
    assert a.replace((",".join(CANARY_A) + "\r\n").encode(), b"") == original
    assert b.replace((",".join(CANARY_B) + "\r\n").encode(), b"") == original


def test_serial_renumbering_handles_quoted_multiline_and_blank_rows(tmp_path):
    path = tmp_path / "in.csv"
    body = '序号,产妇姓名,备注\r\n1,张0,a\r\n"2",张1,"两行\r\n备注"\r\n\r\n3,张2,b\r\n'
    path.write_bytes(body.encode())
    _, out, _ = inject(path, tmp_path, plan([(0, ["1", "王五", "c"])], serial=int_serial(0)))
    assert out.decode() == (
        '序号,产妇姓名,备注\r\n1,王五,c\r\n2,张0,a\r\n"3",张1,"两行\r\n备注"\r\n\r\n4,张2,b\r\n'
    )


# -- files larger than one read block ---------------------------------------------------
# The reader works in blocks of whole records; small blocks put every kind of record
# (quoted cells with line breaks, blank lines, the totals row) on a block boundary.


@pytest.fixture
def small_blocks(monkeypatch):
    from canary.feeds import csv_blocks

    monkeypatch.setattr(csv_blocks, "BLOCK", 512)


def mixed_rows(n, serial=lambda i: i + 1):
    out = []
    for i in range(n):
        if i % 37 == 5:
            out.append(f'{serial(i)},"张,{i}","两行\r\n备注 ""{i}"""')
        elif i % 53 == 7:
            out.append(f"{serial(i)},王{i},")
        else:
            out.append(f"{serial(i)},李{i},b{i}")
        if i % 41 == 9:
            out.append("")
    return out


def test_block_boundaries_keep_every_row_and_the_exact_bytes(tmp_path, small_blocks):
    path = tmp_path / "in.csv"
    body = "\r\n".join(["序号,产妇姓名,备注", *mixed_rows(400), "合计,共400人,"]) + "\r\n"
    original = body.encode()
    path.write_bytes(original)
    scanned = CsvFile(path)
    assert scanned.sample.total_rows == 400 and scanned.sample.facts["summary_row"]
    assert scanned.sample.rows[5][1:] == ["张,5", '两行\r\n备注 "5"']
    canary = ["0", "赵六", "c"]
    outs = [tmp_path / "a.csv", tmp_path / "b.csv"]
    scanned.write(
        [
            Target(outs[0], plan([(3, canary), (250, canary)], serial=int_serial(0))),
            Target(outs[1], plan([(399, canary)], serial=int_serial(0))),
        ]
    )
    a, b = (o.read_bytes().decode() for o in outs)
    assert a.count("0,赵六,c\r\n") == 2 and b.count("0,赵六,c\r\n") == 1
    serials = [
        int(line.split(",")[0].strip('"'))
        for line in a.split("\r\n")[1:-2]
        if line and line[0].isdigit() and not line.startswith("0,")
    ]
    # Real rows keep counting up by one, shifted past each inserted canary.
    assert serials[:3] == [1, 2, 3] and serials[3] == 5 and serials[-1] == 402
    assert a.split("\r\n")[-2] == "合计,共402人,"
    # Only the serial cells of rows after the insert differ from the input.
    assert b.replace("0,赵六,c\r\n", "").replace("合计,共401人,", "合计,共400人,") == (
        body.replace("400,李399,b399", "401,李399,b399")
    )


def test_count_down_serial_keeps_counting_down_across_block_boundaries(tmp_path, small_blocks):
    path = tmp_path / "in.csv"
    lines = ["序号,产妇姓名,备注", *mixed_rows(400, serial=lambda i: 400 - i), "合计,共400人,"]
    body = "\r\n".join(lines) + "\r\n"
    path.write_bytes(body.encode())
    scanned = CsvFile(path)
    canary = ["0", "赵六", "c"]
    positions = [0, 3, 250, 250, 400]
    outs = [tmp_path / "a.csv", tmp_path / "b.csv"]
    scanned.write(
        [
            Target(
                outs[0], plan([(p, canary) for p in positions], serial=serial_spec(descending=True))
            ),
            Target(outs[1], plan([(399, canary)], serial=serial_spec(descending=True))),
        ]
    )
    a, b = (o.read_bytes().decode() for o in outs)
    serials = [
        int(line.split(",")[0])
        for line in a.split("\r\n")[1:-2]
        if line[:1].isdigit() and not line.startswith("0,")
    ]
    # Each real row moves up by one per canary below it; the bottom row keeps its 1.
    assert serials == [400 - i + sum(p > i for p in positions) for i in range(400)]
    assert serials[0] == 404 and serials[-1] == 2 and a.split("\r\n")[-3] == "0,赵六,c"
    # Only the serial cells of rows above the insert differ from the input.
    expected = "\r\n".join(
        ["序号,产妇姓名,备注", *mixed_rows(400, serial=lambda i: 401 - i if i < 399 else 1)]
    )
    assert b.replace("0,赵六,c\r\n", "") == expected + "\r\n合计,共401人,\r\n"


def test_ragged_or_undecodable_row_deep_in_a_large_file_names_its_line(tmp_path, small_blocks):
    from canary.feeds.errors import RaggedRows, UndecodableFile

    good = [f"{i + 1},李{i},b{i}" for i in range(300)]
    path = tmp_path / "ragged.csv"
    path.write_bytes("\n".join(["序号,产妇姓名,备注", *good[:250], "251,李", *good[251:]]).encode())
    with pytest.raises(RaggedRows, match="line 252 has 2 cells"):
        CsvFile(path)
    path = tmp_path / "bad.csv"
    lines = ["序号,产妇姓名,备注".encode(), *(g.encode() for g in good)]
    lines[200] = b"200,\xff\xfe,x"
    path.write_bytes(b"\n".join(lines) + b"\n")
    with pytest.raises(UndecodableFile, match="line 201"):
        CsvFile(path)
