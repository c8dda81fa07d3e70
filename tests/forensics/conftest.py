"""A small world for scan tests: two hospitals' feeds, copies for a clerk and a partner,
pool numbers shared between canaries, canaries stored through the real registry."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest

from canary.canaries import registry
from canary.flow import service as flow
from canary.telephony import pool

T0 = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)

# Shared pool: numbers A and B each carry several canaries (different copies).
NUMBER_A = "+8613912345678"
NUMBER_B = "+8615987654321"
NUMBER_C = "+8618611112222"  # carried by one canary only


@dataclass
class World:
    copies: dict[str, int]
    canaries: dict[str, int]


PERSONAS = {
    # key: (copy, period, number, name, birth_date, id_number)
    "wang": ("clerk", "2026-W45", NUMBER_A, "王晓芳", "2026-10-28", "31010119920315452X"),
    "li": ("partner", "2026-W45", NUMBER_A, "李娜", "2026-10-30", ""),
    "zhang": ("clerk", "2026-W46", NUMBER_B, "张丽华", "2026-11-03", ""),
    "lv": ("partner", "2026-W46", NUMBER_B, "吕秀英", "2026-11-05", ""),
    "ouyang": ("clerk", "2026-W46", NUMBER_C, "欧阳静", "2026-11-06", ""),
}


@pytest.fixture
def world(context) -> World:
    with context.db.session() as s:
        flow.add_source(s, "Ruijin Hospital", "test")
        flow.add_feed(s, "ruijin-births", "test", source="Ruijin Hospital")
        clerk = flow.add_holder(s, "clerk Zhou", "test", receives=["ruijin-births"])
        partner = flow.add_holder(s, "photo studio", "test", receives=["ruijin-births"])
        s.flush()
        copies = {
            "clerk": flow.ensure_copy(s, clerk.copies[0].feed, clerk, "test").id,
            "partner": flow.ensure_copy(s, partner.copies[0].feed, partner, "test").id,
        }
    points = {}
    with context.db.session() as s:
        for number in (NUMBER_A, NUMBER_B, NUMBER_C):
            points[number] = pool.add_number(s, context, number, quarantine_days=0, actor="test").id
    ids = {}
    with context.db.session() as s:
        for slot, (key, (copy, period, number, name, birth, id_number)) in enumerate(
            PERSONAS.items()
        ):
            persona = {"name": name, "birth_date": birth, "hospital": "瑞金医院"}
            if id_number:
                persona["id_number"] = id_number
            row = {"产妇姓名": name, "联系电话": number[3:], "出生日期": birth}
            canary = registry.store(
                s,
                context.keys,
                copy_id=copies[copy],
                period=period,
                slot=slot,
                row=row,
                persona=persona,
                contact_point_ids=[points[number]],
                live_from=T0,
            )
            ids[key] = canary.id
    return World(copies, ids)


@pytest.fixture
def admin():
    from canary.security.tokens import SYSTEM

    return SYSTEM
