"""JSON API for alerts: the same operations as `canary alerts`."""

from __future__ import annotations

from flask import Blueprint, request

from canary.alerts import destinations, outbox
from canary.errors import CanaryError
from canary.web.auth import ctx, principal, requires

bp = Blueprint("api_alerts", __name__, url_prefix="/api/alerts")


def _body() -> dict:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise CanaryError("the request body must be a JSON object")
    return data


def _names(data: dict, key: str) -> list[str]:
    value = data.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise CanaryError(f"{key} must be a list of names")
    return value


def _text(data: dict, key: str, default: str = "") -> str:
    value = data.get(key, default)
    if not isinstance(value, str):
        raise CanaryError(f"{key} must be a string")
    return value


@bp.get("/destinations")
@requires("alerts:read")
def list_destinations():
    c = ctx()
    with c.db.session() as session:
        return {
            "destinations": [
                destinations.describe(c.keys, session, d)
                for d in destinations.list_destinations(session)
            ]
        }


@bp.post("/destinations")
@requires("alerts:write")
def add_destination():
    """Create a destination; a webhook's signing secret is in this answer only."""
    data = _body()
    kind = _text(data, "kind", "webhook")
    url = _text(data, "url")
    target: str | dict = url
    if kind == "email":
        smtp = data.get("smtp") or {}
        if not isinstance(smtp, dict):
            raise CanaryError("smtp must be an object with host, port, from, username, password")
        port = smtp.get("port")
        if port is not None and (isinstance(port, bool) or not isinstance(port, int)):
            raise CanaryError("smtp.port must be a whole number")
        target = destinations.email_target(
            url,
            host=_text(smtp, "host"),
            port=port,
            sender=_text(smtp, "from"),
            starttls=bool(smtp.get("starttls", True)),
            ssl=bool(smtp.get("ssl", False)),
            username=_text(smtp, "username"),
            password=_text(smtp, "password"),
        )
    min_confidence = data.get("min_confidence")
    if min_confidence is not None and (
        isinstance(min_confidence, bool) or not isinstance(min_confidence, (int, float))
    ):
        raise CanaryError("min_confidence must be a number between 0 and 1")
    c = ctx()
    with c.db.session() as session:
        dest, secret = destinations.add(
            session,
            c.keys,
            _text(data, "name"),
            kind,
            target,
            feeds=_names(data, "feeds"),
            holders=_names(data, "holders"),
            min_confidence=min_confidence,
            actor=principal().actor,
        )
        result = destinations.describe(c.keys, session, dest)
    return {**result, "signing_secret": secret}, 201


@bp.post("/destinations/<ref>/enabled")
@requires("alerts:write")
def set_enabled(ref: str):
    enabled = _body().get("enabled")
    if not isinstance(enabled, bool):
        raise CanaryError("enabled must be true or false")
    c = ctx()
    with c.db.session() as session:
        dest = destinations.set_enabled(session, ref, enabled, actor=principal().actor)
        return destinations.describe(c.keys, session, dest)


@bp.delete("/destinations/<ref>")
@requires("alerts:write")
def remove_destination(ref: str):
    with ctx().db.session() as session:
        destinations.remove(session, ref, actor=principal().actor)
    return {"removed": ref}


@bp.post("/destinations/<ref>/test")
@requires("alerts:write")
def test_destination(ref: str):
    """Send a test delivery now; 200 with ok=false if the receiver refused it."""
    delivery, result = outbox.send_test(ctx(), ref, actor=principal().actor)
    return {**delivery, "ok": result.ok}


@bp.get("/deliveries")
@requires("alerts:read")
def list_deliveries():
    status = request.args.get("status") or None
    if request.args.get("dead") in ("1", "true", "yes"):
        status = "dead"
    incident = request.args.get("incident")
    try:
        incident_id = int(incident) if incident else None
        limit = int(request.args.get("limit", 200))
    except ValueError:
        raise CanaryError("incident and limit must be whole numbers") from None
    with ctx().db.session() as session:
        rows = outbox.deliveries(session, status=status, incident_id=incident_id, limit=limit)
        return {"deliveries": [outbox.describe(d) for d in rows]}


@bp.post("/deliveries/<int:delivery_id>/redeliver")
@requires("alerts:write")
def redeliver(delivery_id: int):
    c = ctx()
    with c.db.session() as session:
        delivery = outbox.redeliver(session, delivery_id, principal().actor, at=c.clock())
        return outbox.describe(delivery)
