"""How fast `canary scan` reads a large leaked file, against `grep -F -f` on the same file.

Builds, in a temporary folder that is deleted afterwards:

* a registry with a few hundred canaries (realistic personas: common Chinese names,
  birth dates, resident ID numbers) spread over holders' copies and weeks, sharing a
  small pool of numbers (several canaries per number, as codewords do);
* a CSV of ``--size-mb`` (default 1 GiB) of background rows (same name distribution,
  random mobiles, dates, hospitals), with each canary planted once in one of four
  formats: original; phone regrouped (``+86 139 1234 5678``, ``139-1234-5678``,
  ``0086…``, ``(139) 1234.5678``); name in pinyin with a regrouped phone; name in
  traditional characters with a regrouped phone (some lines also in GB18030).

Then it times, in the same run and on the same (page-cached) file, ``grep -F -f
patterns.txt`` with the pool numbers in their original 11-digit form, and the full
``canary.forensics.service.scan`` (index, match, confirm, store the event, attribute).
It prints both times, their ratio (goal: scan ≤ 2× grep) and the recall of each: a
planted canary counts for grep if grep printed its line, for the scan if the scan
found that exact canary (not just its shared number).

    .venv/bin/python benchmarks/scan.py                 # 1 GiB, about two minutes
    .venv/bin/python benchmarks/scan.py --size-mb 100   # quick
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from canary.canaries import registry  # noqa: E402
from canary.context import open_context  # noqa: E402
from canary.flow import service as flow  # noqa: E402
from canary.forensics.variants import _opencc  # noqa: E402
from canary.security.tokens import SYSTEM  # noqa: E402
from canary.settings import load_settings  # noqa: E402
from canary.telephony import pool  # noqa: E402

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"  # noqa: E501
GIVEN = "芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红梅琳燕雪婷倩颖晶欣怡佳慧雅琪璐瑶嘉晨宇浩然子涵思"  # noqa: E501
HOSPITALS = ["瑞金医院", "仁济医院", "上海市第一妇婴保健院", "国际和平妇幼保健院", "红房子医院"]
PREFIXES = ["134", "135", "136", "137", "138", "139", "150", "151", "152", "157", "158", "159",
            "182", "183", "187", "188", "130", "131", "132", "155", "156", "185", "186", "133",
            "153", "180", "181", "189", "199"]  # fmt: skip


def mobile(rng: random.Random) -> str:
    return rng.choice(PREFIXES) + f"{rng.randrange(10**8):08d}"


def person_name(rng: random.Random) -> str:
    given = rng.choice(GIVEN) + (rng.choice(GIVEN) if rng.random() < 0.7 else "")
    return rng.choice(SURNAMES) + given


def id_number(rng: random.Random, birth: dt.date) -> str:
    body = f"3101{rng.randrange(100):02d}{birth:%Y%m%d}{rng.randrange(1000):03d}"
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    check = "10X98765432"[sum(int(c) * w for c, w in zip(body, weights, strict=True)) % 11]
    return body + check


def background_block(rng: random.Random, rows: int, start: int, avoid: set[str]) -> bytes:
    out = []
    for i in range(rows):
        phone = mobile(rng)
        while phone in avoid:
            phone = mobile(rng)
        birth = dt.date(2026, 1, 1) + dt.timedelta(days=rng.randrange(320))
        mother = dt.date(1986, 1, 1) + dt.timedelta(days=rng.randrange(5000))
        out.append(
            f"{start + i},{person_name(rng)},{phone},{birth.isoformat()},"
            f"{rng.choice(HOSPITALS)},{id_number(rng, mother)},{rng.randint(2500, 4200)}\n"
        )
    return "".join(out).encode("utf-8")


def regroup(national: str, rng: random.Random) -> str:
    a, b, c = national[:3], national[3:7], national[7:]
    return rng.choice(
        [
            f"+86 {a} {b} {c}",
            f"{a}-{b}-{c}",
            f"0086{national}",
            f"({a}) {b}.{c}",
            f"+86-{a}-{b}-{c}",
        ]
    )


def pinyin_of(name: str, rng: random.Random) -> str:
    from pypinyin import lazy_pinyin

    syllables = lazy_pinyin(name)
    surname, given = syllables[0].capitalize(), "".join(syllables[1:]).capitalize()
    return rng.choice([f"{surname} {given}", f"{given} {surname}", f"{surname.upper()} {given}"])


def build_world(
    ctx, rng: random.Random, canaries: int, numbers: int
) -> tuple[list[dict], set[str]]:
    """Copies, a shared pool and canaries stored through the registry."""
    with ctx.db.session() as s:
        flow.add_source(s, "hospital", "bench")
        flow.add_feed(s, "births", "bench", source="hospital")
        holders = [
            flow.add_holder(s, f"holder {h}", "bench", receives=["births"]) for h in range(20)
        ]
        copies = [h.copies[0].id for h in holders]
    pool_numbers: list[str] = []
    with ctx.db.session() as s:
        while len(pool_numbers) < numbers:
            number = mobile(rng)
            if number not in pool_numbers:
                pool_numbers.append(number)
        points = [
            pool.add_number(s, ctx, n, quarantine_days=0, actor="bench").id for n in pool_numbers
        ]
    planted = []
    live = dt.datetime(2026, 10, 1, tzinfo=dt.UTC)
    with ctx.db.session() as s:
        for slot in range(canaries):
            k = rng.randrange(numbers)
            birth = dt.date(2026, 9, 1) + dt.timedelta(days=rng.randrange(90))
            name = person_name(rng)
            persona = {"name": name, "birth_date": birth.isoformat(),
                       "id_number": id_number(rng, dt.date(1990, 1, 1) + dt.timedelta(days=slot))}  # fmt: skip
            canary = registry.store(
                s, ctx.keys, copy_id=copies[slot % len(copies)], period=f"2026-W{40 + slot % 6}",
                slot=slot, row={"name": name}, persona=persona, contact_point_ids=[points[k]],
                live_from=live,
            )  # fmt: skip
            planted.append({"id": canary.id, "phone": pool_numbers[k], "name": name,
                            "birth": birth, "hospital": rng.choice(HOSPITALS)})  # fmt: skip
    return planted, set(pool_numbers)


def canary_line(item: dict, style: str, rng: random.Random, serial: int) -> bytes:
    phone, name, birth = item["phone"], item["name"], item["birth"]
    if style == "original":
        return f"{serial},{name},{phone},{birth.isoformat()},{item['hospital']},,3300\n".encode()
    shown_phone = regroup(phone, rng)
    if style == "phone":
        text = f"{serial},{name},{shown_phone},{birth.isoformat()},{item['hospital']},,3300\n"
        return text.encode()
    if style == "pinyin":
        text = f"{serial},{pinyin_of(name, rng)},{shown_phone},{birth:%Y/%m/%d},,,\n"
        return text.encode()
    text = f"{serial},{_opencc('s2t', name)},{shown_phone},{birth:%Y年%m月%d日},,,\n"
    return text.encode(rng.choice(["utf-8", "gb18030"]))


def build_file(path: Path, size: int, planted: list[dict], avoid: set[str], rng: random.Random):
    """Background blocks (6 distinct ones, cycled) with the canaries planted at random."""
    blocks = [background_block(rng, 40_000, b * 40_000, avoid) for b in range(6)]
    block_size = len(blocks[0])
    repetitions = max(1, size // block_size)
    order = list(range(len(planted)))
    rng.shuffle(order)
    per_rep: dict[int, list[int]] = {}
    for i in order:
        per_rep.setdefault(rng.randrange(repetitions), []).append(i)
    styles = ["original", "phone", "pinyin", "traditional"]
    lines_written = 0
    where: dict[int, tuple[int, str]] = {}  # canary index -> (line number, style)
    with open(path, "wb") as fh:
        fh.write("序号,姓名,联系电话,出生日期,医院,身份证号,体重\n".encode())
        lines_written = 1
        for rep in range(repetitions):
            block = blocks[rep % len(blocks)]
            cut = block.index(b"\n", rng.randrange(block_size - 1000)) + 1
            head, tail = block[:cut], block[cut:]
            fh.write(head)
            lines_written += head.count(b"\n")
            for i in per_rep.get(rep, []):
                style = styles[i % len(styles)]
                fh.write(canary_line(planted[i], style, rng, lines_written))
                lines_written += 1
                where[i] = (lines_written, style)
            fh.write(tail)
            lines_written += tail.count(b"\n")
    return where


def timed(fn):
    usage = resource.getrusage(resource.RUSAGE_SELF)
    start = time.perf_counter()
    value = fn()
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime - usage.ru_utime) + (after.ru_stime - usage.ru_stime)
    return value, wall, cpu


def run_grep(patterns: Path, data: Path, out: Path) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    with open(out, "wb") as fh:
        subprocess.run(
            ["grep", "-a", "-n", "-F", "-f", str(patterns), str(data)],
            stdout=fh,
            check=False,
            env={**os.environ, "LC_ALL": "C"},  # grep's fastest mode: the strictest baseline
        )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--canaries", type=int, default=300)
    parser.add_argument("--numbers", type=int, default=60, help="pool numbers (shared)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="keep the work folder (and file)")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    work = Path(tempfile.mkdtemp(prefix="canary-bench-scan-"))
    try:
        settings = load_settings(
            {"home": str(work / "home"), "database_url": f"sqlite:///{work / 'canary.db'}"},
            environ={},
        )
        ctx = open_context(settings, initialise=True)
        planted, numbers = build_world(ctx, rng, args.canaries, args.numbers)
        data = work / "leak.csv"
        (where, build_wall, _) = timed(
            lambda: build_file(data, args.size_mb << 20, planted, numbers, rng)
        )
        size = data.stat().st_size
        patterns = work / "patterns.txt"
        patterns.write_text("".join(f"{n}\n" for n in sorted(numbers)))  # 11-digit originals
        print(f"file: {size / 2**20:.0f} MiB, {len(where)} canaries planted "
              f"({args.numbers} shared pool numbers), built in {build_wall:.1f} s")  # fmt: skip
        subprocess.run(["cat", str(data)], stdout=subprocess.DEVNULL, check=True)  # warm cache
        from canary.forensics.service import scan

        # Alternate the two (grep, scan, grep, scan) and keep each one's best run, so
        # that load from other processes or a cold page cache favours neither.
        grep_out = work / "grep.out"
        grep_runs, scan_runs, result = [], [], None
        for _ in range(2):
            grep_runs.append(run_grep(patterns, data, grep_out))
            outcome, wall, cpu = timed(lambda: scan(ctx, data, principal=SYSTEM))
            result = result or outcome  # the first scan stores the event
            scan_runs.append((wall, cpu))
        grep_wall, grep_cpu = min(w for w, _ in grep_runs), min(c for _, c in grep_runs)
        scan_wall, scan_cpu = min(w for w, _ in scan_runs), min(c for _, c in scan_runs)
        print("runs (wall s, CPU s): grep " + ", ".join(f"({w:.2f}, {c:.2f})" for w, c in grep_runs)
              + "; scan " + ", ".join(f"({w:.2f}, {c:.2f})" for w, c in scan_runs))  # fmt: skip
        grep_lines = set()
        with open(grep_out, "rb") as fh:
            for line in fh:
                grep_lines.add(int(line.split(b":", 1)[0]))
        found = {item["canary_id"] for item in result.found}
        by_style: dict[str, list[int]] = {}
        for i, (line_no, style) in where.items():
            row = by_style.setdefault(style, [0, 0, 0])
            row[0] += 1
            row[1] += line_no in grep_lines
            row[2] += planted[i]["id"] in found
        planted_ids = {planted[i]["id"] for i in where}
        total = len(where)
        grep_recall = sum(r[1] for r in by_style.values()) / total
        scan_recall = sum(r[2] for r in by_style.values()) / total
        print(f"grep -F -f ({len(numbers)} numbers): {grep_wall:.2f} s wall, {grep_cpu:.2f} s CPU, "
              f"{size / 2**20 / grep_wall:.0f} MiB/s")  # fmt: skip
        print(f"canary scan (whole command: index, match, confirm, store, attribute): {scan_wall:.2f} s "
              f"wall, {scan_cpu:.2f} s CPU, {size / 2**20 / scan_wall:.0f} MiB/s")  # fmt: skip
        print(f"ratio scan/grep: {scan_wall / grep_wall:.2f}x wall, {scan_cpu / grep_cpu:.2f}x CPU "
              f"(goal <= 2x)")  # fmt: skip
        print(f"{'format':<12} {'planted':>8} {'grep':>8} {'scan':>8}")
        for style in ("original", "phone", "pinyin", "traditional"):
            n, g, s = by_style.get(style, [0, 0, 0])
            print(f"{style:<12} {n:>8} {g:>8} {s:>8}")
        print(f"recall: grep {grep_recall:.1%}, scan {scan_recall:.1%}; "
              f"scan found {len(found - planted_ids)} canaries not planted; "
              f"{len(result.ambiguous)} ambiguous sightings; "
              f"{result.candidate_lines} candidate lines confirmed")  # fmt: skip
        print(f"incident: {result.incident_id}, event: {result.event_id}")
        ctx.close()
    finally:
        if args.keep:
            print(f"kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
