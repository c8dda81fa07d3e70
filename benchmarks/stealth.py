"""Stealth benchmark: can an insider pick the canaries out of a feed?

Builds its own feeds (several hospitals, weeks of lists, each hospital with its own
columns, date and phone layouts, sort order, serials, masked or full IDs, rounding
habits and missing values; one US hospital), injects canaries through the public inject
API (`canary.feeds.inject.inject`, the function behind `canary inject`), then attacks:

(a) insider rules, each reported as share of canaries flagged vs share of real rows;
(b) a gradient-boosted classifier (HistGradientBoostingClassifier) on per-row features,
    leave-one-feed-out cross-validated, reporting ROC AUC (0.5 = indistinguishable;
    the classifier two-sample test of Lopez-Paz & Oquab, ICLR 2017).

A naive forger (Faker rows in the library's default layout, appended at the end) is
measured in the same run as the baseline. Goal: AUC <= 0.60, no rule > 2x real rate.

Run: .venv/bin/python benchmarks/stealth.py [--weeks 6] [--per-copy 3] [--runs 5]
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import os
import random
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
# One thread: on a shared 2-core machine OpenMP oversubscription makes boosting crawl.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
from faker import Faker  # noqa: E402
from sklearn.ensemble import HistGradientBoostingClassifier  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402

from canary import periods  # noqa: E402
from canary.context import open_context  # noqa: E402
from canary.feeds.inject import inject  # noqa: E402
from canary.flow import service as flow  # noqa: E402
from canary.forging import idcard  # noqa: E402
from canary.settings import load_settings  # noqa: E402
from canary.telephony import pool  # noqa: E402

# Mobile prefixes with rough market weights (China Mobile heavy, as in Shanghai lists).
CN_PREFIXES = {
    "138": 9,
    "139": 9,
    "137": 6,
    "136": 6,
    "135": 6,
    "134": 3,
    "150": 4,
    "151": 4,
    "152": 2,
    "158": 4,
    "159": 4,
    "187": 4,
    "188": 3,
    "182": 3,
    "183": 2,
    "198": 2,
    "130": 3,
    "131": 3,
    "132": 2,
    "155": 2,
    "156": 3,
    "185": 3,
    "186": 4,
    "166": 1,
    "133": 3,
    "153": 2,
    "180": 3,
    "181": 2,
    "189": 4,
    "177": 2,
    "199": 1,
    "173": 1,
}
US_AREAS = {"415": 5, "510": 4, "650": 3, "408": 4, "925": 2}
DELIVERY = {"顺产": 55, "剖宫产": 45}
REGIONS = [
    "310101",
    "310104",
    "310105",
    "310106",
    "310107",
    "310110",
    "310112",
    "310115",
    "320102",
    "330106",
    "340104",
    "410105",
    "510107",
    "420106",
]
STREETS = [
    "南京西路",
    "淮海中路",
    "肇嘉浜路",
    "漕溪北路",
    "天钥桥路",
    "曹杨路",
    "长寿路",
    "张杨路",
    "浦东大道",
    "龙华中路",
    "虹桥路",
]


def wpick(rng, weights):
    keys = list(weights)
    return rng.choices(keys, [weights[k] for k in keys])[0]


def cn_name(rng, fake):
    # The generator's own name model: Faker's weighted surnames, and a mix of Faker's
    # two-character given names and single characters from its word list.
    surname = fake.last_name()
    if rng.random() < 0.35:
        return surname + rng.choice("丽静敏婷芳娟艳燕霞玲雪慧倩颖琳晶佳欣怡琪雨梦思悦晨瑶璐红梅萍")
    return surname + fake.first_name_female()


def hospital_spec(k: int, rng: random.Random) -> dict:
    """Each hospital exports differently: columns, names, layouts, order, habits."""
    us = k == 7
    spec = {
        "us": us,
        "serial": rng.choice(["plain", "padded", None]),
        "date_fmt": rng.choice(["%Y-%m-%d", "%Y/%m/%d", "%Y年%m月%d日", "%Y-%m-%d %H:%M"]),
        "phone_fmt": rng.choice(["plain", "dash", "space", "mixed"]),
        "sort": rng.choice(["date", "date_desc", "bed", "none", "name"]),
        "weight": rng.choice([("g", 10), ("g", 50), ("g", 1), ("kg", 2)]),
        "id": rng.choice(["masked", "masked4", "full", None]),
        "age": rng.random() < 0.5,
        "address": rng.random() < 0.5,
        "remark": rng.random() < 0.5,
        "header": {
            "name": rng.choice(["产妇姓名", "姓名", "母亲", "产妇"]),
            "phone": rng.choice(["联系电话", "手机", "电话", "手机号码"]),
            "date": rng.choice(["分娩日期", "出生日期", "分娩时间"]),
        },
    }
    if us:
        spec.update(
            date_fmt="%m/%d/%Y",
            phone_fmt="us",
            id=None,
            address=False,
            remark=False,
            sort=rng.choice(["date", "none"]),
        )
    return spec


def make_rows(spec, rng, fake, week_start: dt.date, n: int):
    rows = []
    for _ in range(n):
        born = week_start + dt.timedelta(
            days=rng.randint(0, 6), hours=rng.randint(0, 23), minutes=rng.randint(0, 59)
        )
        age = max(19, min(45, int(rng.gauss(31.7, 4.2))))
        mother = dt.date(born.year - age, 1, 1) + dt.timedelta(days=rng.randint(0, 364))
        if (born.month, born.day) < (mother.month, mother.day):
            age -= 1
        grams = max(1800, min(4800, rng.gauss(3340, 430)))
        if spec["us"]:
            name = f"{fake.first_name_female()} {fake.last_name()}"
            area = wpick(rng, US_AREAS)
            phone = f"({area}) {rng.randint(200, 999)}-{rng.randint(0, 9999):04d}"
        else:
            name = cn_name(rng, fake)
            digits = wpick(rng, CN_PREFIXES) + f"{rng.randrange(10**8):08d}"
            style = spec["phone_fmt"]
            if style == "mixed":
                style = "dash" if rng.random() < 0.3 else "plain"
            phone = {
                "plain": digits,
                "dash": f"{digits[:3]}-{digits[3:7]}-{digits[7:]}",
                "space": f"{digits[:3]} {digits[3:7]} {digits[7:]}",
            }[style]
        row = {
            "name": name,
            "phone": phone,
            "date": born,
            "mother": mother,
            "age": age,
            "bed": rng.randint(1, 60),
            "sex": rng.choice(["男", "女"]) if not spec["us"] else rng.choice(["M", "F"]),
            "mode": wpick(rng, DELIVERY),
        }
        unit, step = spec["weight"]
        row["weight"] = (
            f"{grams / 1000:.2f}" if unit == "kg" else str(int(round(grams / step) * step))
        )
        if spec["id"]:
            full = idcard.make(rng.choice(REGIONS), mother, rng.randrange(500) * 2)
            row["id"] = {
                "full": full,
                "masked": full[:3] + "*" * 11 + full[-4:],
                "masked4": full[:6] + "*" * 8 + full[-4:],
            }[spec["id"]]
            if rng.random() < 0.03:
                row["id"] = ""
        if spec["address"]:
            row["address"] = (
                f"上海市{rng.choice(STREETS)}{rng.randint(1, 999)}弄{rng.randint(1, 60)}号"
                if rng.random() > 0.05
                else ""
            )
        if spec["remark"]:
            row["remark"] = rng.choice(["", "", "", "", "", "", "", "", "", "双胎", "早产", "VIP"])
        rows.append(row)
    key = {
        "date": lambda r: r["date"],
        "date_desc": lambda r: r["date"],
        "bed": lambda r: r["bed"],
        "name": lambda r: r["name"],
        "none": None,
    }[spec["sort"]]
    if key:
        rows.sort(key=key, reverse=spec["sort"] == "date_desc")
    return rows


def render(spec, rows):
    h = spec["header"]
    us = spec["us"]
    header = ["No."] if spec["serial"] and us else (["序号"] if spec["serial"] else [])
    header += (
        ["Mother Name", "Phone", "Delivery Date", "DOB", "Sex", "Weight (g)"]
        if us
        else [h["name"], h["phone"], h["date"], "产妇出生日期", "性别", "体重"]
    )
    cols = ["name", "phone", "date", "mother", "sex", "weight"]
    for extra, label in (
        ("age", "年龄" if not us else "Age"),
        ("bed", "床号" if not us else "Bed"),
        ("mode", "分娩方式" if not us else "Delivery"),
        ("id", "身份证号"),
        ("address", "住址"),
        ("remark", "备注"),
    ):
        if extra in ("id", "address", "remark") and not spec[extra]:
            continue
        if extra == "age" and not spec["age"]:
            continue
        header.append(label)
        cols.append(extra)
    out = []
    for i, r in enumerate(rows):
        line = []
        if spec["serial"]:
            line.append(f"{i + 1:03d}" if spec["serial"] == "padded" else str(i + 1))
        for c in cols:
            v = r.get(c, "")
            if c == "date":
                v = v.strftime(spec["date_fmt"])
            elif c == "mother":
                v = v.strftime("%m/%d/%Y" if us else spec["date_fmt"].split(" ")[0])
            elif c == "bed":
                v = f"{v}床" if not us else str(v)
            elif c == "mode" and us:
                v = {"顺产": "Vaginal", "剖宫产": "C-section"}[v]
            line.append(str(v))
        out.append(line)
    return header, out


def build_corpus(workdir: Path, weeks: int, seed: int):
    rng = random.Random(seed)
    fake_cn, fake_us = Faker("zh_CN"), Faker("en_US")
    fake_cn.seed_instance(seed)
    fake_us.seed_instance(seed)
    first = dt.date(2026, 10, 5)
    files = []
    for k in range(8):
        spec = hospital_spec(k, rng)
        for w in range(weeks):
            start = first + dt.timedelta(weeks=w)
            n = rng.randint(40, 140)
            header, rows = render(
                spec, make_rows(spec, rng, fake_us if spec["us"] else fake_cn, start, n)
            )
            path = workdir / f"h{k}_w{w}.csv"
            with path.open("w", newline="", encoding="utf-8") as fh:
                csv.writer(fh).writerows([header, *rows])
            files.append((k, spec, path, periods.period_of(start), header, rows))
    return files


def setup_service(home: Path, rng: random.Random):
    settings = load_settings({"home": str(home), "scheduler_in_serve": False}, environ={})
    ctx = open_context(settings, initialise=True)
    with ctx.db.session() as session:
        # The operator's pool: local numbers from the big carriers, forwarding to Twilio.
        # Numbers reused across deliveries are visible to an insider who keeps them all,
        # so the pool is sized to the canaries in circulation and bought across carriers
        # roughly in proportion to the local market (what the README asks operators to do).
        for prefix, weight in CN_PREFIXES.items():
            for _ in range(2 + 2 * weight):
                pool.add_number(
                    session,
                    ctx,
                    f"+86{prefix}{rng.randrange(10**8):08d}",
                    forwards_to="+14155550100",
                    quarantine_days=0,
                    actor="bench",
                )
        for area in US_AREAS:
            for _ in range(6):
                pool.add_number(
                    session,
                    ctx,
                    f"+1{area}{rng.randint(200, 999)}{rng.randint(0, 9999):04d}",
                    quarantine_days=0,
                    actor="bench",
                )
        for k in range(8):
            flow.add_source(session, f"hospital-{k}", "bench")
            flow.add_feed(
                session,
                f"feed-{k}",
                "bench",
                source=f"hospital-{k}",
                locale="en_US" if k == 7 else "zh_CN",
            )
            flow.add_holder(session, f"clerk-{k}", "bench", receives=[f"feed-{k}"])
    return ctx


def inject_all(ctx, files, out: Path, per_copy: int):
    """Inject through the public API; label output rows not in the input as canaries."""
    labelled = []
    for k, spec, path, period, header, rows in files:
        target = out / path.name
        inject(
            ctx,
            feed=f"feed-{k}",
            input_path=path,
            holders=[f"clerk-{k}"],
            period=period,
            output=target,
            actor="bench",
            count=per_copy,
        )
        with target.open(encoding="utf-8", newline="") as fh:
            got = list(csv.reader(fh))[1:]
        real = Counter(tuple(r) for r in rows)
        serial = bool(spec["serial"])
        labels = []
        for r in got:
            key = tuple(r)
            # Serial numbers shift after an insert, so compare rows without them.
            hit = any(tuple(x[1:]) == key[1:] for x in rows) if serial else real[key] > 0
            labels.append(0 if hit else 1)
        labelled.append((k, spec, header, got, labels))
    return labelled


def naive(files, seed):
    """Baseline forger: Faker rows in Faker's own layout, appended at the end of the file."""
    rng = random.Random(seed)
    out = []
    for k, spec, _path, _period, header, rows in files:
        fake = Faker("en_US" if spec["us"] else "zh_CN")
        fake.seed_instance(rng.random())
        got = [list(r) for r in rows]
        for _ in range(3):
            row = list(rows[-1])
            base = 1 if spec["serial"] else 0
            row[base] = fake.name()
            row[base + 1] = fake.phone_number()
            row[base + 2] = fake.date_between("-7d", "today").isoformat()
            row[base + 5] = str(rng.randint(2500, 4200))
            if spec["serial"]:
                row[0] = str(len(got) + 1)
            got.append(row)
        out.append((k, spec, header, got, [0] * len(rows) + [1] * 3))
    return out


