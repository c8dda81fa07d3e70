"""JSON API for the number pool: the same operations as `canary numbers`."""

from __future__ import annotations

from flask import Blueprint, request

from canary.errors import CanaryError
from canary.telephony import allowlist, lifecycle, numbers, pool
from canary.web.auth import ctx, principal, requires

bp = Blueprint("api_numbers", __name__, url_prefix="/api/numbers")


def _body() -> dict:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise CanaryError("the request body must be a JSON object")
    return data


def _float(data: dict, key: str, default: float | None) -> float | None:
    value = data.get(key, default)
    if value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        raise CanaryError(f"{key} must be a number") from None


def _int(data: dict, key: str) -> int | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise CanaryError(f"{key} must be a whole number")
    return value


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
    """State, background rate and cost of each number; never which canary uses it."""
    with ctx().db.session() as session:
        return {"numbers": lifecycle.describe(session, ctx(), ctx().clock())}


@bp.post("")
@requires("numbers:write")
def add_number():
    data = _body()
    with ctx().db.session() as session:
        point = pool.add_number(
            session,
            ctx(),
            str(data.get("number", "")),
            forwards_to=data.get("forwards_to") or None,
            provider=str(data.get("provider", "manual")),
            cost_per_month=_float(data, "cost_per_month", 0.0),
            currency=str(data.get("currency", "USD")),
            quarantine_days=_int(data, "quarantine_days"),
            actor=principal().actor,
        )
        return _one(point), 201


@bp.post("/buy")
@requires("numbers:write")
def buy_number():
    data = _body()
    with ctx().db.session() as session:
        point = numbers.buy(
            session,
            ctx(),
            country=str(data.get("country", "")),
            number_type=str(data.get("type", "local")),
            area_code=str(data["area_code"]) if data.get("area_code") else None,
            contains=str(data["contains"]) if data.get("contains") else None,
            cost_per_month=_float(data, "cost_per_month", None),
            actor=principal().actor,
        )
        return _one(point), 201


@bp.post("/release")
@requires("numbers:write")
def release_number():
    data = _body()
    with ctx().db.session() as session:
        point = numbers.release(
            session, ctx(), str(data.get("number", "")), actor=principal().actor
        )
        return _one(point)


@bp.post("/cooldown")
@requires("numbers:write")
def cooldown_number():
    data = _body()
    with ctx().db.session() as session:
        point = lifecycle.find(session, ctx(), str(data.get("number", "")))
        lifecycle.start_cooldown(
            session, ctx(), point.id, days=_int(data, "days"), actor=principal().actor
        )
        return _one(point)


@bp.post("/allowlist")
@requires("numbers:write")
def allow_caller():
    data = _body()
    with ctx().db.session() as session:
        row = allowlist.allow(
            session,
            ctx(),
            str(data.get("number", "")),
            label=str(data.get("label", "")),
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
