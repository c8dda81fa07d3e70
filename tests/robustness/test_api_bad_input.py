"""Every API endpoint answers malformed input with a clear 4xx, never a 500.

The sweep walks app.url_map, so an endpoint added later is attacked too.
"""

from __future__ import annotations

import json

import pytest

from tests.robustness.conftest import assert_clear_error

# Bodies a client can send by mistake or on purpose.
BAD_BODIES = [
    ("list", json.dumps([1, 2]).encode(), "application/json"),
    ("string", b'"x"', "application/json"),
    ("number", b"1e308", "application/json"),
    ("null", b"null", "application/json"),
    ("deeply nested", b"[" * 100_000 + b"]" * 100_000, "application/json"),
    ("not JSON", b"{name: 1", "application/json"),
    ("not UTF-8", b'{"name": "\xff\xfe"}', "application/json"),
    ("empty", b"", "application/json"),
    ("form", b"name=x", "application/x-www-form-urlencoded"),
    ("binary", bytes(range(256)), "application/octet-stream"),
]

# Values of the wrong type (or unstorable) for any field.
BAD_VALUES = [None, [1], {"a": {"b": [[[]]]}}, True, 10**30, 1e308, "\x00", "x\ud800", ["\udc80"]]

FIELDS = [
    "name", "kind", "source", "format", "column_map", "locale", "produced_by", "sheet",
    "inbox_dir", "receives", "from", "outbox_dir", "feed", "holder", "to", "number",
    "forwards_to", "provider", "cost_per_month", "currency", "quarantine_days", "country",
    "type", "area_code", "contains", "days", "label", "url", "smtp", "feeds", "holders",
    "min_confidence", "enabled", "reason", "path",
]  # fmt: skip

PATH_VALUES = ["0", "1", "2147483648", "99999999999999999999999", "abc", "%00", "x" * 3000]


def _routes(app):
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/static") or rule.rule.startswith("/twilio"):
            continue  # the Twilio hooks have their own owner and tests
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield method, rule.rule


def _fill(rule: str, value: str) -> str:
    out = rule
    for name in ("int:incident_id", "int:canary_id", "int:delivery_id", "ref"):
        out = out.replace(f"<{name}>", value)
    return out.replace("<action>", "ack")


def test_every_route_survives_bad_path_params_and_query_garbage(app, call):
    query = "?limit=abc&status=%ff&incident=1e9&copy_id=-1&period=%00&action=%00&dead=%ff"
    for method, rule in _routes(app):
        for value in PATH_VALUES:
            for suffix in ("", query):
                url = _fill(rule, value) + suffix
                resp = call(method, url, data=b"{}", content_type="application/json")
                assert resp.status_code < 500, (method, url, resp.get_data()[:300])


def test_every_post_survives_bad_bodies(app, call):
    for method, rule in _routes(app):
        if method not in ("POST", "DELETE"):
            continue
        url = _fill(rule, "1")
        for label, body, ctype in BAD_BODIES:
            resp = call(method, url, data=body, content_type=ctype)
            assert resp.status_code < 500, (method, url, label, resp.get_data()[:300])


def test_every_field_of_the_wrong_type_is_a_clear_4xx(app, call, pool):
    base = {"name": "n1", "url": "http://127.0.0.1:9/x", "number": "+8613800000001"}
    # /api/numbers/buy would call Twilio for every valid combination: tested apart.
    skip = ("/api/inject", "/api/numbers/buy", "/test")
    posts = [_fill(r, "1") for m, r in _routes(app) if m == "POST" and not r.endswith(skip)]
    for url in posts:
        for field in FIELDS:
            for value in BAD_VALUES:
                resp = call("POST", url, json={**base, field: value})
                assert resp.status_code < 500 or resp.status_code == 502, (
                    url,
                    field,
                    repr(value)[:40],
                    resp.get_data()[:300],
                )


@pytest.mark.parametrize(
    "url",
    [
        "/api/incidents/99999999999999999999",
        "/api/evidence/99999999999999999999/bundle",
        "/api/canaries/99999999999999999999",
        "/api/incidents/-1",
    ],
)
def test_ids_no_row_can_have_are_not_found(call, url):
    assert_clear_error(call("GET", url), 404)