def columns_of(spec) -> list[str]:
    cols = ["serial"] if spec["serial"] else []
    cols += ["name", "phone", "date", "mother", "sex", "weight"]
    if spec["age"]:
        cols.append("age")
    cols += ["bed", "mode"]
    cols += [c for c in ("id", "address", "remark") if spec[c]]
    return cols


def shape(text: str) -> str:
    return "".join("9" if c.isdigit() else c for c in text)


def parse_day(text: str):
    for fmt in ("%Y-%m-%d %H:%M", "%Y-%m-%d", "%Y/%m/%d", "%Y年%m月%d日", "%m/%d/%Y"):
        try:
            return dt.datetime.strptime(text.strip(), fmt)
        except ValueError:
            continue
    return None


def sort_value(spec, col, text):
    if col == "date":
        return parse_day(text)
    if col == "bed":
        return int("".join(ch for ch in text if ch.isdigit()) or 0)
    return text


FEATURES: list[str] = []
# Index of the delivery each row of the last row_features() call came from.
DELIVERIES: list[int] = []


def row_features(files):
    """Per-row features an insider can compute, and the insider rules' flags."""
    corpus = {
        c: Counter() for c in ("surname", "char", "prefix", "block", "name", "idregion", "phone")
    }
    for _k, spec, _h, rows, _l in files:
        cols = columns_of(spec)
        for r in rows:
            v = dict(zip(cols, r, strict=False))
            name = v["name"]
            corpus["name"][name] += 1
            if spec["us"]:
                corpus["surname"][name.split()[-1]] += 1
                corpus["char"][name.split()[0]] += 1
            else:
                corpus["surname"][name[:1]] += 1
                for ch in name[1:]:
                    corpus["char"][ch] += 1
            digits = "".join(ch for ch in v["phone"] if ch.isdigit())
            corpus["prefix"][digits[-11:-8] if not spec["us"] else digits[-10:-7]] += 1
            corpus["block"][digits[-8:-4]] += 1
            corpus["phone"][digits] += 1
            if v.get("id"):
                corpus["idregion"][v["id"][:3]] += 1
    X, y, groups, flags = [], [], [], []
    DELIVERIES.clear()
    for delivery_no, (k, spec, _h, rows, labels) in enumerate(files):
        cols = columns_of(spec)
        vals = [dict(zip(cols, r, strict=False)) for r in rows]
        n = len(rows)
        col_counts = {c: Counter(v[c] for v in vals) for c in cols}
        shapes = Counter(shape(v["phone"]) for v in vals)
        weights = [float(v["weight"]) for v in vals if v["weight"]]
        w_mean, w_std = float(np.mean(weights)), float(np.std(weights)) or 1.0
        step = next(
            s
            for s in (50, 10, 1, 0.01)
            if sum(abs(w / s - round(w / s)) < 1e-6 for w in weights) >= 0.9 * n
        )
        dates = [parse_day(v["date"]) for v in vals]
        sort_col = {"date": "date", "date_desc": "date", "bed": "bed", "name": "name"}.get(
            spec["sort"]
        )
        id_shapes = Counter(shape(v.get("id", "")) for v in vals)
        file_prefixes = Counter("".join(c for c in x["phone"] if c.isdigit())[-11:-8] for x in vals)
        for i, v in enumerate(vals):
            name = v["name"]
            digits = "".join(ch for ch in v["phone"] if ch.isdigit())
            prefix = digits[-11:-8] if not spec["us"] else digits[-10:-7]
            surname = name.split()[-1] if spec["us"] else name[:1]
            chars = [name.split()[0]] if spec["us"] else list(name[1:])
            others = [d for j, d in enumerate(dates) if j != i and d]
            breaks_sort = 0
            if sort_col:
                key = [
                    sort_value(spec, sort_col, vals[j][sort_col])
                    for j in (i - 1, i, i + 1)
                    if 0 <= j < n
                ]
                desc = spec["sort"] == "date_desc"
                breaks_sort = int(key != sorted(key, reverse=desc))
                if breaks_sort and labels[i] and os.environ.get("STEALTH_DEBUG"):
                    print(
                        "breaks sort:",
                        spec["sort"],
                        [vals[j][sort_col] for j in (i - 1, i, i + 1) if 0 <= j < n],
                    )
            breaks_serial = 0
            if spec["serial"]:
                s = [int(vals[j]["serial"]) for j in (i - 1, i, i + 1) if 0 <= j < n]
                breaks_serial = int(any(b - a != 1 for a, b in zip(s, s[1:], strict=False)))
            age_bad = 0
            if "age" in v:
                m, d = parse_day(v["mother"]), dates[i]
                if m and d:
                    age_bad = int(
                        int(v["age"]) != d.year - m.year - ((d.month, d.day) < (m.month, m.day))
                    )
            uniq_cat = min(
                (col_counts[c][v[c]] for c in ("sex", "mode", "remark") if c in v), default=9
            )
            w = float(v["weight"]) if v["weight"] else w_mean
            feat = {
                "pos": i / max(n - 1, 1),
                "edge": int(i in (0, n - 1)),
                "phone_shape_share": shapes[shape(v["phone"])] / n,
                "prefix_file": (file_prefixes[prefix] - 1) / n,
                "prefix_corpus": corpus["prefix"][prefix],
                "block_corpus": corpus["block"][digits[-8:-4]],
                "phone_dup": corpus["phone"][digits] - 1,
                "foreign": int(len(digits) not in (10, 11)),
                "name_len": len(name),
                "name_dup": corpus["name"][name] - 1,
                "surname_corpus": corpus["surname"][surname] - 1,
                "char_min": min((corpus["char"][c] - 1 for c in chars), default=0),
                "char_mean": float(np.mean([corpus["char"][c] for c in chars])) if chars else 0.0,
                "date_offset": ((dates[i] - min(others)).total_seconds() / 86400)
                if dates[i] and others
                else 0.0,
                "date_outside": int(
                    bool(dates[i] and others and not min(others) <= dates[i] <= max(others))
                ),
                "weight_z": (w - w_mean) / w_std,
                "weight_off_step": int(abs(w / step - round(w / step)) > 1e-6),
                "weight_dup": col_counts["weight"][v["weight"]] - 1,
                "mother_dup": col_counts["mother"][v["mother"]] - 1,
                "breaks_sort": breaks_sort,
                "breaks_serial": breaks_serial,
                "age_bad": age_bad,
                "cat_min": uniq_cat,
                "id_shape_share": id_shapes[shape(v.get("id", ""))] / n if "id" in v else 1.0,
                "id_region": corpus["idregion"][v.get("id", "")[:3]] if v.get("id") else 0,
                "addr_dup": col_counts["address"][v["address"]] - 1 if "address" in v else 0,
            }
            FEATURES[:] = list(feat)
            X.append(list(feat.values()))
            y.append(labels[i])
            groups.append(k)
            DELIVERIES.append(delivery_no)
            flags.append(
                {
                    "phone number seen in another row or delivery": feat["phone_dup"] > 0,
                    "phone format differs from the file's usual": feat["phone_shape_share"] < 0.5,
                    "carrier prefix rare in the file (<=1 other)": feat["prefix_file"] * n <= 1,
                    "foreign or odd-length number": bool(feat["foreign"]),
                    "name repeated elsewhere": feat["name_dup"] > 0,
                    "surname seen nowhere else": feat["surname_corpus"] == 0,
                    "given-name character seen nowhere else": feat["char_min"] == 0,
                    "breaks the sort order": bool(breaks_sort),
                    "breaks the serial numbering": bool(breaks_serial),
                    "date outside the file's range": bool(feat["date_outside"]),
                    "category value seen nowhere else": uniq_cat <= 1,
                    "weight rounded differently": bool(feat["weight_off_step"]),
                    "weight unusual (|z|>2.5)": abs(feat["weight_z"]) > 2.5,
                    "mother's birth date shared with another row": feat["mother_dup"] > 0,
                    "age does not match birth date": bool(age_bad),
                    "ID layout differs": feat["id_shape_share"] < 0.5,
                    "first or last row": bool(feat["edge"]),
                }
            )
    return np.array(X, dtype=float), np.array(y), np.array(groups), flags


