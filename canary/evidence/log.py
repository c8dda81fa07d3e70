"""The evidence log: append-only, hash-chained, every entry signed with Ed25519.

Each entry commits to the one before it (``prev_hash``) and to its own header and
body (``entry_hash``); the signature is over ``entry_hash``. Editing a body, deleting
an entry or reordering entries breaks a hash or a link; forging an entry needs the
signing key. This is the construction of Schneier & Kelsey, "Secure audit logs to
support computer forensics" (ACM TISSEC 1999), with a public-key signature per entry
so that anyone holding the public key can verify a copy offline.

The entry hash covers the *hash* of the body rather than the body itself, so a bundle
can carry the full chain of headers (proving nothing was removed) while revealing the
bodies of the relevant entries only.

Bodies hold ids, keyed hashes, times and counts: never personal data in clear (the
encrypted payloads stay in their own tables).
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import hashlib
import json
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import func, insert, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from canary.db import utcnow
from canary.errors import CanaryError
from canary.evidence.models import EvidenceEntry
from canary.security.crypto import KeyRing

GENESIS = "0" * 64
HASH_VERSION = 1
# Kinds in use: event, incident_change, scan, note, export. Any short identifier is allowed.
_KIND = re.compile(r"^[a-z][a-z0-9_.]{0,29}$")
# Same key on every writer: PostgreSQL serialises appends on this advisory lock.
_PG_LOCK_KEY = 0x63616E617279  # "canary"
_MAX_ATTEMPTS = 50

# A string that is, in its entirety, a phone number (+86 138 0013 8000, 13800138000).
# Dates and times (2026-11-29, 2026-11-29T10:00:00) are allowed; hashes are hex and long.
_PHONE_LIKE = re.compile(r"^\+?\(?\d[\d\s\-().]{5,22}\d$")
_DATE_LIKE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class EvidenceBodyError(CanaryError):
    """The body would put personal data, or something not JSON, into the log."""


@dataclass
class VerifyReport:
    """What a chain verification found. ``ok`` only if ``problems`` is empty."""

    count: int = 0
    head: str = GENESIS
    problems: list[str] = field(default_factory=list)
    omitted: int = 0  # problems past MAX_PROBLEMS, counted but not listed

    MAX_PROBLEMS = 1000

    @property
    def ok(self) -> bool:
        return not self.problems

    def add(self, problem: str) -> None:
        if len(self.problems) < self.MAX_PROBLEMS:
            self.problems.append(problem)
        else:
            self.omitted += 1

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "count": self.count,
            "head": self.head,
            "problems": self.problems,
            "omitted_problems": self.omitted,
        }


def canonical_json(value: Any) -> str:
    """Sorted keys, no spaces, UTF-8 kept (ensure_ascii=False): one text per value."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_jsonable
    )


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            raise EvidenceBodyError("evidence times must be timezone-aware (UTC)")
        return value.astimezone(dt.UTC).isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, (set, frozenset, tuple)):
        return sorted(value) if isinstance(value, (set, frozenset)) else list(value)
    raise EvidenceBodyError(f"evidence body holds a {type(value).__name__}, which is not JSON")


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from _strings(item)
    elif isinstance(value, (list, tuple, set, frozenset)):
        for item in value:
            yield from _strings(item)


def _check_no_phone(body: dict) -> None:
    """Defence in depth: refuse a body value that is a phone number in clear.

    The message never repeats the value (it would put it in a log line).
    """
    for item in _strings(body):
        stripped = item.strip()
        if _DATE_LIKE.match(stripped) or not _PHONE_LIKE.match(stripped):
            continue
        digits = sum(ch.isdigit() for ch in stripped)
        if 7 <= digits <= 15:
            raise EvidenceBodyError(
                "an evidence body value looks like a phone number; log its keyed hash "
                "(keys.lookup_hash) or its contact-point id instead"
            )


def _at_text(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).isoformat(timespec="microseconds")


def body_hash(body_text: str) -> str:
    return hashlib.sha256(body_text.encode("utf-8")).hexdigest()


def header(
    *,
    seq: int,
    prev_hash: str,
    kind: str,
    at: str,
    incident_id: int | None,
    event_id: int | None,
    body_sha256: str,
) -> dict[str, Any]:
    """The fields an entry hash commits to (the bundle carries these for every entry)."""
    return {
        "v": HASH_VERSION,
        "seq": seq,
        "prev_hash": prev_hash,
        "kind": kind,
        "at": at,
        "incident_id": incident_id,
        "event_id": event_id,
        "body_sha256": body_sha256,
    }


def compute_entry_hash(head: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_json(head).encode("utf-8")).hexdigest()


