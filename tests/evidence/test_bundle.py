"""Evidence bundles: export, offline verification, and every tampering it must catch."""

from __future__ import annotations

import base64
import hashlib
import json
import zipfile

import pytest
from sqlalchemy import select

from canary.errors import PermissionDenied
from canary.evidence import bundle, log, offline
from canary.evidence.models import EvidenceEntry
from canary.security import audit
from canary.security.tokens import Principal
from canary.telephony.models import Event


def _export(context, incident_id, path, actor="investigator"):
    with context.db.session() as s:
        return bundle.export(s, context, incident_id, path, actor)


def _members(path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as z:
        return {n: z.read(n) for n in z.namelist()}


def _rewrite(path, members: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)


def test_exported_bundle_verifies_offline_and_holds_what_investigators_need(
    context, leak, tmp_path
):
    path = _export(context, leak["incident_id"], tmp_path / "b.zip")
    report = offline.verify_bundle(path, expected_public_key=context.keys.evidence_public_key_b64())
    assert report.ok, report.problems
    assert report.incident_id == leak["incident_id"]
    files = _members(path)
    chain = [json.loads(line) for line in files["chain.jsonl"].splitlines()]
    assert [h["seq"] for h in chain] == list(range(1, len(chain) + 1))  # from genesis
    assert chain[0]["prev_hash"] == log.GENESIS
    entries = json.loads(files["entries.json"])
    kinds = sorted(e["kind"] for e in entries)
    assert kinds == ["event", "event", "event", "incident_change"]  # not the unrelated note
    events = {e["id"]: e for e in json.loads(files["events.json"])}
    assert set(events) == {leak["call_id"], leak["sms_id"], leak["recording_id"]}
    assert events[leak["call_id"]]["caller"] == "+8602155550123"
    assert events[leak["recording_id"]]["recording"]["RecordingDuration"] == "21"
    [canary] = json.loads(files["canaries.json"])
    assert canary["persona"]["name"] == "林晓雯" and canary["copy"] == "newborns-a → clerk"
    path_json = json.loads(files["path.json"])
    assert [s["name"] for s in path_json["steps"]] == ["Hospital A", "newborns-a", "clerk"]
    assert path_json["downstream"] == ["photo-studio"]


def test_report_shows_the_case_and_escapes_what_callers_wrote(context, leak, tmp_path):
    html = _members(_export(context, leak["incident_id"], tmp_path / "b.zip"))["report.html"]
    text = html.decode()
    for needle in (
        "newborns-a → clerk",
        "Hospital A",
        "photo-studio",
        "林晓雯",
        "+8602155550123",
        "RecordingDuration: 21",
        "head-office",
        "99.99%",
        "1 of 1 canaries",
    ):
        assert needle in text, needle
    assert "<script>alert(1)</script>" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text


def test_export_is_audited_and_logged(context, leak, tmp_path):
    before = _chain_length(context)
    path = _export(context, leak["incident_id"], tmp_path / "b.zip")
    with context.db.session() as s:
        actions = [(e.actor, e.action) for e in audit.entries(s)]
        last = s.scalar(select(EvidenceEntry).order_by(EvidenceEntry.seq.desc()).limit(1))
    assert ("system:evidence-export", "canary.read") in actions
    assert ("investigator", "evidence.export") in actions
    assert last.kind == "export" and last.seq == before + 1
    manifest = _members(path)["manifest.json"]
    assert json.loads(last.body)["manifest_sha256"] == hashlib.sha256(manifest).hexdigest()


def _chain_length(context):
    with context.db.session() as s:
        return log.count(s)


def test_export_requires_the_evidence_permission(context, leak, tmp_path):
    operator = Principal(actor="token:9:op", role="operator")
    with context.db.session() as s, pytest.raises(PermissionDenied):
        bundle.export(s, context, leak["incident_id"], tmp_path / "b.zip", "op", principal=operator)
    assert not (tmp_path / "b.zip").exists()


def test_failed_export_leaves_no_file(context, leak, tmp_path, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("template failed")

    monkeypatch.setattr(bundle.report, "render", broken)
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(RuntimeError):
        _export(context, leak["incident_id"], out / "b.zip")
    assert list(out.iterdir()) == []


@pytest.mark.parametrize(
    ("name", "edit", "problem"),
    [
        ("report.html", lambda b: b.replace("林晓雯".encode(), "王芳".encode()), "report.html"),
        ("events.json", lambda b: b.replace(b"+8602155550123", b"+8602155559999"), "events.json"),
        ("chain.jsonl", lambda b: b"".join(b.splitlines(keepends=True)[1:]), "chain.jsonl"),
    ],
)
def test_edited_member_fails_verification(context, leak, tmp_path, name, edit, problem):
    path = _export(context, leak["incident_id"], tmp_path / "b.zip")
    members = _members(path)
    members[name] = edit(members[name])
    _rewrite(path, members)
    report = offline.verify_bundle(path)
    assert not report.ok and any(problem in p for p in report.problems)


def test_updating_the_manifest_hash_breaks_its_signature(context, leak, tmp_path):
    path = _export(context, leak["incident_id"], tmp_path / "b.zip")
    members = _members(path)
    members["report.html"] += b"<!-- edited -->"
    manifest = json.loads(members["manifest.json"])
    manifest["files"]["report.html"] = hashlib.sha256(members["report.html"]).hexdigest()
    members["manifest.json"] = json.dumps(manifest).encode()
    _rewrite(path, members)
    report = offline.verify_bundle(path)
    assert any("manifest signature" in p for p in report.problems)


def test_bundle_resigned_with_another_key_fails_against_the_published_key(context, leak, tmp_path):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    path = _export(context, leak["incident_id"], tmp_path / "b.zip")
    members = _members(path)
    forger = Ed25519PrivateKey.generate()
    raw = forger.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    manifest = json.loads(members["manifest.json"])
    manifest["public_key"] = base64.b64encode(raw).decode()
    members["manifest.json"] = json.dumps(manifest).encode()
    members["manifest.sig"] = base64.b64encode(forger.sign(members["manifest.json"]))
    _rewrite(path, members)
    published = context.keys.evidence_public_key_b64()
    report = offline.verify_bundle(path, expected_public_key=published)
    assert any("different key" in p for p in report.problems)


def test_extra_file_and_garbage_are_reported(context, leak, tmp_path):
    path = _export(context, leak["incident_id"], tmp_path / "b.zip")
    members = _members(path)
    members["note.txt"] = b"planted"
    _rewrite(path, members)
    assert any("note.txt" in p for p in offline.verify_bundle(path).problems)
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"not a zip")
    assert not offline.verify_bundle(junk).ok


def test_payload_changed_in_the_database_after_logging_is_caught(context, leak, tmp_path):
    """An insider re-encrypts a different SMS into the row: the log still has the hash."""
    with context.db.session() as s:
        sms = s.get(Event, leak["sms_id"])
        sms.payload_enc = context.keys.encrypt_json(
            {"MessageSid": sms.provider_sid, "Body": "nothing to see"},
            f"event:twilio:sms:{sms.provider_sid}",
        )
    path = _export(context, leak["incident_id"], tmp_path / "b.zip")
    report = offline.verify_bundle(path)
    assert any(f"event {leak['sms_id']}" in p for p in report.problems)


def test_cli_export_and_offline_verify(cli, context, leak, tmp_path):
    out = tmp_path / "case.zip"
    exported = cli("evidence", "export", str(leak["incident_id"]), "-o", str(out))
    assert exported.exit_code == 0, exported.output
    # Offline: no database or keys in the environment at all.
    ok = cli(
        "evidence",
        "verify",
        str(out),
        env_override={
            "CANARY_DATABASE_URL": "postgresql://nowhere.invalid/x",
            "CANARY_HOME": str(tmp_path / "none"),
        },
    )
    assert ok.exit_code == 0 and ok.output.startswith("OK"), ok.output
    members = _members(out)
    members["entries.json"] = members["entries.json"].replace(b"opened", b"closed")
    _rewrite(out, members)
    bad = cli("evidence", "verify", str(out))
    assert bad.exit_code == 1 and "entries.json" in bad.output
    assert cli("evidence", "export", "999", "-o", str(tmp_path / "x.zip")).exit_code == 2
    log_ok = cli("evidence", "verify-log", "--json")
    assert log_ok.exit_code == 0 and json.loads(log_ok.output)["ok"] is True


def test_cli_verify_log_fails_on_an_edited_entry(cli, context, leak):
    with context.db.session() as s:
        entry = s.scalar(select(EvidenceEntry).where(EvidenceEntry.seq == 2))
        entry.body = entry.body.replace("call", "sms")
    result = cli("evidence", "verify-log")
    assert result.exit_code == 1 and "seq 2" in result.output


def test_api_bundle_download_needs_evidence_export(
    client, context, leak, analyst_token, operator_token, tmp_path
):
    url = f"/api/evidence/{leak['incident_id']}/bundle"
    denied = client.get(url, headers={"Authorization": f"Bearer {operator_token}"})
    assert denied.status_code == 403
    response = client.get(url, headers={"Authorization": f"Bearer {analyst_token}"})
    assert response.status_code == 200 and response.mimetype == "application/zip"
    path = tmp_path / "dl.zip"
    path.write_bytes(response.data)
    response.close()
    assert offline.verify_bundle(path).ok
    missing = client.get(
        "/api/evidence/999/bundle", headers={"Authorization": f"Bearer {analyst_token}"}
    )
    assert missing.status_code == 404


def test_export_logs_an_incident_event_the_scheduler_has_not_logged_yet(context, leak, tmp_path):
    """Webhooks store events before the scheduler appends their entries: an export in
    between must still carry the event's signed entry."""
    sid = "CA" + "4" * 32
    with context.db.session() as s:
        call = s.get(Event, leak["call_id"])
        late = Event(
            kind="call",
            provider="twilio",
            provider_sid=sid,
            contact_point_id=call.contact_point_id,
            occurred_at=call.occurred_at,
            received_at=call.received_at,
            payload_enc=context.keys.encrypt_json({"CallSid": sid}, f"event:twilio:call:{sid}"),
            classification="canary",
            incident_id=leak["incident_id"],
            evidence_pending=True,
        )
        s.add(late)
        s.flush()
        late_id = late.id
    path = _export(context, leak["incident_id"], tmp_path / "late.zip")
    report = offline.verify_bundle(path, expected_public_key=context.keys.evidence_public_key_b64())
    assert report.ok, report.problems
    [record] = [e for e in json.loads(_members(path)["events.json"]) if e["id"] == late_id]
    assert record["evidence_seq"]
    with context.db.session() as s:
        assert not s.get(Event, late_id).evidence_pending