def evaluate(label, files):
    X, y, groups, flags = row_features(files)
    print(
        f"\n== {label}: {int(y.sum())} canaries among {int((1 - y).sum())} real rows, "
        f"{len(set(groups))} feeds"
    )
    worst = 0.0
    print(f"{'insider rule':48s} {'canaries':>9s} {'real':>7s} {'ratio':>6s}")
    for rule in flags[0]:
        hit = np.array([f[rule] for f in flags])
        c, r = hit[y == 1].mean(), hit[y == 0].mean()
        ratio = c / r if r else (float("inf") if c else 1.0)
        worst = max(worst, ratio if c > 0.01 else 0.0)
        print(f"{rule:48s} {c:9.1%} {r:7.1%} {ratio:6.2f}")
    scores = np.zeros(len(y))
    for g in sorted(set(groups)):
        train, test = groups != g, groups == g
        model = HistGradientBoostingClassifier(max_iter=80, learning_rate=0.1, random_state=0)
        model.fit(X[train], y[train])
        scores[test] = model.predict_proba(X[test])[:, 1]
    auc = roc_auc_score(y, scores)
    print(f"gradient boosting, leave-one-feed-out ROC AUC: {auc:.3f}")
    # The pooled AUC also rewards knowing that small deliveries hold a larger share of
    # canaries (a fixed count per copy); ranking rows within their own delivery is the
    # insider's actual task of picking the canaries out. Reported, not part of the goal.
    delivery = np.array(DELIVERIES)
    within = [
        roc_auc_score(y[delivery == d], scores[delivery == d])
        for d in sorted(set(DELIVERIES))
        if 0 < y[delivery == d].sum() < (delivery == d).sum()
    ]
    print(f"  same scores ranked within each delivery, mean ROC AUC: {np.mean(within):.3f}")
    single = []
    for j, name in enumerate(FEATURES):
        a = roc_auc_score(y, X[:, j])
        single.append((abs(a - 0.5), name, a))
    top = ", ".join(f"{n} {a:.2f}" for _, n, a in sorted(single, reverse=True)[:5])
    print(f"most telling single features (AUC): {top}")
    return auc, worst


