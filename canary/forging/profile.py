"""Learn a feed from its rows: what each column holds, how it is written, how the file is sorted.

Roles are detected from content, never from header names, so a feed with columns we
have never seen (``产妇``, ``Mobile No.``, ``col7``) is profiled the same way. The feed's
``column_map`` overrides the detected role of the columns it names.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from canary import phones
from canary.forging import idcard, names
from canary.forging.frequency import novelty_survival
from canary.forging.locales import LocalePack
from canary.forging.locales import load as load_pack
from canary.forging.ordering import SortKey, detect_serial, detect_sort_keys
from canary.forging.values import decimals_of, parse_date, parse_number, shape

# Cells that mean "nothing here" in exported lists.
EMPTY_TOKENS = frozenset({"", "-", "/", "--", "无", "N/A", "NA", "n/a", "null", "NULL", "None"})
ROLES = ("name", "phone", "id", "code", "date", "serial", "number", "category", "text", "empty")

# column_map role names -> profile roles ("delivery_date" -> date, "mother_name" -> name).
_MAP_HINTS = (
    ("phone", "phone"),
    ("mobile", "phone"),
    ("tel", "phone"),
    ("name", "name"),
    ("date", "date"),
    ("birth", "date"),
    ("serial", "serial"),
    ("id", "id"),
    ("weight", "number"),
    ("age", "number"),
)


@dataclass
class Column:
    index: int
    header: str
    role: str = "text"
    values: list[str] = field(default_factory=list)  # non-empty cells, in sample order
    counts: Counter = field(default_factory=Counter)
    empty_rate: float = 0.0
    empty_tokens: Counter = field(default_factory=Counter)
    # Share of non-empty cells whose value occurs more than once in the column.
    repeat_share: float = 0.0
    # number: rounding step and range; date: parsed range; phone: region and prefixes.
    step: float = 1.0
    decimals: int = 0
    low: float = 0.0
    high: float = 0.0
    # number: the 10th and 90th percentiles (where the column's tails start)
    inner_low: float = 0.0
    inner_high: float = 0.0
    masked: bool = False
    region: str = ""
    number_type: str = "mobile"
    prefixes: Counter = field(default_factory=Counter)
    # How often a prefix new to this feed stays new to an archive (frequency).
    prefix_survival: float = 0.0
    script: str = ""
    has_time: bool = False


@dataclass
class Relation:
    """``target`` (an age) is the whole years from date column ``born`` to ``at``."""

    target: int
    born: int
    at: int


@dataclass
class FeedProfile:
    header: list[str]
    rows: list[list[str]]
    indices: list[int]
    total_rows: int
    columns: list[Column]
    pack: LocalePack
    region: str
    sort_keys: list[SortKey] = field(default_factory=list)
    serial: object | None = None  # ordering.Serial
    ages: list[Relation] = field(default_factory=list)
    id_birth_column: int | None = None  # date column an ID's birth digits repeat
    # Results derived from the profile alone, shared by every plan that uses it.
    memo: dict = field(default_factory=dict, repr=False, compare=False)

    def of_role(self, role: str) -> list[Column]:
        return [c for c in self.columns if c.role == role]

    @property
    def real_names(self) -> set[str]:
        return {v.strip() for c in self.of_role("name") for v in c.values}


def _share(values: list[str], test) -> float:
    return sum(1 for v in values if test(v)) / len(values) if values else 0.0


def _is_masked_id(v: str) -> bool:
    s = shape(v)
    return len(v) in (15, 18) and "9" in s and any(ch in v for ch in "*xX×#") and s[:2] == "99"


def _phone_of(v: str, region: str) -> str | None:
    digits = sum(ch.isdigit() for ch in v)
    if digits < 7 or any(ch.isalpha() and ch not in "xX" for ch in v):
        return None
    e164 = phones.try_normalize(v, region)
    if e164 is None:
        return None
    try:
        import phonenumbers

        if not phonenumbers.is_valid_number(phonenumbers.parse(e164)):
            return None
    except Exception:  # noqa: BLE001 - phonenumbers raises its own parse errors
        return None
    return e164


def _masked_phone(v: str) -> bool:
    s = shape(v).replace("*", "#")
    return 10 <= len(v) <= 16 and s.count("9") >= 6 and "#" in s and not _is_masked_id(v)


def _step_of(numbers: list[float]) -> float:
    """The largest rounding step almost every value is a multiple of (weights in 10 g, 50 g)."""
    for step in (1000, 500, 100, 50, 20, 10, 5, 2, 1, 0.5, 0.1, 0.05, 0.01, 0.001):
        hits = sum(1 for x in numbers if abs(x / step - round(x / step)) < 1e-6)
        if hits >= 0.97 * len(numbers):
            return float(step)
    return 0.0001


def _name_like(v: str, pack_han: LocalePack, pack_latin: LocalePack) -> bool:
    v = v.strip()
    if names.is_han(v):
        if not 2 <= len(v) <= 4 or not all("\u4e00" <= ch <= "\u9fff" for ch in v):
            return False
        surname, _ = names.split_han(v, pack_han)
        return surname in pack_han.surnames
    words = [w.strip(".,") for w in v.replace(",", " ").split()]
    if not 2 <= len(words) <= 4 or not all(w.isalpha() for w in words):
        return False
    firsts = {n for g in pack_latin.given.values() for d in g.values() for n in d.weights}
    lowered = {w.lower() for w in words}
    return bool(lowered & {s.lower() for s in pack_latin.surnames}) or bool(
        lowered & {f.lower() for f in firsts}
    )


def _detect_role(col: Column, region: str, han: LocalePack, latin: LocalePack) -> str:
    vals = col.values
    if not vals:
        return "empty"
    distinct = len(col.counts) / len(vals)
    if _share(vals, lambda v: _phone_of(v, region) is not None) >= 0.8:
        return "phone"
    if _share(vals, _masked_phone) >= 0.8:
        col.masked = True
        return "phone"
    if _share(vals, lambda v: idcard.is_valid(v.strip())) >= 0.8:
        return "id"
    if _share(vals, _is_masked_id) >= 0.8:
        col.masked = True
        return "id"
    if _share(vals, lambda v: parse_date(v) is not None) >= 0.9:
        return "date"
    if _share(vals, lambda v: parse_number(v) is not None) >= 0.9:
        return "number"
    if _share(vals, lambda v: _name_like(v, han, latin)) >= 0.7 and distinct >= 0.3:
        return "name"
    shapes = Counter(shape(v) for v in vals)
    if (
        distinct >= 0.8
        and shapes.most_common(1)[0][1] >= 0.8 * len(vals)
        and "9" in "".join(shapes)
    ):
        return "code"  # record numbers such as "ZY2026110342": same shape, nearly unique
    if len(col.counts) <= max(12, 0.1 * len(vals)) or col.repeat_share >= 0.8:
        return "category"
    return "text"


def _role_from_map(role: str) -> str | None:
    role = role.lower()
    for hint, mapped in _MAP_HINTS:
        if hint in role:
            return mapped
    return role if role in ROLES else None


def _fill_stats(col: Column, region: str) -> None:
    vals = col.values
    if col.role == "number":
        nums = [x for x in (parse_number(v) for v in vals) if x is not None]
        if nums:
            col.step = _step_of(nums)
            col.decimals = Counter(decimals_of(v) for v in vals).most_common(1)[0][0]
            col.low, col.high = min(nums), max(nums)
            ordered = sorted(nums)
            col.inner_low = ordered[len(ordered) // 10]
            col.inner_high = ordered[(len(ordered) * 9) // 10]
    elif col.role == "date":
        parsed = [p for p in (parse_date(v) for v in vals) if p]
        if parsed:
            stamps = [p[0].timestamp() for p in parsed]
            col.low, col.high = min(stamps), max(stamps)
            col.has_time = any(p[1].time for p in parsed)
    elif col.role == "phone" and not col.masked:
        seq, last = [], None
        for v in vals:
            e164 = _phone_of(v, region)
            if e164:
                seq.append(phones.national_digits(e164)[:3])
                col.region = col.region or phones.region_of(e164)
                last = e164
        if last:  # the type of the column's last number, as before (one lookup, not one per row)
            col.number_type = phones.number_type(last)
        col.prefixes = Counter(seq)
        col.prefix_survival = novelty_survival(col.prefixes)
    elif col.role == "phone":
        col.prefix_survival = novelty_survival(Counter(v[:3] for v in vals if v[:3].isdigit()))
    elif col.role == "name":
        col.script = "han" if _share(vals, names.is_han) >= 0.5 else "latin"


def _relations(profile: FeedProfile) -> None:
    """Ages that are whole years between two date columns, and IDs that embed a date."""
    rows = profile.rows
    dates = profile.of_role("date")
    for col in profile.of_role("number"):
        if col.step != 1 or col.decimals or not 10 <= col.low <= col.high <= 80:
            continue
        for born in dates:
            for at in dates:
                if born is at:
                    continue
                ok = total = 0
                for row in rows:
                    a, b, c = (
                        parse_date(row[born.index]),
                        parse_date(row[at.index]),
                        parse_number(row[col.index]),
                    )
                    if not (a and b and c is not None):
                        continue
                    total += 1
                    ok += years_between(a[0].date(), b[0].date()) == int(c)
                if total >= 5 and ok >= 0.9 * total:
                    profile.ages.append(Relation(col.index, born.index, at.index))
    for col in profile.of_role("id"):
        if col.masked:
            continue
        for d in dates:
            pairs = [(row[col.index], parse_date(row[d.index])) for row in rows]
            pairs = [(i, p) for i, p in pairs if p and idcard.is_valid(i.strip())]
            if len(pairs) >= 5 and sum(i[6:14] == f"{p[0]:%Y%m%d}" for i, p in pairs) >= 0.9 * len(
                pairs
            ):
                profile.id_birth_column = d.index


def years_between(born, at) -> int:
    return at.year - born.year - ((at.month, at.day) < (born.month, born.day))


def build(
    sample, *, locale: str = "zh_CN", column_map: dict | None = None, history: list | None = None
) -> FeedProfile:
    """Profile the delivery's sample (plus earlier deliveries' samples, for distributions)."""
    header = [str(h) for h in sample.header]
    width = len(header)
    rows = [list(r) + [""] * (width - len(r)) for r in sample.rows]
    pool_rows = rows + [
        list(r) + [""] * (width - len(r))
        for past in (history or [])
        if list(past.header) == header
        for r in past.rows
    ]
    han, latin = load_pack("zh_CN"), load_pack("en_US")
    region = "US" if locale.endswith("US") else locale.split("_")[-1].upper() or "CN"
    columns = []
    for i, name in enumerate(header):
        col = Column(index=i, header=name)
        cells = [r[i].strip() for r in pool_rows]
        col.values = [c for c in cells if c not in EMPTY_TOKENS]
        col.empty_tokens = Counter(c for c in cells if c in EMPTY_TOKENS)
        col.empty_rate = (len(cells) - len(col.values)) / len(cells) if cells else 0.0
        col.counts = Counter(col.values)
        repeated = sum(n for n in col.counts.values() if n > 1)
        col.repeat_share = repeated / len(col.values) if col.values else 0.0
        columns.append(col)
    forced = {}
    for role, colname in (column_map or {}).items():
        mapped = _role_from_map(str(role))
        if mapped and colname in header:
            forced[header.index(colname)] = mapped
    for col in columns:
        col.role = forced.get(col.index) or _detect_role(col, region, han, latin)
    # The feed's phones tell its region better than the configured locale.
    phone_regions = Counter(
        phones.region_of(e)
        for c in columns
        if c.role == "phone" and not c.masked
        for e in (_phone_of(v, region) for v in c.values[:200])
        if e
    )
    if phone_regions:
        region = phone_regions.most_common(1)[0][0]
    for col in columns:
        _fill_stats(col, region)
    scripts = [c.script for c in columns if c.role == "name"]
    pack = latin if scripts and scripts[0] == "latin" else han
    if not scripts and locale in ("en_US",):
        pack = latin
    if locale not in ("zh_CN", "en_US") and not scripts:
        pack = load_pack(locale)
    profile = FeedProfile(
        header, rows, list(sample.indices), sample.total_rows, columns, pack, region
    )
    serial = detect_serial(rows, sample.indices, columns)
    if serial is not None:
        columns[serial.column].role = "serial"
        profile.serial = serial
    profile.sort_keys = detect_sort_keys(rows, sample.indices, columns)
    _relations(profile)
    return profile
