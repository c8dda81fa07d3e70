"""Errors never put personal data or secrets into logs or answers."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

PHONE = "+8613812345678"


def test_an_unexpected_error_logs_where_not_what(app, client, caplog):
    @app.get("/test-crash")
    def _crash():
        raise ValueError(f"cannot parse {PHONE} for 张秀英")

    with caplog.at_level(logging.DEBUG):
        resp = client.get("/test-crash")
    assert resp.status_code == 500
    assert resp.get_json()["error"] == "InternalError"
    assert PHONE not in resp.get_data(as_text=True)
    logged = "\n".join(r.getMessage() + str(r.exc_info or "") for r in caplog.records)
    assert "ValueError" in logged and "test_no_secrets_in_logs.py" in logged
    assert PHONE not in logged and "张秀英" not in logged


def test_database_errors_do_not_quote_the_statement_values(context):
    with pytest.raises(SQLAlchemyError) as caught, context.db.session() as session:
        session.execute(text("SELECT * FROM no_such_table WHERE x = :v"), {"v": PHONE})
    assert PHONE not in str(caught.value)


def test_a_webhook_destination_secret_is_shown_once(call):
    created = call(
        "POST",
        "/api/alerts/destinations",
        json={"name": "soc", "kind": "webhook", "url": "https://hooks.example/abc?token=s3cr3t"},
    )
    assert created.status_code == 201, created.get_json()
    secret = created.get_json()["signing_secret"]
    listed = call("GET", "/api/alerts/destinations", "analyst").get_data(as_text=True)
    assert secret not in listed and "s3cr3t" not in listed
