"""JSON API for the data-flow map and tokens. Other areas add their own api_* blueprints."""

from __future__ import annotations

from flask import Blueprint, request

from canary.errors import CanaryError
from canary.flow import service as flow
from canary.web.auth import ctx, principal, requires

bp = Blueprint("api", __name__, url_prefix="/api")


def body() -> dict:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise CanaryError("the request body must be a JSON object")
    return data


@bp.get("/map")
@requires("map:read")
def get_map():
    with ctx().db.session() as session:
        return flow.map_snapshot(session)


@bp.post("/sources")
@requires("map:write")
def post_source():
    data = body()
    with ctx().db.session() as session:
        source = flow.add_source(
            session, data.get("name", ""), principal().actor, data.get("kind", "hospital")
        )
        return {"id": source.id, "name": source.name}, 201


@bp.post("/feeds")
@requires("map:write")
def post_feed():
    data = body()
    with ctx().db.session() as session:
        feed = flow.add_feed(
            session,
            data.get("name", ""),
            principal().actor,
            source=data.get("source"),
            fmt=data.get("format", "csv"),
            column_map=data.get("column_map") or {},
            locale=data.get("locale", ctx().settings.locale),
            produced_by=data.get("produced_by"),
            sheet=data.get("sheet", ""),
            inbox_dir=data.get("inbox_dir", ""),
        )
        return {"id": feed.id, "name": feed.name, "column_map": feed.column_map}, 201


@bp.post("/holders")
@requires("map:write")
def post_holder():
    data = body()
    with ctx().db.session() as session:
        holder = flow.add_holder(
            session,
            data.get("name", ""),
            principal().actor,
            receives=data.get("receives") or [],
            from_holders=data.get("from") or [],
            kind=data.get("kind", "internal"),
            outbox_dir=data.get("outbox_dir", ""),
        )
        return {"id": holder.id, "name": holder.name}, 201


@bp.post("/copies")
@requires("map:write")
def post_copy():
    data = body()
    with ctx().db.session() as session:
        feed = flow.get_feed(session, data.get("feed", ""))
        holder = flow.get_holder(session, data.get("holder", ""))
        copy = flow.ensure_copy(session, feed, holder, principal().actor)
        return {"id": copy.id, "feed": feed.name, "holder": holder.name}, 201


@bp.post("/links")
@requires("map:write")
def post_link():
    data = body()
    with ctx().db.session() as session:
        link = flow.link_holders(
            session, data.get("from", ""), data.get("to", ""), principal().actor
        )
        return {"id": link.id}, 201


@bp.get("/canaries")
@requires("canaries:read")
def list_canaries():
    """The registry. Admin only; every call is audited."""
    from canary.canaries import registry

    copy_id = request.args.get("copy_id", type=int)
    period = request.args.get("period") or None
    with ctx().db.session() as session:
        return {
            "canaries": registry.list_canaries(session, ctx().keys, principal(), copy_id, period)
        }


@bp.get("/canaries/<int:canary_id>")
@requires("canaries:read")
def get_canary(canary_id: int):
    from canary.canaries import registry

    with ctx().db.session() as session:
        return registry.read(session, ctx().keys, principal(), canary_id)


@bp.get("/audit")
@requires("audit:read")
def get_audit():
    from canary.security import audit

    with ctx().db.session() as session:
        rows = audit.entries(
            session, request.args.get("action") or None, request.args.get("limit", 200, type=int)
        )
        return {
            "entries": [
                {
                    "id": e.id,
                    "at": e.at.isoformat(),
                    "actor": e.actor,
                    "action": e.action,
                    "subject": f"{e.subject_type}:{e.subject_id}",
                    "outcome": e.outcome,
                    "detail": e.detail,
                }
                for e in rows
            ]
        }
