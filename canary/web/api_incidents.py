"""JSON API for incidents. Analysts read with incidents:read, change with incidents:write."""

from __future__ import annotations

from flask import Blueprint, request

from canary.attribution import lifecycle, views
from canary.errors import CanaryError
from canary.web.auth import ctx, principal, requires
from canary.web.inputs import json_object, query_int, query_text, text

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
    limit = query_int("limit", 200)
    with ctx().db.session() as session:
        return {"incidents": views.list_incidents(session, query_text("status"), limit)}


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
        raise CanaryError(f"unknown action {action[:50]!r}; use ack, resolve or false-positive")
    # The body is optional: {"reason": "..."} or nothing at all.
    reason = text(json_object(), "reason") if request.get_data(cache=True).strip() else ""
    with ctx().db.session() as session:
        incident = function(session, ctx(), incident_id, principal().actor, reason)
        return views.summary(session, incident)
