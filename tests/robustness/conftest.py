"""Fixtures for the robustness tests: a mapped feed with pool numbers, the CLI, and a
helper that sends a request with a role's token."""

from __future__ import annotations

import pytest

from tests.feeds.conftest import cli, mapped, pool  # noqa: F401  (fixtures)


@pytest.fixture
def call(client, admin_token, operator_token, analyst_token):
    """call(method, url, role="admin", **kw) -> response; role None sends no token."""
    tokens = {"admin": admin_token, "operator": operator_token, "analyst": analyst_token}

    def send(method, url, role="admin", **kw):
        headers = dict(kw.pop("headers", {}))
        if role is not None:
            headers["Authorization"] = f"Bearer {tokens.get(role, role)}"
        return client.open(url, method=method, headers=headers, **kw)

    return send


def assert_clear_error(resp, *statuses):
    """A 4xx (one of ``statuses`` if given) with a JSON error and a message."""
    assert 400 <= resp.status_code < 500, (resp.status_code, resp.get_data()[:300])
    if statuses:
        assert resp.status_code in statuses, (resp.status_code, resp.get_data()[:300])
    body = resp.get_json()
    assert body and body.get("error") and body.get("message"), resp.get_data()[:300]
