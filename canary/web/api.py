"""JSON API for the data-flow map and tokens. Other areas add their own api_* blueprints."""

from __future__ import annotations

from flask import Blueprint

from canary.flow import service as flow
from canary.security.tokens import require
from canary.web.auth import ctx, principal, requires
from canary.web.inputs import (
    json_object,
    mapping,
    names,
    optional_text,
    query_int,
    query_text,
    text,
)

bp = Blueprint("api", __name__, url_prefix="/api")


@bp.get("/map")
@requires("map:read")
def get_map():
    with ctx().db.session() as session:
        return flow.map_snapshot(session)


@bp.post("/sources")
@requires("map:write")
def post_source():
    data = json_object()
    with ctx().db.session() as session:
        source = flow.add_source(
            session, text(data, "name"), principal().actor, text(data, "kind", "hospital")
        )
        return {"id": source.id, "name": source.name}, 201


def _server_folder(session, data: dict, key: str) -> str:
    """A folder on the server that canary will write into (watched inboxes, outboxes).
    Only admins may choose one: an operator could otherwise aim copies at any path."""
    folder = text(data, key)
    if folder:
        require(session, principal(), "folders:write", subject=key)
    return folder


@bp.post("/feeds")
@requires("map:write")
def post_feed():
    data = json_object()
    with ctx().db.session() as session:
        feed = flow.add_feed(
            session,
            text(data, "name"),
            principal().actor,
            source=optional_text(data, "source"),
            fmt=text(data, "format", "csv"),
            column_map=mapping(data, "column_map"),
            locale=text(data, "locale", ctx().settings.locale),
            produced_by=optional_text(data, "produced_by"),
            sheet=text(data, "sheet"),
            inbox_dir=_server_folder(session, data, "inbox_dir"),
        )
        return {"id": feed.id, "name": feed.name, "column_map": feed.column_map}, 201


@bp.post("/holders")
@requires("map:write")
def post_holder():
    data = json_object()
    with ctx().db.session() as session:
        holder = flow.add_holder(
            session,
            text(data, "name"),
            principal().actor,
            receives=names(data, "receives"),
            from_holders=names(data, "from"),
            kind=text(data, "kind", "internal"),
            outbox_dir=_server_folder(session, data, "outbox_dir"),
        )
        return {"id": holder.id, "name": holder.name}, 201


@bp.post("/copies")
@requires("map:write")
def post_copy():
    data = json_object()
    with ctx().db.session() as session:
        feed = flow.get_feed(session, text(data, "feed"))
        holder = flow.get_holder(session, text(data, "holder"))
        copy = flow.ensure_copy(session, feed, holder, principal().actor)
        return {"id": copy.id, "feed": feed.name, "holder": holder.name}, 201


@bp.post("/links")
@requires("map:write")
def post_link():
    data = json_object()
    with ctx().db.session() as session:
        link = flow.link_holders(session, text(data, "from"), text(data, "to"), principal().actor)
        return {"id": link.id}, 201


@bp.get("/canaries")
@requires("canaries:read")
def list_canaries():
    """The registry. Admin only; every call is audited."""
    from canary.canaries import registry

    copy_id = query_int("copy_id")
    period = query_text("period")
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
            session, query_text("action"), query_int("limit", 200, minimum=1, maximum=10_000)
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