def run_once(args, seed: int) -> tuple[float, float]:
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "in").mkdir()
        (tmp / "out").mkdir()
        files = build_corpus(tmp / "in", args.weeks, seed)
        ctx = setup_service(tmp / "home", random.Random(seed))
        try:
            t0 = time.monotonic()
            ours = inject_all(ctx, files, tmp / "out", args.per_copy)
            inject_s = time.monotonic() - t0
        finally:
            ctx.close()
    t0 = time.monotonic()
    base_auc, base_worst = evaluate("baseline: naive Faker rows appended", naive(files, seed))
    print(f"(baseline evaluated in {time.monotonic() - t0:.1f}s)")
    auc, worst = evaluate("canary forger", ours)
    print(
        f"\ninjected {len(files)} deliveries in {inject_s:.1f}s; total {time.monotonic() - started:.1f}s"
    )
    print(
        f"AUC {auc:.3f} (baseline {base_auc:.3f}); worst rule ratio {worst:.2f} "
        f"(baseline {base_worst:.2f}); goal AUC <= 0.60 and ratio <= 2"
    )
    return auc, worst


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--weeks", type=int, default=6)
    parser.add_argument("--per-copy", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    # Each run also draws a fresh master key, so canaries differ run to run: one run's
    # AUC moves by a few hundredths. --runs N repeats with seeds seed, seed+1, ...
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    results = [run_once(args, args.seed + i) for i in range(args.runs)]
    ok = all(auc <= 0.60 and worst <= 2.0 for auc, worst in results)
    if args.runs > 1:
        aucs = [a for a, _ in results]
        print(
            f"\n{args.runs} runs: AUC mean {np.mean(aucs):.3f} "
            f"(min {min(aucs):.3f}, max {max(aucs):.3f}); "
            f"worst rule ratio {max(w for _, w in results):.2f}; "
            f"goal met in {sum(a <= 0.60 and w <= 2.0 for a, w in results)}/{args.runs} runs"
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
