"""The evidence log: hash-chained, signed, and every kind of tampering is detected."""

from __future__ import annotations

import base64
import datetime as dt
import threading

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import delete, select, update

from canary.evidence import log
from canary.evidence.models import EvidenceEntry

T0 = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)


def _fill(context, n=5):
    with context.db.session() as session:
        for i in range(n):
            log.append(
                session,
                context.keys,
                "note",
                {"n": i, "label": "测试"},
                at=T0 + dt.timedelta(minutes=i),
            )


def _verify(context, **kw):
    with context.db.session() as session:
        return log.verify_chain(session, context.keys.evidence_public_key(), **kw)


def test_chain_links_each_entry_to_the_previous_and_verifies(context):
    _fill(context)
    with context.db.session() as session:
        rows = list(session.scalars(select(EvidenceEntry).order_by(EvidenceEntry.seq)))
    assert [r.seq for r in rows] == [1, 2, 3, 4, 5]
    assert rows[0].prev_hash == log.GENESIS
    assert all(b.prev_hash == a.entry_hash for a, b in zip(rows, rows[1:], strict=False))
    assert rows[0].body == '{"label":"测试","n":0}'  # canonical: sorted, compact, UTF-8
    report = _verify(context)
    assert report.ok, report.problems
    assert report.count == 5 and report.head == rows[-1].entry_hash


def test_edited_body_is_detected(context):
    _fill(context)
    with context.db.session() as session:
        session.execute(
            update(EvidenceEntry).where(EvidenceEntry.seq == 3).values(body='{"label":"x","n":2}')
        )
    report = _verify(context)
    assert not report.ok
    assert any("seq 3" in p and "edited" in p for p in report.problems)


def test_edited_time_is_detected(context):
    _fill(context)
    with context.db.session() as session:
        session.execute(
            update(EvidenceEntry).where(EvidenceEntry.seq == 2).values(at=T0 - dt.timedelta(days=1))
        )
    assert any("seq 2" in p for p in _verify(context).problems)


def test_deleted_entry_is_detected(context):
    _fill(context)
    with context.db.session() as session:
        session.execute(delete(EvidenceEntry).where(EvidenceEntry.seq == 2))
    report = _verify(context)
    assert not report.ok
    assert any("missing" in p for p in report.problems)


def test_deleted_tail_is_detected_against_a_known_head(context):
    _fill(context)
    head = _verify(context).head
    with context.db.session() as session:
        session.execute(delete(EvidenceEntry).where(EvidenceEntry.seq == 5))
    assert _verify(context).ok  # a shorter chain is self-consistent...
    assert not _verify(context, expected_head=head).ok  # ...but the published head is gone


def test_reordered_entries_are_detected(context):
    _fill(context)
    with context.db.session() as session:
        session.execute(update(EvidenceEntry).where(EvidenceEntry.seq == 2).values(seq=-2))
        session.execute(update(EvidenceEntry).where(EvidenceEntry.seq == 3).values(seq=2))
        session.execute(update(EvidenceEntry).where(EvidenceEntry.seq == -2).values(seq=3))
    report = _verify(context)
    assert not report.ok
    assert any("prev_hash" in p for p in report.problems)


def test_rehashed_edit_without_the_key_fails_the_signature(context):
    """An attacker who edits a body and recomputes every hash still cannot sign."""
    _fill(context, 3)
    forger = Ed25519PrivateKey.generate()
    with context.db.session() as session:
        rows = list(session.scalars(select(EvidenceEntry).order_by(EvidenceEntry.seq)))
        prev = log.GENESIS
        for row in rows:
            if row.seq == 2:
                row.body = '{"label":"forged","n":1}'
            row.prev_hash = prev
            row.entry_hash = log.compute_entry_hash(log.header_of(row))
            if row.seq >= 2:
                row.signature = base64.b64encode(forger.sign(row.entry_hash.encode())).decode()
            prev = row.entry_hash
    report = _verify(context)
    assert [p for p in report.problems if "signature" in p]
    assert not [p for p in report.problems if "edited" in p or "prev_hash" in p]


def test_a_phone_number_in_clear_is_refused_and_not_echoed(context):
    with context.db.session() as session, pytest.raises(log.EvidenceBodyError) as err:
        log.append(session, context.keys, "note", {"caller": "+86 138 0013 8000"})
    assert "138" not in str(err.value)
    with context.db.session() as session:
        # Dates, ISO times, periods and hashes are fine.
        log.append(
            session,
            context.keys,
            "note",
            {
                "day": "2026-11-29",
                "at": T0.isoformat(),
                "period": "2026-W48",
                "hash": "0123456789" * 6 + "abcd",
            },
        )


def test_concurrent_writers_never_fork_the_chain(context):
    errors = []

    def writer(tag):
        try:
            for i in range(8):
                with context.db.session() as session:
                    log.append(session, context.keys, "note", {"writer": tag, "i": i})
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    report = _verify(context)
    assert report.ok, report.problems
    assert report.count == 32


def test_append_in_a_rolled_back_transaction_leaves_no_trace(context):
    _fill(context, 2)
    with pytest.raises(RuntimeError), context.db.session() as session:
        log.append(session, context.keys, "note", {"n": 99})
        raise RuntimeError("caller failed")
    _fill(context, 1)
    report = _verify(context)
    assert report.ok and report.count == 3


def test_one_deleted_entry_is_one_problem_not_a_cascade(context):
    _fill(context, 20)
    with context.db.session() as session:
        session.execute(delete(EvidenceEntry).where(EvidenceEntry.seq == 1))
    report = _verify(context)
    assert len(report.problems) == 2  # entry 2: seq gap and broken link
    assert all("seq 2" in p for p in report.problems)
