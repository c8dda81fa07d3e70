"""POST /api/inject: upload, get the copy back (a zip for several holders)."""

from __future__ import annotations

import io
import zipfile

from tests.feeds.conftest import daily_csv


def post(client, token, data):
    return client.post(
        "/api/inject",
        data=data,
        headers={"Authorization": f"Bearer {token}"},
        content_type="multipart/form-data",
    )


def test_single_holder_upload_returns_the_copy(pool, client, operator_token, tmp_path):
    src = daily_csv(tmp_path / "daily.csv")
    resp = post(
        client,
        operator_token,
        {
            "file": (io.BytesIO(src.read_bytes()), "daily.csv"),
            "feed": "daily",
            "holders": "clerk",
            "period": "2026-W48",
        },
    )
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_data()
    assert len(body.split(b"\r\n")) == len(src.read_bytes().split(b"\r\n")) + 1
    assert "attachment" in resp.headers["Content-Disposition"]


def test_several_holders_get_a_zip_of_copies(pool, client, operator_token, tmp_path):
    src = daily_csv(tmp_path / "daily.csv")
    resp = post(
        client,
        operator_token,
        {
            "file": (io.BytesIO(src.read_bytes()), "daily.csv"),
            "feed": "daily",
            "holders": "clerk,partner",
            "period": "2026-W48",
        },
    )
    assert resp.status_code == 200 and resp.mimetype == "application/zip"
    bundle = zipfile.ZipFile(io.BytesIO(resp.get_data()))
    assert sorted(bundle.namelist()) == ["daily.clerk.csv", "daily.partner.csv"]
    a, b = (bundle.read(n) for n in sorted(bundle.namelist()))
    assert a != b


def test_bad_file_is_a_4xx_with_a_message(pool, client, operator_token):
    resp = post(
        client,
        operator_token,
        {
            "file": (io.BytesIO("产妇姓名,联系电话,分娩日期\r\n".encode()), "daily.csv"),
            "feed": "daily",
            "holders": "clerk",
        },
    )
    assert resp.status_code == 422
    assert resp.get_json()["error"] == "HeaderOnly"


def test_upload_over_the_limit_is_413(pool, app, client, operator_token):
    pool.settings = pool.settings.replace(max_upload_bytes=1000)
    app.config["MAX_CONTENT_LENGTH"] = 1000
    resp = post(
        client,
        operator_token,
        {
            "file": (io.BytesIO(b"x" * 5000), "daily.csv"),
            "feed": "daily",
            "holders": "clerk",
        },
    )
    assert resp.status_code == 413
    assert "max_upload_bytes" in resp.get_json()["message"]


def test_analyst_may_not_inject(pool, client, analyst_token):
    resp = post(
        client,
        analyst_token,
        {
            "file": (io.BytesIO(b"a,b\r\n1,2\r\n"), "d.csv"),
            "feed": "daily",
            "holders": "clerk",
        },
    )
    assert resp.status_code == 403


def test_missing_fields_are_400(pool, client, operator_token):
    resp = post(client, operator_token, {"feed": "daily", "holders": "clerk"})
    assert resp.status_code == 400 and "'file'" in resp.get_json()["message"]
