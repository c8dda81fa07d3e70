"""Check an evidence bundle offline: no database, no service, only the zip (and,
ideally, the public key obtained from the organisation by another route).

What is checked, and what each check defends against:

* the manifest signature (Ed25519): the manifest cannot be rewritten to match edited
  files without the signing key;
* every file's SHA-256 against the manifest, and no unlisted files: nothing edited,
  added or removed inside the zip;
* the public key: if the caller gives the expected key, the bundle's key must match.
  Without it the bundle is only shown to be self-consistent: someone with a fresh key
  pair could forge a consistent bundle, so the report prints the key's fingerprint to
  compare with the organisation's published one;
* the full hash chain from genesis (seq contiguous, links, entry hashes, signatures)
  and its head and length against the manifest: no log entry was removed or edited;
* each included entry body against the body hash its chain header commits to;
* each event's decrypted payload against the ``payload_sha256`` its signed log entry
  recorded: the payloads shown are the ones logged when the event arrived.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import zipfile
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from canary.evidence import log
from canary.evidence.bundle import FORMAT, MANIFEST, SIGNATURE, fingerprint
from canary.evidence.collect import payload_sha256

# A bundle member larger than this is refused rather than read (zip bombs).
MAX_MEMBER_BYTES = 2 * 1024**3


class BundleReport(log.VerifyReport):
    """A chain report plus what the bundle says about itself."""

    def __init__(self) -> None:
        super().__init__()
        self.incident_id: int | None = None
        self.fingerprint: str = ""
        self.files: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            **super().as_dict(),
            "incident_id": self.incident_id,
            "public_key_fingerprint": self.fingerprint,
            "files": self.files,
        }


def _read(archive: zipfile.ZipFile, name: str) -> bytes:
    info = archive.getinfo(name)
    if info.file_size > MAX_MEMBER_BYTES:
        raise ValueError(f"{name} is larger than {MAX_MEMBER_BYTES} bytes")
    return archive.read(name)


def _public_key(text: str) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(base64.b64decode(text.strip(), validate=True))


def verify_bundle(path: str | Path, *, expected_public_key: str | None = None) -> BundleReport:
    """Check a bundle completely; ``report.ok`` is True only if every check passed."""
    report = BundleReport()
    problems = report.problems
    try:
        archive = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        report.add(f"cannot open the bundle as a zip file ({type(exc).__name__})")
        return report
    with archive:
        names = set(archive.namelist())
        if MANIFEST not in names or SIGNATURE not in names:
            report.add("manifest.json or manifest.sig is missing")
            return report
        try:
            manifest_bytes = _read(archive, MANIFEST)
            manifest = json.loads(manifest_bytes)
            key_text = str(manifest["public_key"])
            public_key = _public_key(key_text)
            signature = base64.b64decode(_read(archive, SIGNATURE).strip(), validate=True)
        except (ValueError, KeyError, TypeError, binascii.Error) as exc:
            report.add(f"manifest is unreadable ({type(exc).__name__})")
            return report
        report.incident_id = manifest.get("incident_id")
        report.fingerprint = fingerprint(key_text)
        if manifest.get("format") != FORMAT:
            report.add(f"unknown bundle format {manifest.get('format')!r}")
        if expected_public_key and _normal_key(expected_public_key) != _normal_key(key_text):
            report.add("the bundle is signed with a different key than the one expected")
        try:
            public_key.verify(signature, manifest_bytes)
        except InvalidSignature:
            report.add("manifest signature does not verify (manifest edited or re-signed)")
        _check_files(archive, names, manifest.get("files") or {}, report)
        if problems:
            return report
        _check_chain(archive, manifest, public_key, report)
    return report


def _normal_key(text: str) -> bytes:
    try:
        return base64.b64decode(text.strip(), validate=True)
    except (ValueError, binascii.Error):
        return text.encode()


def _check_files(
    archive: zipfile.ZipFile, names: set[str], files: dict[str, str], report: BundleReport
) -> None:
    for name in sorted(names - set(files) - {MANIFEST, SIGNATURE}):
        report.add(f"{name}: not listed in the manifest (added)")
    for name, expected in sorted(files.items()):
        if name not in names:
            report.add(f"{name}: listed in the manifest but missing")
            continue
        digest = hashlib.sha256()
        with archive.open(name) as fh:
            for block in iter(lambda fh=fh: fh.read(1 << 20), b""):
                digest.update(block)
        if digest.hexdigest() != expected:
            report.add(f"{name}: SHA-256 does not match the manifest (edited)")
        report.files += 1


def _check_chain(
    archive: zipfile.ZipFile,
    manifest: dict[str, Any],
    public_key: Ed25519PublicKey,
    report: BundleReport,
) -> None:
    entries = json.loads(_read(archive, "entries.json"))
    wanted = {e.get("seq") for e in entries}
    by_seq: dict[int, dict[str, Any]] = {}

    def keep(item: dict[str, Any]) -> None:
        if item.get("seq") in wanted:
            by_seq[item["seq"]] = item

    def lines():
        with archive.open("chain.jsonl") as fh:
            for number, line in enumerate(fh, start=1):
                try:
                    yield json.loads(line)
                except ValueError:
                    report.add(f"chain.jsonl line {number} is not JSON")
                    return

    # One streaming pass: the chain of a busy service can be long.
    log.verify_headers(lines(), public_key, report, on_header=keep)
    chain = manifest.get("chain") or {}
    if chain.get("length") != report.count or chain.get("head") != report.head:
        report.add("the chain's length or head differs from the manifest")
    bodies: dict[int, dict] = {}
    for entry in entries:
        header = by_seq.get(entry.get("seq"))
        if header is None:
            report.add(f"entry seq {entry.get('seq')} is not in the chain")
            continue
        if log.body_hash(entry.get("body", "")) != header.get("body_sha256"):
            report.add(f"entry seq {entry['seq']}: body does not match its hash")
            continue
        bodies[entry["seq"]] = json.loads(entry["body"])
    _check_events(archive, bodies, report)


def _check_events(archive: zipfile.ZipFile, bodies: dict[int, dict], report: BundleReport) -> None:
    events = json.loads(_read(archive, "events.json"))
    for event in events:
        if event.get("payload") is None:
            continue
        logged = [
            bodies[s]["payload_sha256"]
            for s in event.get("evidence_seq", [])
            if s in bodies and "payload_sha256" in bodies[s]
        ]
        if logged and payload_sha256(event["payload"]) not in logged:
            report.add(f"event {event.get('id')}: payload differs from the one the log attests")
