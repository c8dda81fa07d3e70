import datetime as dt
from pathlib import Path

from sqlalchemy import text

from canary.canaries import registry
from canary.flow import service as flow
from canary.security import audit


def _one_canary(context):
    with context.db.session() as s:
        flow.add_source(s, "h", "t")
        flow.add_feed(s, "f", "t", source="h")
        holder = flow.add_holder(s, "clerk", "t")
        copy = flow.ensure_copy(s, flow.get_feed(s, "f"), holder, "t")
        canary = registry.store(
            s,
            context.keys,
            copy_id=copy.id,
            period="2026-W48",
            slot=0,
            row={"产妇姓名": "陈雨桐", "联系电话": "13912345678"},
            persona={"name": "陈雨桐", "phone": "+8613912345678"},
            contact_point_ids=[],
            live_from=dt.datetime(2026, 11, 23, tzinfo=dt.UTC),
        )
        return canary.id


def test_database_never_holds_a_canary_phone_or_name_in_clear(context, settings):
    _one_canary(context)
    with context.db.engine.connect() as conn:
        blobs = [bytes(r[0]) for r in conn.execute(text("SELECT fields_enc FROM canary"))]
    assert blobs and all(b"13912345678" not in b and "陈雨桐".encode() not in b for b in blobs)
    if settings.resolved_database_url.startswith("sqlite"):
        context.db.dispose()
        db_path = Path(settings.resolved_database_url.split("///", 1)[1])
        raw = db_path.read_bytes()
        wal = db_path.with_name(db_path.name + "-wal")
        raw += wal.read_bytes() if wal.exists() else b""
        assert b"13912345678" not in raw and "陈雨桐".encode() not in raw


def test_operator_token_cannot_list_or_read_canaries_and_refusal_is_audited(
    client, context, operator_token
):
    canary_id = _one_canary(context)
    auth = {"Authorization": f"Bearer {operator_token}"}
    assert client.get("/api/canaries", headers=auth).status_code == 403
    assert client.get(f"/api/canaries/{canary_id}", headers=auth).status_code == 403
    with context.db.session() as s:
        denied = audit.entries(s, "permission.denied")
    assert len(denied) == 2 and all(e.subject_id == "canaries:read" for e in denied)


def test_admin_read_is_audited(client, context, admin_token):
    canary_id = _one_canary(context)
    r = client.get(f"/api/canaries/{canary_id}", headers={"Authorization": f"Bearer {admin_token}"})
    assert r.status_code == 200 and r.json["row"]["产妇姓名"] == "陈雨桐"
    with context.db.session() as s:
        reads = audit.entries(s, "canary.read")
    assert [e.subject_id for e in reads] == [str(canary_id)]


def test_analyst_cannot_read_registry(client, context, analyst_token):
    _one_canary(context)
    assert (
        client.get(
            "/api/canaries", headers={"Authorization": f"Bearer {analyst_token}"}
        ).status_code
        == 403
    )
