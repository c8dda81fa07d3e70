"""JSON API for incidents. Analysts read with incidents:read, change with incidents:write."""

from __future__ import annotations

from flask import Blueprint, request

from canary.attribution import lifecycle, views
from canary.errors import CanaryError
from canary.web.auth import ctx, principal, requires

bp = Blueprint("api_incidents", __name__, url_prefix="/api/incidents")

_ACTIONS = {
    "ack": lifecycle.acknowledge,
    "acknowledge": lifecycle.acknowledge,
    "resolve": lifecycle.resolve,
    "false-positive": lifecycle.mark_false_positive,
}


@bp.get("")
@requires("incidents:read")
def list_incidents():
    try:
        limit = int(request.args.get("limit", 200))
    except ValueError as exc:
        raise CanaryError("limit must be a whole number") from exc
    with ctx().db.session() as session:
        return {"incidents": views.list_incidents(session, request.args.get("status"), limit)}


@bp.get("/<int:incident_id>")
@requires("incidents:read")
def show(incident_id: int):
    with ctx().db.session() as session:
        return views.detail(session, lifecycle.get(session, incident_id))


@bp.post("/<int:incident_id>/<action>")
@requires("incidents:write")
def change(incident_id: int, action: str):
    function = _ACTIONS.get(action)
    if function is None:
        raise CanaryError(f"unknown action {action!r}; use ack, resolve or false-positive")
    data = request.get_json(silent=True)
    reason = data.get("reason", "") if isinstance(data, dict) else ""
    if not isinstance(reason, str):
        raise CanaryError("reason must be text")
    with ctx().db.session() as session:
        incident = function(session, ctx(), incident_id, principal().actor, reason)
        return views.summary(session, incident)