@pytest.mark.parametrize("ref", ["99999999999999999999", "²", "nul%00name"])
def test_destination_refs_no_row_can_have_are_not_found(call, ref):
    for method, suffix, body in (
        ("DELETE", "", None),
        ("POST", "/enabled", {"enabled": True}),
        ("POST", "/test", None),
    ):
        resp = call(method, f"/api/alerts/destinations/{ref}{suffix}", json=body)
        assert_clear_error(resp, 404)


BAD_FIELDS = [
    ("/api/sources", {"name": ["x"]}, "name must be a string"),
    ("/api/feeds", {"name": "f", "source": {"a": 1}}, "source must be a string"),
    ("/api/feeds", {"name": "f", "source": "s", "column_map": ["phone"]}, "column_map"),
    ("/api/holders", {"name": "h", "receives": "daily"}, "receives must be a list"),
    ("/api/copies", {"feed": 10**30, "holder": "h"}, "feed must be a string"),
    ("/api/numbers", {"number": "+8613800000001", "cost_per_month": "nan"}, "finite"),
    ("/api/numbers", {"number": "+8613800000001", "cost_per_month": None}, None),
    ("/api/numbers", {"number": "+8613800000002", "quarantine_days": 10**30}, "between"),
    ("/api/numbers/buy", {"country": "US", "area_code": "../.."}, "area_code"),
    ("/api/numbers/buy", {"country": "../../etc"}, "country"),
    ("/api/numbers/cooldown", {"number": "+8613800000001", "days": "7"}, "whole number"),
    ("/api/alerts/destinations", {"name": "d", "url": "http://x", "min_confidence": 7}, "0"),
    ("/api/sources", {"name": "nul\x00name"}, "NUL"),
    ("/api/sources", {"name": "lone \ud800 surrogate"}, "not valid Unicode"),
    ("/api/holders", {"name": "h", "receives": ["F\udc80"]}, "not valid Unicode"),
    ("/api/sources", {"name": "x" * 20_000}, "longer than"),
    ("/api/sources", b"[" * 50_000 + b"]" * 50_000, "nested too deeply"),
    ("/api/sources", b'{"name": "\xff"}', "UTF-8"),
]


def test_bad_fields_get_a_message_naming_the_problem(call):
    for url, body, says in BAD_FIELDS:
        if isinstance(body, bytes):
            resp = call("POST", url, data=body, content_type="application/json")
        else:
            resp = call("POST", url, json=body)
        if says is None:  # null means "use the default"
            assert resp.status_code == 201, (url, resp.get_json())
            continue
        assert_clear_error(resp)
        assert says in resp.get_json()["message"], (url, resp.get_json())


@pytest.mark.parametrize(
    "query",
    ["limit=abc", "limit=99999999999999999999999", "limit=-5", "status=%00", "incident=x"],
)
def test_list_endpoints_refuse_query_garbage_with_400(call, query):
    for url in ("/api/incidents", "/api/alerts/deliveries", "/api/audit", "/api/canaries"):
        resp = call("GET", f"{url}?{query}")
        if resp.status_code != 200:  # a parameter the endpoint does not read is ignored
            assert_clear_error(resp, 400)


def test_incident_action_with_an_unparseable_body_is_a_400(call):
    resp = call("POST", "/api/incidents/1/ack", data=b"[" * 50_000, content_type="application/json")
    assert_clear_error(resp, 400)


def test_admin_scan_of_a_server_path_refuses_unreadable_names(call, tmp_path):
    for path in ("x" * 5000, str(tmp_path), str(tmp_path / "missing"), "/etc/../nonexistent"):
        assert_clear_error(call("POST", "/api/scan", json={"path": path}), 400)
    assert_clear_error(call("POST", "/api/scan", json=["/etc/passwd"]), 400)


def test_a_value_the_database_refuses_is_a_400_not_a_500(app, call):
    """The last line of defence, for a view that forgot to check its input."""
    from sqlalchemy.exc import DataError

    @app.get("/test-unstorable")
    def _unstorable():
        raise DataError("INSERT ...", {"v": "x"}, ValueError("out of range"))

    assert_clear_error(call("GET", "/test-unstorable"), 400)
