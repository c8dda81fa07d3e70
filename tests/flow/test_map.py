import pytest

from canary.errors import AlreadyExists, CanaryError, NotFound
from canary.flow import service as flow


def test_feed_added_twice_names_the_existing_one(context):
    with context.db.session() as s:
        flow.add_source(s, "仁济医院", "t")
        flow.add_feed(s, "renji-daily", "t", source="仁济医院", column_map=["phone=联系电话"])
    with context.db.session() as s, pytest.raises(AlreadyExists, match="renji-daily.*id 1"):
        flow.add_feed(s, "renji-daily", "t", source="仁济医院")


def test_unknown_role_in_column_map_is_refused(context):
    with context.db.session() as s:
        flow.add_source(s, "h", "t")
        with pytest.raises(CanaryError, match="unknown column role"):
            flow.add_feed(s, "f", "t", source="h", column_map=["colour=x"])


def test_holder_receives_feed_and_downstream_follows_links(context):
    with context.db.session() as s:
        flow.add_source(s, "h", "t")
        flow.add_feed(s, "f", "t", source="h")
        hq = flow.add_holder(s, "head-office", "t", receives=["f"])
        flow.add_holder(s, "clerk", "t", from_holders=["head-office"])
        flow.add_holder(s, "buyer", "t", from_holders=["clerk"])
        names = {flow.get_holder(s, n).id: n for n in ("head-office", "clerk", "buyer")}
        reach = {names[i] for i in flow.downstream_of(s, hq.id)}
        snap = flow.map_snapshot(s)
    assert reach == {"head-office", "clerk", "buyer"}
    assert snap["copies"] == [{"id": 1, "feed": "f", "holder": "head-office"}]


def test_missing_source_is_not_found(context):
    with context.db.session() as s, pytest.raises(NotFound):
        flow.add_feed(s, "f", "t", source="nowhere")


def test_api_creates_map_and_rejects_duplicate_with_409(client, operator_token):
    auth = {"Authorization": f"Bearer {operator_token}"}
    assert client.post("/api/sources", json={"name": "h"}, headers=auth).status_code == 201
    r = client.post(
        "/api/feeds",
        json={"name": "f", "source": "h", "column_map": {"phone": "电话"}},
        headers=auth,
    )
    assert r.status_code == 201
    assert (
        client.post(
            "/api/holders", json={"name": "hq", "receives": ["f"]}, headers=auth
        ).status_code
        == 201
    )
    dup = client.post("/api/holders", json={"name": "hq"}, headers=auth)
    assert dup.status_code == 409 and "already exists" in dup.json["message"]
    assert client.get("/api/map", headers=auth).json["copies"][0]["holder"] == "hq"


def test_api_requires_a_token(client):
    assert client.get("/api/map").status_code == 401


def test_only_an_admin_chooses_server_folders_over_the_api(client, operator_token, admin_token):
    op = {"Authorization": f"Bearer {operator_token}"}
    admin = {"Authorization": f"Bearer {admin_token}"}
    assert client.post("/api/sources", json={"name": "h"}, headers=op).status_code == 201
    aimed = client.post("/api/holders", json={"name": "x", "outbox_dir": "/etc"}, headers=op)
    assert aimed.status_code == 403
    feed = {"name": "f", "source": "h", "inbox_dir": "/srv/in", "column_map": {"phone": "电话"}}
    assert client.post("/api/feeds", json=feed, headers=op).status_code == 403
    assert client.post("/api/feeds", json=feed, headers=admin).status_code == 201
    plain = client.post("/api/holders", json={"name": "x", "receives": ["f"]}, headers=op)
    assert plain.status_code == 201
    denied = client.get("/api/audit", headers=admin).json
    assert "folders:write" in str(denied)
