"""The index a scan matches against: every canary's fields in every written form.

Canaries are read through the registry (``system_read``, audited with the scanning
principal as purpose). Pool numbers are shared between canaries (each copy's codeword
uses a few numbers out of a small pool), so a phone anchor points at a *number*, and
the canaries behind it are told apart later by the persona fields on the same record.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from canary.canaries import registry
from canary.canaries.models import Canary
from canary.context import Context
from canary.forensics import variants
from canary.forensics.engine import Pattern
from canary.forensics.variants import NameForm, PhoneForm
from canary.security.tokens import Principal, require
from canary.telephony import pool
from canary.telephony.models import ContactPoint

NAME_KEYS = ("name", "mother_name", "full_name", "patient_name")
ID_KEY_HINTS = ("id_number", "id_card", "idcard", "national_id", "resident_id", "身份证")


@dataclass
class Profile:
    """What one canary looks like in a file."""

    canary_id: int
    copy_id: int
    period: str
    numbers: tuple[str, ...]  # E.164 pool numbers it carries
    name: NameForm | None
    dates: frozenset[dt.date]
    ids: frozenset[str]
    # Dates rendered as bytes: a cheap test before a name-only line is decoded.
    date_bytes: tuple[bytes, ...] = ()


@dataclass
class Target:
    """What an anchor points at."""

    numbers: set[str] = field(default_factory=set)  # phone anchors: E.164 numbers
    canaries: set[int] = field(default_factory=set)  # name anchors
    by_id: set[int] = field(default_factory=set)  # ID-number anchors


@dataclass
class CanaryIndex:
    profiles: dict[int, Profile]
    phones: dict[str, PhoneForm]
    canaries_on: dict[str, frozenset[int]]  # E.164 -> canaries carrying it
    patterns: list[Pattern]
    targets: list[Target]

    @property
    def empty(self) -> bool:
        return not self.patterns


def _dates(persona: dict) -> frozenset[dt.date]:
    """Every date of the persona: ``birth_date`` and the like, and the forger's
    ``dates`` map (column header -> ISO date: delivery, admission, discharge...)."""
    out = set()
    for key, value in persona.items():
        low = key.lower()
        if "date" in low or "birth" in low or "生日" in low or "日期" in low:
            values = value.values() if isinstance(value, dict) else [value]
            for item in values:
                parsed = variants.parse_date(item)
                if parsed is not None:
                    out.add(parsed)
    return frozenset(out)


def _ids(persona: dict) -> frozenset[str]:
    out = set()
    for key, value in persona.items():
        if any(h in key.lower() for h in ID_KEY_HINTS) and value:
            text = "".join(ch for ch in str(value) if ch.isalnum()).upper()
            if len(text) >= 15:
                out.add(text)
    return frozenset(out)


def date_renderings(date: dt.date) -> tuple[bytes, ...]:
    y, m, d = date.year, date.month, date.day
    texts = {
        f"{y}-{m:02}-{d:02}",
        f"{y}-{m}-{d}",
        f"{y}/{m:02}/{d:02}",
        f"{y}/{m}/{d}",
        f"{y}.{m:02}.{d:02}",
        f"{y}.{m}.{d}",
        f"{y}{m:02}{d:02}",
        f"{d:02}/{m:02}/{y}",
        f"{m:02}/{d:02}/{y}",
        f"{d}/{m}/{y}",
        f"{m}/{d}/{y}",
        f"{d:02}-{m:02}-{y}",
        f"{d:02}.{m:02}.{y}",
    }
    out = {t.encode() for t in texts}
    for text in (f"{y}年{m}月{d}日", f"{y}年{m:02}月{d:02}日", f"{y}年{m}月{d}号"):
        for enc in variants.TEXT_ENCODINGS:
            out.add(text.encode(enc))
    return tuple(sorted(out))


def build(session: Session, ctx: Context, principal: Principal) -> CanaryIndex:
    """Read every canary (audited) and compile the anchors of all their fields."""
    require(session, principal, "scan", subject="scan")
    canaries = list(session.scalars(select(Canary).order_by(Canary.id)))
    views = registry.system_read(session, ctx.keys, canaries, purpose=f"scan:{principal.actor}")
    point_ids = {cp for view in views for cp in view["contact_point_ids"]}
    numbers: dict[int, str] = {}
    if point_ids:
        for point in session.scalars(
            select(ContactPoint).where(ContactPoint.id.in_(point_ids), ContactPoint.kind == "phone")
        ):
            numbers[point.id] = pool.number_of(ctx, point)
    profiles: dict[int, Profile] = {}
    on_number: dict[str, set[int]] = defaultdict(set)
    names: dict[str, NameForm | None] = {}
    for view in views:
        persona = view.get("persona") or {}
        carried = tuple(numbers[cp] for cp in view["contact_point_ids"] if cp in numbers)
        raw_name = next((str(persona[k]) for k in NAME_KEYS if persona.get(k)), "")
        if raw_name not in names:
            names[raw_name] = variants.name_form(raw_name)
        dates = _dates(persona)
        profile = Profile(
            canary_id=view["id"],
            copy_id=view["copy_id"],
            period=view["period"],
            numbers=carried,
            name=names[raw_name],
            dates=dates,
            ids=_ids(persona),
            date_bytes=tuple(b for d in sorted(dates) for b in date_renderings(d)),
        )
        profiles[profile.canary_id] = profile
        for number in carried:
            on_number[number].add(profile.canary_id)
    phones = {number: variants.phone_form(number) for number in on_number}
    patterns, targets = _compile(profiles, phones)
    return CanaryIndex(
        profiles=profiles,
        phones=phones,
        canaries_on={n: frozenset(ids) for n, ids in on_number.items()},
        patterns=patterns,
        targets=targets,
    )


def _compile(
    profiles: dict[int, Profile], phones: dict[str, PhoneForm]
) -> tuple[list[Pattern], list[Target]]:
    """One pattern per distinct literal, pointing at every number or canary it stands for."""
    table: dict[Pattern, Target] = {}

    def target(literal: bytes, caseless: bool = False) -> Target:
        return table.setdefault(Pattern(literal, caseless), Target())

    for number, form in phones.items():
        for anchor in form.anchors:
            target(anchor).numbers.add(number)
    for profile in profiles.values():
        if profile.name is not None:
            for anchor in profile.name.anchors:
                target(anchor).canaries.add(profile.canary_id)
            for anchor in profile.name.caseless_anchors:
                target(anchor, True).canaries.add(profile.canary_id)
        for id_number in profile.ids:
            for anchor in variants.id_anchors(id_number):
                target(anchor, True).by_id.add(profile.canary_id)
    patterns = list(table)
    return patterns, [table[p] for p in patterns]
