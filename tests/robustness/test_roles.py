"""Tokens and roles: missing, invalid or revoked tokens get 401; the wrong role 403,
and the refusal is audited. An operator never sees canaries; an analyst never injects."""

from __future__ import annotations

import io

import pytest

from canary.security import tokens
from tests.robustness.conftest import assert_clear_error

BAD_HEADERS = [None, "", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Bearer cnr_wrong",
               "Bearer \x00", "bearer " + "x" * 10_000, "Bearer cnr_é"]  # fmt: skip


def test_missing_or_invalid_tokens_are_401(client):
    for header in BAD_HEADERS:
        headers = {} if header is None else {"Authorization": header}
        for url in ("/api/map", "/api/canaries", "/api/incidents", "/api/numbers"):
            assert_clear_error(client.get(url, headers=headers), 401)


def test_a_revoked_token_is_refused(context, client):
    with context.db.session() as session:
        row, plaintext = tokens.create_token(session, "admin", "soon-revoked", "test")
        token_id = row.id
    auth = {"Authorization": f"Bearer {plaintext}"}
    assert client.get("/api/map", headers=auth).status_code == 200
    with context.db.session() as session:
        tokens.revoke_token(session, token_id, "test")
    assert_clear_error(client.get("/api/map", headers=auth), 401)


@pytest.mark.parametrize(
    "url", ["/api/canaries", "/api/canaries/1", "/api/canaries?copy_id=1", "/api/audit"]
)
def test_an_operator_never_lists_or_reads_canaries(call, url):
    resp = call("GET", url, "operator")
    assert_clear_error(resp, 403)
    assert "canar" not in resp.get_data(as_text=True).lower().replace("canaries:read", "")


def test_an_operator_refusal_is_audited(call):
    call("GET", "/api/canaries/1", "operator")
    entries = call("GET", "/api/audit?action=permission.denied").get_json()["entries"]
    assert any(e["outcome"] == "denied" and e["actor"].endswith("test-operator") for e in entries)


def test_an_analyst_may_not_inject_or_change_the_pool(call, pool):
    resp = call(
        "POST",
        "/api/inject",
        "analyst",
        data={"file": (io.BytesIO(b"a,b\n1,2\n"), "d.csv"), "feed": "daily", "holders": "clerk"},
        content_type="multipart/form-data",
    )
    assert_clear_error(resp, 403)
    for url in ("/api/numbers", "/api/numbers/release", "/api/canaries"):
        method = "GET" if url == "/api/canaries" else "POST"
        assert_clear_error(call(method, url, "analyst", json={"number": "+8613800000001"}), 403)


def test_role_checks_come_before_input_checks(call):
    """A refused caller learns nothing from validation messages."""
    resp = call(
        "POST", "/api/scan", "operator", data=b"[" * 50_000, content_type="application/json"
    )
    assert_clear_error(resp, 403)
    resp = call("POST", "/api/sources", None, data=b"\xff", content_type="application/json")
    assert_clear_error(resp, 401)


def test_every_api_route_requires_a_token(app, client):
    """A new endpoint that forgets @requires fails here."""
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/"):
            continue
        url = rule.rule
        for name in ("int:incident_id", "int:canary_id", "int:delivery_id", "ref", "action"):
            url = url.replace(f"<{name}>", "1")
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            resp = client.open(url, method=method, json={})
            assert_clear_error(resp, 401)
