"""Export an incident's evidence as one zip that can be checked offline.

Layout (every file but the two manifest files is listed, with its SHA-256, in
``manifest.json``; ``manifest.sig`` is an Ed25519 signature over ``manifest.json``):

* ``chain.jsonl``: the header of EVERY log entry from the first one (seq, prev_hash,
  kind, time, ids, body hash, entry hash, signature). With it a verifier recomputes
  the whole chain, so it proves that no entry before the head was removed or changed;
* ``entries.json``: the full body text of the entries about this incident;
* ``incident.json``, ``events.json`` (decrypted payloads), ``canaries.json``
  (decrypted canaries), ``path.json`` (data-flow path): the facts, for tools;
* ``report.html``: the same, for people;
* ``public_key.txt``: the log's Ed25519 public key.

The file is written to a temporary name beside the target and renamed into place, so
a failed export never leaves a half-written bundle.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from canary.attribution import lifecycle
from canary.context import Context
from canary.errors import CanaryError
from canary.evidence import collect, log, report
from canary.evidence.models import EvidenceEntry
from canary.outputs import check_output_path
from canary.security import audit
from canary.security.tokens import Principal, require
from canary.telephony import evidence as event_evidence

FORMAT = "canary-evidence-bundle/1"
MANIFEST, SIGNATURE = "manifest.json", "manifest.sig"


def fingerprint(public_key_b64: str) -> str:
    """SHA-256 of the raw public key, hex: short enough to read out over the phone."""
    return hashlib.sha256(base64.b64decode(public_key_b64)).hexdigest()


def _json_bytes(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, indent=1, sort_keys=True).encode("utf-8")


class _Writer:
    """Adds files to the zip and remembers their hashes for the manifest."""

    def __init__(self, archive: zipfile.ZipFile):
        self.archive = archive
        self.hashes: dict[str, str] = {}

    def add(self, name: str, data: bytes) -> None:
        self.archive.writestr(name, data)
        self.hashes[name] = hashlib.sha256(data).hexdigest()

    def stream_chain(self, session: Session) -> tuple[int, str]:
        """Write every entry's signed header, one JSON line each, without holding the
        whole chain in memory. Returns the chain's length and head."""
        digest = hashlib.sha256()
        length, head = 0, log.GENESIS
        with self.archive.open("chain.jsonl", "w") as out:
            for entry in log.iter_entries(session):
                line = (log.canonical_json(log.signed_header(entry)) + "\n").encode("utf-8")
                out.write(line)
                digest.update(line)
                length, head = entry.seq, entry.entry_hash
        self.hashes["chain.jsonl"] = digest.hexdigest()
        return length, head


def export(
    session: Session,
    ctx: Context,
    incident_id: int,
    output_path: str | os.PathLike,
    actor: str,
    *,
    principal: Principal | None = None,
) -> Path:
    """Write the incident's evidence bundle to ``output_path``; returns the path.

    The edges pass ``principal`` so the ``evidence:export`` permission is checked (and
    a refusal audited). The export itself is audited and logged in the evidence chain
    with the bundle's manifest hash, so the live log later shows what was handed out.
    """
    if principal is not None:
        require(session, principal, "evidence:export", subject=f"incident:{incident_id}")
    incident = lifecycle.get(session, incident_id)
    target = Path(output_path).expanduser().resolve()
    if target.is_dir():
        raise CanaryError(
            f"{target} is a folder; give a file name such as incident-{incident_id}.zip"
        )
    if not target.parent.is_dir():
        raise CanaryError(f"folder {target.parent} does not exist; create it first")
    check_output_path(target)

    events = collect.events_of(session, incident)
    event_ids = [e.id for e in events]
    # Webhooks store events before the scheduler logs them: log any still waiting.
    event_evidence.log_pending_of(session, ctx, event_ids)
    relevant = list(
        session.scalars(
            select(EvidenceEntry)
            .where(collect.relevant_entry_filter(incident.id, event_ids))
            .order_by(EvidenceEntry.seq)
        )
    )
    seq_by_event: dict[int, list[int]] = {}
    for entry in relevant:
        if entry.event_id is not None:
            seq_by_event.setdefault(entry.event_id, []).append(entry.seq)
    event_records = [collect.event_record(ctx, e, seq_by_event.get(e.id, [])) for e in events]
    incident_data = collect.incident_record(session, incident)
    path = collect.flow_path(session, incident)
    public_key = ctx.keys.evidence_public_key_b64()
    exported = {"at": ctx.clock().isoformat(timespec="seconds"), "by": actor}

    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            writer = _Writer(archive)
            # Reads first; the audited canary read (a write) comes last, so the database
            # write lock is held as briefly as possible while the chain streams out.
            length, head = writer.stream_chain(session)
            writer.add(
                "entries.json",
                _json_bytes(
                    [{**log.signed_header(e), "body": e.body} for e in relevant if e.seq <= length]
                ),
            )
            writer.add("incident.json", _json_bytes(incident_data))
            writer.add("events.json", _json_bytes(event_records))
            writer.add("path.json", _json_bytes(path))
            writer.add("public_key.txt", (public_key + "\n").encode())
            canaries = collect.canaries_of(session, ctx, events)
            writer.add("canaries.json", _json_bytes(canaries))
            chain = {
                "length": length,
                "head": head,
                "relevant": len([e for e in relevant if e.seq <= length]),
                "public_key": public_key,
                "fingerprint": fingerprint(public_key),
            }
            html = report.render(
                incident=incident_data,
                events=event_records,
                canaries=canaries,
                path=path,
                chain=chain,
                exported=exported,
            )
            writer.add("report.html", html.encode("utf-8"))
            manifest = {
                "format": FORMAT,
                "incident_id": incident.id,
                "exported_at": exported["at"],
                "exported_by": actor,
                "public_key": public_key,
                "chain": {"length": length, "head": head},
                "files": dict(sorted(writer.hashes.items())),
            }
            manifest_bytes = _json_bytes(manifest)
            signature = ctx.keys.evidence_signing_key().sign(manifest_bytes)
            archive.writestr(MANIFEST, manifest_bytes)
            archive.writestr(SIGNATURE, base64.b64encode(signature) + b"\n")
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        log.append(
            session,
            ctx.keys,
            "export",
            {
                "incident_id": incident.id,
                "actor": actor,
                "manifest_sha256": hashlib.sha256(manifest_bytes).hexdigest(),
                "chain_length": length,
                "chain_head": head,
                "events": len(event_records),
                "canaries": len(canaries),
            },
            incident_id=incident.id,
            at=ctx.clock(),
        )
        audit.record(
            session,
            actor,
            "evidence.export",
            "incident",
            incident.id,
            token_id=principal.token_id if principal else None,
            events=len(event_records),
            canaries=len(canaries),
            entries=chain["relevant"],
        )
        session.flush()
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target
