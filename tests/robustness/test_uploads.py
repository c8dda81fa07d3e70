"""Uploads to /api/inject and /api/scan: missing, empty, garbage, bombs, lying names
and hostile file names all get a clear 4xx; nothing is written outside a private
temporary folder, and that folder is gone after the request."""

from __future__ import annotations

import io
import os
import tempfile
import zipfile

import pytest

from tests.feeds.conftest import daily_csv
from tests.robustness.conftest import assert_clear_error

HOSTILE_NAMES = [
    "../../etc/passwd",
    "/etc/passwd",
    "..\\..\\windows\\win.ini",
    "a\x00b.csv",
    "x.\x00",
    "..",
    "x" * 5000 + ".csv",
    "daily.csv\r\nX-Injected: 1",
    "\u202egpj.csv",
]


def _zip_bomb() -> bytes:
    """A small .xlsx whose one sheet unpacks to 50 MB."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("xl/workbook.xml", "<workbook/>")
        z.writestr("xl/worksheets/sheet1.xml", b"<a>" + b"A" * (50 * 1024 * 1024) + b"</a>")
    return buf.getvalue()


@pytest.fixture
def private_tmp(tmp_path, monkeypatch):
    """Route the service's temporary folders into one we can inspect."""
    folder = tmp_path / "service-tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def _inject(call, body: bytes, name: str, feed="daily", role="operator"):
    data = {"file": (io.BytesIO(body), name), "feed": feed, "holders": "clerk"}
    data["period"] = "2026-W48"
    return call("POST", "/api/inject", role, data=data, content_type="multipart/form-data")


def _scan(call, body: bytes, name: str):
    data = {"file": (io.BytesIO(body), name)}
    return call("POST", "/api/scan", "analyst", data=data, content_type="multipart/form-data")


@pytest.mark.parametrize(
    ("label", "body", "name", "feed"),
    [
        ("empty", b"", "daily.csv", "daily"),
        ("garbage", os.urandom(4096), "daily.csv", "daily"),
        ("NUL bytes", b"\x00" * 1000, "daily.csv", "daily"),
        ("zip bomb", _zip_bomb(), "daily.xlsx", "daily-xlsx"),
        ("csv named .xlsx", b"a,b\n1,2\n", "daily.xlsx", "daily-xlsx"),
        ("zip header only", b"PK\x03\x04garbage", "daily.xlsx", "daily-xlsx"),
        ("truncated JSON", b'[{"a": 1', "daily.json", "daily"),
        ("BOM only", b"\xef\xbb\xbf", "daily.csv", "daily"),
    ],
)
def test_bad_files_are_a_clear_4xx_and_leave_nothing_behind(
    pool, call, private_tmp, label, body, name, feed
):
    assert_clear_error(_inject(call, body, name, feed))
    resp = _scan(call, body, name)
    assert resp.status_code < 500, (label, resp.get_data()[:300])
    assert list(private_tmp.iterdir()) == [], label


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_hostile_file_names_stay_inside_the_private_folder(pool, call, private_tmp, tmp_path, name):
    good = daily_csv(tmp_path / "daily.csv").read_bytes()
    resp = _inject(call, good, name)
    assert resp.status_code < 500, resp.get_data()[:300]
    if resp.status_code == 200:
        disposition = resp.headers["Content-Disposition"]
        assert "/" not in disposition and "\\" not in disposition and "\n" not in disposition
    resp = _scan(call, good, name)
    assert resp.status_code < 500, resp.get_data()[:300]
    if resp.status_code == 200:  # (a CR/LF in the name garbles the part: a 400)
        shown = resp.get_json()["file_name"]
        assert "/" not in shown and "\x00" not in shown and "\\" not in shown
    assert list(private_tmp.iterdir()) == []


def test_form_fields_with_nul_are_refused(pool, call, tmp_path):
    good = daily_csv(tmp_path / "daily.csv").read_bytes()
    assert_clear_error(_inject(call, good, "daily.csv", feed="daily\x00"), 400)


@pytest.mark.parametrize(
    ("data", "ctype"),
    [
        ({}, "multipart/form-data"),
        ({"feed": "daily", "holders": "clerk"}, "multipart/form-data"),
        (b"--x\r\nContent-Disposition: form-data; name=file\r\n\r\nabc", "multipart/form-data"),
        (b"a,b\n1,2\n", "text/csv"),
        (b"{}", "application/json"),
    ],
)
def test_uploads_without_a_file_are_400(pool, call, data, ctype):
    for url, role in (("/api/inject", "operator"), ("/api/scan", "analyst")):
        assert_clear_error(call("POST", url, role, data=data, content_type=ctype), 400)


def test_an_oversized_upload_is_413_before_it_is_read(pool, app, call, tmp_path):
    app.config["MAX_CONTENT_LENGTH"] = 10_000
    big = b"a,b\n" + b"1,2\n" * 10_000
    resp = _inject(call, big, "daily.csv")
    assert_clear_error(resp, 413)
    assert_clear_error(_scan(call, big, "leak.csv"), 413)
