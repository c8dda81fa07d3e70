"""A sample hospital's daily newborn list, shaped like a real ward export.

The rows are synthetic (Faker's zh_CN data plus Shanghai birth statistics from
DOMAIN.md); they stand in for real mothers in the demo only.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import random

from faker import Faker

HEADER = [
    "序号",
    "产妇姓名",
    "年龄",
    "联系电话",
    "住院号",
    "分娩日期",
    "分娩方式",
    "新生儿性别",
    "出生体重(g)",
    "床号",
]
COLUMN_MAP = {
    "serial": "序号",
    "name": "产妇姓名",
    "age": "年龄",
    "phone": "联系电话",
    "delivery_date": "分娩日期",
    "delivery_mode": "分娩方式",
    "baby_sex": "新生儿性别",
    "birth_weight": "出生体重(g)",
}
# Mobile prefixes common in Shanghai subscriber bases (China Mobile, Unicom, Telecom).
PREFIXES = [
    "138",
    "139",
    "135",
    "136",
    "137",
    "158",
    "159",
    "150",
    "186",
    "185",
    "189",
    "133",
    "181",
    "177",
]


def daily_list(day: dt.date, rows: int = 36, seed: int = 7) -> list[list[str]]:
    """One day's list for one hospital: sorted by delivery time, serial-numbered."""
    rng = random.Random(f"{seed}:{day.isoformat()}")
    fake = Faker("zh_CN")
    fake.seed_instance(rng.randrange(1 << 30))
    out = []
    times = sorted(rng.randrange(0, 24 * 60) for _ in range(rows))
    for i, minute in enumerate(times, start=1):
        weight = max(1800, round(rng.gauss(3340, 430) / 10) * 10)  # mean 3,340 g, sd 430 g
        phone = rng.choice(PREFIXES) + f"{rng.randrange(10**8):08d}"
        out.append(
            [
                str(i),
                fake.last_name_female() + fake.first_name_female(),
                str(max(20, min(45, round(rng.gauss(31.7, 4))))),
                phone,
                f"{day:%y%m}{rng.randrange(10**5):05d}",
                (dt.datetime.combine(day, dt.time()) + dt.timedelta(minutes=minute)).strftime(
                    "%Y-%m-%d %H:%M"
                ),
                "剖宫产" if rng.random() < 0.45 else "顺产",
                rng.choice(["男", "女"]),
                str(weight),
                f"{rng.randrange(1, 9)}{rng.randrange(1, 40):02d}",
            ]
        )
    return out


def daily_list_csv(day: dt.date, rows: int = 36, seed: int = 7) -> bytes:
    """The list as a hospital system would export it: GB18030 CSV with CRLF line ends."""
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(HEADER)
    writer.writerows(daily_list(day, rows, seed))
    return buf.getvalue().encode("gb18030")
