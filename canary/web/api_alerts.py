"""JSON API for alerts: the same operations as `canary alerts`."""

from __future__ import annotations

from flask import Blueprint

from canary.alerts import destinations, outbox
from canary.errors import CanaryError, NotFound
from canary.web.auth import ctx, principal, requires
from canary.web.inputs import flag, json_object, names, query_int, query_text, text, whole

bp = Blueprint("api_alerts", __name__, url_prefix="/api/alerts")


def _ref(ref: str) -> str:
    """A destination's name or id from the path (NUL cannot be stored, so names none)."""
    if "\x00" in ref or len(ref) > 200:
        raise NotFound(f"no destination {ref[:50]!r}; list them with GET /api/alerts/destinations")
    return ref


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
    data = json_object()
    kind = text(data, "kind", "webhook")
    url = text(data, "url")
    target: str | dict = url
    if kind == "email":
        smtp = data.get("smtp") or {}
        if not isinstance(smtp, dict):
            raise CanaryError("smtp must be an object with host, port, from, username, password")
        target = destinations.email_target(
            url,
            host=text(smtp, "host"),
            port=whole(smtp, "port", minimum=1, maximum=65535),
            sender=text(smtp, "from"),
            starttls=flag(smtp, "starttls", True),
            ssl=flag(smtp, "ssl", False),
            username=text(smtp, "username"),
            password=text(smtp, "password"),
        )
    min_confidence = data.get("min_confidence")
    if min_confidence is not None and (
        isinstance(min_confidence, bool)
        or not isinstance(min_confidence, (int, float))
        or not 0 <= min_confidence <= 1
    ):
        raise CanaryError("min_confidence must be a number between 0 and 1")
    c = ctx()
    with c.db.session() as session:
        dest, secret = destinations.add(
            session,
            c.keys,
            text(data, "name"),
            kind,
            target,
            feeds=names(data, "feeds"),
            holders=names(data, "holders"),
            min_confidence=min_confidence,
            actor=principal().actor,
        )
        result = destinations.describe(c.keys, session, dest)
    return {**result, "signing_secret": secret}, 201


@bp.post("/destinations/<ref>/enabled")
@requires("alerts:write")
def set_enabled(ref: str):
    enabled = json_object().get("enabled")
    if not isinstance(enabled, bool):
        raise CanaryError("enabled must be true or false")
    c = ctx()
    with c.db.session() as session:
        dest = destinations.set_enabled(session, _ref(ref), enabled, actor=principal().actor)
        return destinations.describe(c.keys, session, dest)


@bp.delete("/destinations/<ref>")
@requires("alerts:write")
def remove_destination(ref: str):
    with ctx().db.session() as session:
        destinations.remove(session, _ref(ref), actor=principal().actor)
    return {"removed": ref}


@bp.post("/destinations/<ref>/test")
@requires("alerts:write")
def test_destination(ref: str):
    """Send a test delivery now; 200 with ok=false if the receiver refused it."""
    delivery, result = outbox.send_test(ctx(), _ref(ref), actor=principal().actor)
    return {**delivery, "ok": result.ok}


@bp.get("/deliveries")
@requires("alerts:read")
def list_deliveries():
    status = query_text("status")
    if query_text("dead") in ("1", "true", "yes"):
        status = "dead"
    incident_id = query_int("incident")
    limit = query_int("limit", 200)
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