def header_of(entry: EvidenceEntry) -> dict[str, Any]:
    return header(
        seq=entry.seq,
        prev_hash=entry.prev_hash,
        kind=entry.kind,
        at=_at_text(entry.at),
        incident_id=entry.incident_id,
        event_id=entry.event_id,
        body_sha256=body_hash(entry.body),
    )


@functools.lru_cache(maxsize=4)
def _signer(keys: KeyRing) -> Ed25519PrivateKey:
    # Loading the key costs as much as a signature; a process has one key ring.
    return keys.evidence_signing_key()


def _last(session: Session) -> tuple[int, str]:
    row = session.execute(
        select(EvidenceEntry.seq, EvidenceEntry.entry_hash)
        .order_by(EvidenceEntry.seq.desc())
        .limit(1)
    ).first()
    return (row[0], row[1]) if row else (0, GENESIS)


def take_writer_lock(session: Session) -> None:
    """Make concurrent appenders take turns until their transactions end.

    PostgreSQL: a transaction-scoped advisory lock. Once it is granted, the next
    statement (READ COMMITTED) sees the previous writer's committed entry, so the
    chain cannot fork. SQLite: a no-op UPDATE takes the database's write lock for the
    rest of the transaction. It also makes the driver open the transaction now: the
    pysqlite driver does not BEGIN before a SAVEPOINT, and a savepoint opened outside a
    transaction commits on release, which would make an entry outlive its caller's
    rollback. The unique ``seq`` and the retry below remain as a last line of defence.
    """
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
    elif dialect == "sqlite":
        session.execute(text("UPDATE evidence_entry SET seq = seq WHERE 1 = 0"))


def append(
    session: Session,
    keys: KeyRing,
    kind: str,
    body: dict,
    *,
    incident_id: int | None = None,
    event_id: int | None = None,
    at: dt.datetime | None = None,
) -> EvidenceEntry:
    """Append one signed entry to the chain, in the caller's transaction.

    ``body`` holds ids, keyed hashes, times and counts only. ``at`` defaults to now;
    pass ``ctx.clock()`` where a clock is at hand.
    """
    body_text = _checked_body(kind, body)
    at_value = (at or utcnow()).astimezone(dt.UTC)
    signer = _signer(keys)
    take_writer_lock(session)
    last_error: IntegrityError | None = None
    for _ in range(_MAX_ATTEMPTS):
        seq, prev = _last(session)
        head = header(
            seq=seq + 1,
            prev_hash=prev,
            kind=kind,
            at=_at_text(at_value),
            incident_id=incident_id,
            event_id=event_id,
            body_sha256=body_hash(body_text),
        )
        entry_hash = compute_entry_hash(head)
        entry = EvidenceEntry(
            seq=seq + 1,
            at=at_value,
            kind=kind,
            incident_id=incident_id,
            event_id=event_id,
            body=body_text,
            prev_hash=prev,
            entry_hash=entry_hash,
            signature=base64.b64encode(signer.sign(entry_hash.encode("ascii"))).decode("ascii"),
        )
        try:
            # A savepoint, so losing the race rolls back only this attempt.
            with session.begin_nested():
                session.add(entry)
                session.flush()
        except IntegrityError as exc:  # another writer took this seq: read the new head
            last_error = exc
            continue
        return entry
    raise CanaryError(
        "could not append to the evidence log: too many concurrent writers"
    ) from last_error


def _checked_body(kind: str, body: dict) -> str:
    if not _KIND.match(kind or ""):
        raise EvidenceBodyError("an evidence kind is a short lower-case identifier, e.g. 'event'")
    if not isinstance(body, dict):
        raise EvidenceBodyError("an evidence body must be a JSON object (a dict)")
    _check_no_phone(body)
    return canonical_json(body)


def append_many(
    session: Session,
    keys: KeyRing,
    items: Sequence[tuple[str, dict, int | None, int | None]],
    *,
    at: dt.datetime | None = None,
) -> int:
    """Append several entries, in order, in the caller's transaction: ``append`` with
    the writer lock taken and the head read once, and one multi-row INSERT.

    ``items`` are ``(kind, body, incident_id, event_id)``. Returns how many.
    """
    prepared = [(kind, _checked_body(kind, body), inc, ev) for kind, body, inc, ev in items]
    if not prepared:
        return 0
    at_value = (at or utcnow()).astimezone(dt.UTC)
    at_text = _at_text(at_value)
    signer = _signer(keys)
    take_writer_lock(session)
    last_error: IntegrityError | None = None
    for _ in range(_MAX_ATTEMPTS):
        seq, prev = _last(session)
        rows = []
        for kind, body_text, incident_id, event_id in prepared:
            seq += 1
            entry_hash = compute_entry_hash(
                header(
                    seq=seq,
                    prev_hash=prev,
                    kind=kind,
                    at=at_text,
                    incident_id=incident_id,
                    event_id=event_id,
                    body_sha256=body_hash(body_text),
                )
            )
            signature = signer.sign(entry_hash.encode("ascii"))
            rows.append(
                {
                    "seq": seq,
                    "at": at_value,
                    "kind": kind,
                    "incident_id": incident_id,
                    "event_id": event_id,
                    "body": body_text,
                    "prev_hash": prev,
                    "entry_hash": entry_hash,
                    "signature": base64.b64encode(signature).decode("ascii"),
                }
            )
            prev = entry_hash
        try:
            with session.begin_nested():
                session.execute(insert(EvidenceEntry), rows)
        except IntegrityError as exc:  # another writer took these seqs: read the new head
            last_error = exc
            continue
        return len(rows)
    raise CanaryError(
        "could not append to the evidence log: too many concurrent writers"
    ) from last_error


