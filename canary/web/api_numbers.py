"""JSON API for the number pool: the same operations as `canary numbers`."""

from __future__ import annotations

import re

from flask import Blueprint

from canary.errors import CanaryError
from canary.telephony import allowlist, lifecycle, numbers, pool
from canary.web.auth import ctx, principal, requires
from canary.web.inputs import json_object, number, optional_text, text, whole

bp = Blueprint("api_numbers", __name__, url_prefix="/api/numbers")

_COUNTRY = re.compile(r"[A-Za-z]{2}")
_AREA_CODE = re.compile(r"[0-9]{1,6}")


def _one(point) -> dict:
    c = ctx()
    return {
        "id": point.id,
        "number": pool.number_of(c, point),
        "forwards_to": pool.forwards_to_of(c, point),
        "state": point.state,
        "provider": point.provider,
        "provider_sid": point.provider_sid,
        "quarantine_until": point.quarantine_until.isoformat() if point.quarantine_until else None,
        "cost_per_month": point.cost_per_month,
        "currency": point.currency,
    }


@bp.get("")
@requires("numbers:read")
def list_numbers():
    """State, background rate and cost of each number; never which canary uses it.

    Only those who may read canaries see the numbers in full: every pool number is a
    canary's phone, so a full list would let an operator strip the canary rows.
    """
    with ctx().db.session() as session:
        rows = lifecycle.describe(session, ctx(), ctx().clock())
    if not principal().can("canaries:read"):
        for row in rows:
            row["number"] = pool.hint(row["number"])
    return {"numbers": rows}


@bp.post("")
@requires("numbers:write")
def add_number():
    data = json_object()
    with ctx().db.session() as session:
        point = pool.add_number(
            session,
            ctx(),
            text(data, "number"),
            forwards_to=optional_text(data, "forwards_to"),
            provider=text(data, "provider", "manual"),
            cost_per_month=number(data, "cost_per_month", 0.0),
            currency=text(data, "currency", "USD"),
            quarantine_days=whole(data, "quarantine_days", maximum=3650),
            actor=principal().actor,
        )
        return _one(point), 201


@bp.post("/buy")
@requires("numbers:write")
def buy_number():
    data = json_object()
    country = text(data, "country")
    if not _COUNTRY.fullmatch(country):
        raise CanaryError("country must be a two-letter ISO country code, e.g. US")
    area_code = data.get("area_code")
    if isinstance(area_code, int) and not isinstance(area_code, bool):
        area_code = str(area_code)
    elif area_code is not None and not isinstance(area_code, str):
        raise CanaryError("area_code must be digits")
    if area_code and not _AREA_CODE.fullmatch(area_code):
        raise CanaryError("area_code must be 1 to 6 digits")
    with ctx().db.session() as session:
        point = numbers.buy(
            session,
            ctx(),
            country=country,
            number_type=text(data, "type", "local"),
            area_code=area_code or None,
            contains=optional_text(data, "contains"),
            cost_per_month=number(data, "cost_per_month", None),
            actor=principal().actor,
        )
        return _one(point), 201


@bp.post("/release")
@requires("numbers:write")
def release_number():
    data = json_object()
    with ctx().db.session() as session:
        point = numbers.release(session, ctx(), text(data, "number"), actor=principal().actor)
        return _one(point)


@bp.post("/cooldown")
@requires("numbers:write")
def cooldown_number():
    data = json_object()
    days = whole(data, "days", maximum=3650)
    with ctx().db.session() as session:
        point = lifecycle.find(session, ctx(), text(data, "number"))
        lifecycle.start_cooldown(session, ctx(), point.id, days=days, actor=principal().actor)
        return _one(point)


@bp.post("/allowlist")
@requires("numbers:write")
def allow_caller():
    data = json_object()
    with ctx().db.session() as session:
        row = allowlist.allow(
            session,
            ctx(),
            text(data, "number"),
            label=text(data, "label"),
            actor=principal().actor,
        )
        return {"id": row.id, "label": row.label}, 201


@bp.get("/allowlist")
@requires("numbers:read")
def list_allowlist():
    with ctx().db.session() as session:
        return {
            "allowlist": [
                {"id": r.id, "label": r.label, "added_at": r.added_at.isoformat()}
                for r in allowlist.entries(session)
            ]
        }
