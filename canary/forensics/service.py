"""`scan`: find the canaries in a leaked, bought or seized file and open an incident.

The file never leaves this process: it is read from local disk, matched in memory,
and only ids, counts and the file's hash reach the database in clear (the file name
and the per-canary evidence are stored encrypted in the event payload).

Re-scanning the same bytes finds the stored event (its id is the file's SHA-256) and
adds nothing.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from canary.context import Context
from canary.flow.models import Copy
from canary.forensics import findings as judging
from canary.forensics import index as indexing
from canary.forensics import readers
from canary.forensics.engine import CHUNK_BYTES, Matcher
from canary.security import audit
from canary.security.tokens import Principal, require
from canary.telephony.models import Event, EventCanary

log = logging.getLogger("canary.forensics")

PROVIDER = "canary"
KIND = "scan"
Progress = Callable[[str, int, int], None]


@dataclass
class ScanResult:
    file_name: str
    size: int
    sha256: str
    format: str
    canaries_indexed: int
    candidate_lines: int
    found: list[dict[str, Any]] = field(default_factory=list)
    copies: list[dict[str, Any]] = field(default_factory=list)
    ambiguous: list[dict[str, Any]] = field(default_factory=list)
    unconfirmed_name_lines: int = 0
    event_id: int | None = None
    incident_id: int | None = None
    already_scanned: bool = False

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _aad(sha256: str) -> str:
    return Event.payload_aad(PROVIDER, KIND, sha256)


def match_file(
    ctx: Context,
    session: Session,
    path: Path,
    principal: Principal,
    progress: Progress | None = None,
) -> tuple[ScanResult, judging.Findings, indexing.CanaryIndex]:
    """Scan ``path`` against every canary (read-only; stores nothing but audit rows)."""
    require(session, principal, "scan", subject="scan")
    path = Path(path)
    source = readers.detect(path)
    index = indexing.build(session, ctx, principal)
    matcher = Matcher(index.patterns)
    judge = judging.Judge(index)
    hasher = hashlib.sha256()

    def report(done: int, total: int) -> None:
        if progress:
            progress("scan", done, total)

    # hashlib releases the GIL on large buffers: hashing runs beside the matcher, one
    # chunk behind at most (so memory stays flat if hashing is the slower of the two).
    with ThreadPoolExecutor(max_workers=1) as hashing:
        if source.kind == "text":
            pending: list[Future] = []

            def hash_chunk(chunk: bytes) -> None:
                if pending:
                    pending.pop().result()
                pending.append(hashing.submit(hasher.update, chunk))

            for line in matcher.scan(readers.raw_chunks(path, report), on_chunk=hash_chunk):
                judge.line(line)
        else:
            hashing.submit(_hash_file, hasher, path)
            for line in matcher.scan(readers.chunks_of(source, report)):
                judge.line(line)
    result = ScanResult(
        file_name=path.name,
        size=source.size,
        sha256=hasher.hexdigest(),
        format=source.kind,
        canaries_indexed=len(index.profiles),
        candidate_lines=judge.findings.candidate_lines,
        unconfirmed_name_lines=judge.findings.unconfirmed_name_lines,
    )
    _describe(session, result, judge.findings, index)
    return result, judge.findings, index


def _hash_file(hasher, path: Path) -> None:
    with open(path, "rb", buffering=0) as fh:
        while chunk := fh.read(CHUNK_BYTES):
            hasher.update(chunk)


def _describe(
    session: Session, result: ScanResult, found: judging.Findings, index: indexing.CanaryIndex
) -> None:
    """Fill in the report: per canary, per copy (feed → holder, period), ambiguities."""
    copies = {c.id: c for c in session.scalars(select(Copy))}

    def copy_info(copy_id: int) -> dict[str, Any]:
        copy = copies.get(copy_id)
        return {
            "copy_id": copy_id,
            "feed": copy.feed.name if copy else "",
            "holder": copy.holder.name if copy else "",
        }

    for canary_id, item in sorted(found.found.items()):
        profile = index.profiles[canary_id]
        result.found.append(
            {
                "canary_id": canary_id,
                **copy_info(profile.copy_id),
                "period": profile.period,
                "records": item.records,
                "fields": sorted(item.fields),
                "locations": item.locations,
            }
        )
    for (copy_id, period), ids in sorted(judging.group_by_copy(found.found, index).items()):
        result.copies.append(
            {**copy_info(copy_id), "period": period, "canaries": len(ids), "canary_ids": ids}
        )
    for sighting in judging.merge_sightings(found):
        candidates = sorted(sighting.candidates)
        result.ambiguous.append(
            {
                "kind": sighting.kind,
                "records": sighting.records,
                "candidate_canary_ids": candidates,
                "candidate_copies": sorted(
                    {
                        (
                            info["feed"],
                            info["holder"],
                            index.profiles[c].period,
                        )
                        for c in candidates
                        for info in [copy_info(index.profiles[c].copy_id)]
                    }
                ),
                "locations": sighting.locations,
            }
        )


def scan(
    ctx: Context,
    path: Path | str,
    *,
    principal: Principal,
    via: str = "cli",
    file_name: str | None = None,
    progress: Progress | None = None,
) -> ScanResult:
    """Scan a file; if it holds canaries, store a scan event and attribute it."""
    path = Path(path)
    with ctx.db.session() as session:
        result, _found, _index = match_file(ctx, session, path, principal, progress)
        if file_name:
            result.file_name = file_name
        audit.record(
            session,
            principal.actor,
            "scan",
            "file",
            result.sha256,
            size=result.size,
            found=len(result.found),
            ambiguous=len(result.ambiguous),
        )
    if not result.found and not result.ambiguous:
        return result
    with ctx.db.session() as session:
        event = session.scalar(
            select(Event).where(
                Event.provider == PROVIDER, Event.kind == KIND, Event.provider_sid == result.sha256
            )
        )
        if event is not None:
            result.already_scanned = True
            result.event_id, result.incident_id = event.id, event.incident_id
            return result
        event = _store_event(session, ctx, result, via)
    # Attribution runs in its own transaction, after the event is safely stored: a
    # failure there leaves the event pending for ``process_pending`` instead of losing it.
    result.event_id = event.id
    from canary.attribution.service import process_event

    try:
        with ctx.db.session() as session:
            stored = session.get(Event, event.id)
            incident = process_event(session, ctx, stored)
            result.incident_id = incident.id if incident is not None else stored.incident_id
    except Exception:  # the event is stored; the scheduler's process_pending retries it
        log.exception("scan event %s stored but not yet attributed", event.id)
    return result


def _store_event(session: Session, ctx: Context, result: ScanResult, via: str) -> Event:
    from canary.evidence import log as evidence_log

    now = ctx.clock()
    payload = {
        "file_name": result.file_name,
        "size": result.size,
        "sha256": result.sha256,
        "format": result.format,
        "found": result.found,
        "copies": result.copies,
        "ambiguous": result.ambiguous,
    }
    event = Event(
        kind=KIND,
        provider=PROVIDER,
        provider_sid=result.sha256,
        occurred_at=now,
        received_at=now,
        via=via,
        classification="pending",
        payload_enc=ctx.keys.encrypt_json(payload, _aad(result.sha256)),
        detail={
            "canaries_found": len(result.found),
            "ambiguous_sightings": len(result.ambiguous),
            "copies": [c["copy_id"] for c in result.copies],
            "size": result.size,
        },
    )
    for item in result.found:
        event.canaries.append(EventCanary(canary_id=item["canary_id"], strength="file"))
    session.add(event)
    session.flush()
    evidence_log.append(
        session,
        ctx.keys,
        "scan",
        {
            "event_id": event.id,
            "file_sha256": result.sha256,
            "size": result.size,
            "via": via,
            "canaries": [
                {"canary_id": f["canary_id"], "fields": f["fields"], "records": f["records"]}
                for f in result.found
            ],
            "ambiguous": [
                {
                    "kind": a["kind"],
                    "candidates": a["candidate_canary_ids"],
                    "records": a["records"],
                }
                for a in result.ambiguous
            ],
        },
        event_id=event.id,
        at=now,
    )
    log.info("scan event %s stored: %d canaries found", event.id, len(result.found))
    return event


def payload_of(ctx: Context, event: Event) -> dict[str, Any]:
    """The decrypted scan payload (file name and per-canary evidence)."""
    return ctx.keys.decrypt_json(event.payload_enc, _aad(event.provider_sid))