def verify_signature(public_key: Ed25519PublicKey, entry_hash: str, signature_b64: str) -> bool:
    try:
        public_key.verify(base64.b64decode(signature_b64, validate=True), entry_hash.encode())
    except (InvalidSignature, ValueError):
        return False
    return True


def verify_headers(
    items: Iterable[dict[str, Any]],
    public_key: Ed25519PublicKey,
    report: VerifyReport,
    *,
    on_header: Callable[[dict[str, Any]], None] | None = None,
) -> None:
    """Check a chain given as headers (each with ``entry_hash`` and ``signature``), in
    one streaming pass (a long log is never held in memory).

    Shared by the live check and the offline bundle check, so both apply the same rules:
    ``seq`` contiguous from 1, each ``prev_hash`` equal to the previous ``entry_hash``,
    each ``entry_hash`` recomputed from its header, each signature valid. A deletion or
    an edit is reported at the entries it touches, not at every entry after it.
    """
    prev, prev_seq = GENESIS, 0
    for item in items:
        seq = item.get("seq")
        label = f"entry seq {seq}"
        if seq != prev_seq + 1:
            report.add(
                f"{label}: expected seq {prev_seq + 1} (an entry is missing or out of order)"
            )
        if item.get("prev_hash") != prev:
            report.add(f"{label}: prev_hash does not link to the previous entry")
        head = header(
            seq=seq,
            prev_hash=item.get("prev_hash"),
            kind=item.get("kind"),
            at=item.get("at"),
            incident_id=item.get("incident_id"),
            event_id=item.get("event_id"),
            body_sha256=item.get("body_sha256"),
        )
        if compute_entry_hash(head) != item.get("entry_hash"):
            report.add(f"{label}: contents do not match its entry_hash (edited)")
        if not verify_signature(
            public_key, str(item.get("entry_hash")), str(item.get("signature"))
        ):
            report.add(f"{label}: signature does not verify with the public key")
        prev = str(item.get("entry_hash"))
        prev_seq = seq if isinstance(seq, int) else prev_seq + 1
        report.count += 1
        if on_header is not None:
            on_header(item)
    report.head = prev


def signed_header(entry: EvidenceEntry) -> dict[str, Any]:
    """An entry's header with its stored hash and signature (no body)."""
    return {**header_of(entry), "entry_hash": entry.entry_hash, "signature": entry.signature}


def iter_entries(session: Session, batch: int = 1000) -> Iterator[EvidenceEntry]:
    """Every entry in chain order, in batches (the log can be long)."""
    after = 0
    while True:
        rows = list(
            session.scalars(
                select(EvidenceEntry)
                .where(EvidenceEntry.seq > after)
                .order_by(EvidenceEntry.seq)
                .limit(batch)
            )
        )
        if not rows:
            return
        yield from rows
        after = rows[-1].seq


def verify_chain(
    session: Session, public_key: Ed25519PublicKey, *, expected_head: str | None = None
) -> VerifyReport:
    """Check the live chain: detects edited, deleted, reordered and forged entries.

    Deleting the newest entries leaves a valid shorter chain; pass ``expected_head``
    (a head published earlier, e.g. in an exported bundle) to detect that too.
    """
    report = VerifyReport()
    seen = False

    def watch(item: dict[str, Any]) -> None:
        nonlocal seen
        seen = seen or item.get("entry_hash") == expected_head

    headers = (signed_header(e) for e in iter_entries(session))
    verify_headers(headers, public_key, report, on_header=watch if expected_head else None)
    if expected_head and not seen:
        report.add("the expected head is not in the chain (entries were removed)")
    return report


def count(session: Session) -> int:
    return int(session.scalar(select(func.count(EvidenceEntry.id))) or 0)


def for_incident(session: Session, incident_id: int) -> list[EvidenceEntry]:
    return list(
        session.scalars(
            select(EvidenceEntry)
            .where(EvidenceEntry.incident_id == incident_id)
            .order_by(EvidenceEntry.seq)
        )
    )
