"""POST /api/scan: upload, size limit, permissions, server-side paths for admins."""

from __future__ import annotations

import io

from canary.security.models import AuditEntry


def _upload(client, token, body: bytes, name: str = "leak.csv"):
    return client.post(
        "/api/scan",
        data={"file": (io.BytesIO(body), name)},
        headers={"Authorization": f"Bearer {token}"},
        content_type="multipart/form-data",
    )


def test_analyst_uploads_a_leak_and_gets_the_copies(client, world, analyst_token):
    response = _upload(client, analyst_token, "欧阳静,+86 186 1111 2222\n".encode())
    assert response.status_code == 200, response.json
    data = response.json
    assert [c["holder"] for c in data["copies"]] == ["clerk Zhou"]
    assert data["file_name"] == "leak.csv" and data["event_id"] is not None


def test_upload_over_the_limit_is_refused_with_413(app, client, world, admin_token):
    app.config["MAX_CONTENT_LENGTH"] = 1024
    response = _upload(client, admin_token, b"1,13700001111\n" * 200)
    assert response.status_code == 413
    assert response.json["error"] == "UploadTooLarge"


def test_operator_token_may_not_scan(client, context, world, operator_token):
    response = _upload(client, operator_token, "欧阳静,18611112222\n".encode())
    assert response.status_code == 403
    with context.db.session() as s:
        denied = s.query(AuditEntry).filter_by(action="permission.denied").count()
        reads = s.query(AuditEntry).filter_by(action="canary.read").count()
    assert denied == 1 and reads == 0


def test_server_side_path_only_for_admins(client, world, tmp_path, admin_token, analyst_token):
    path = tmp_path / "seized.csv"
    path.write_text("欧阳静,18611112222\n")
    denied = client.post(
        "/api/scan", json={"path": str(path)}, headers={"Authorization": f"Bearer {analyst_token}"}
    )
    assert denied.status_code == 403
    allowed = client.post(
        "/api/scan", json={"path": str(path)}, headers={"Authorization": f"Bearer {admin_token}"}
    )
    assert allowed.status_code == 200 and allowed.json["found"][0]["fields"] == ["name", "phone"]


def test_missing_file_field_is_a_clear_400(client, world, admin_token):
    response = client.post("/api/scan", data={}, headers={"Authorization": f"Bearer {admin_token}"})
    assert response.status_code == 400 and "file" in response.json["message"]
