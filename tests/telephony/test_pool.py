"""The number pool: adding, quarantine, allocation plausibility, codeword spread, lookup."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest
from sqlalchemy import select

from canary.canaries import registry
from canary.errors import AlreadyExists, NoPlausibleNumber
from canary.telephony import pool, simulator
from canary.telephony.models import ContactPoint
from canary.telephony.pool import PhoneConstraints

CN_MOBILE = PhoneConstraints(region="CN", number_type="mobile")


def _add(context, raw, **kw):
    kw.setdefault("actor", "test")
    with context.db.session() as session:
        point = pool.add_number(session, context, raw, **kw)
        return point.id


def _allocate(context, copy_id, period="2026-W48", slot=0, constraints=CN_MOBILE, mint=True):
    """Allocate and (like the forger) store a canary on the number."""
    with context.db.session() as session:
        got = pool.allocate(
            session,
            context,
            copy_id=copy_id,
            period=period,
            slot=slot,
            constraints=constraints,
            at=context.clock(),
        )
        if mint:
            registry.store(
                session,
                context.keys,
                copy_id=copy_id,
                period=period,
                slot=slot,
                row={},
                persona={},
                contact_point_ids=[got.contact_point_id],
                live_from=context.clock(),
                name_key=f"name-{copy_id}-{period}-{slot}",
            )
        return got


def test_added_number_is_stored_encrypted_and_normalised(context, clock):
    cp_id = _add(context, "138-0013-8000", forwards_to="+1 415 555 0100", quarantine_days=0)
    with context.db.session() as session:
        point = session.get(ContactPoint, cp_id)
        assert b"13800138000" not in point.value_enc
        assert pool.number_of(context, point) == "+8613800138000"
        assert pool.forwards_to_of(context, point) == "+14155550100"
        assert (point.country, point.number_type, point.prefix) == ("CN", "mobile", "138")
        assert point.state == "available"


def test_adding_the_same_number_twice_is_an_error_naming_it(context, clock):
    _add(context, "+8613800138000")
    with pytest.raises(AlreadyExists) as err:
        _add(context, "13800138000")
    assert "+86138" in str(err.value) and "13800138000" not in str(err.value)


def test_new_number_is_quarantined_until_the_configured_days_pass(context, clock, copies):
    _add(context, "+8613800138000")  # default quarantine_days = 14
    with pytest.raises(NoPlausibleNumber) as err:
        _allocate(context, copies[0])
    assert "quarantine" in str(err.value)
    clock.advance(days=14, seconds=1)
    assert _allocate(context, copies[0]).e164 == "+8613800138000"


def test_no_plausible_number_explains_how_to_add_forwarded_local_numbers(context, clock, copies):
    _add(context, "+14155550100", quarantine_days=0)  # a US number cannot pass in a CN feed
    with pytest.raises(NoPlausibleNumber) as err:
        _allocate(context, copies[0])
    message = str(err.value)
    assert "canary numbers add +86" in message and "--forwards-to" in message


def test_allocation_respects_region_type_and_carrier_prefix(context, clock, copies):
    _add(context, "+8613800138001", quarantine_days=0)  # China Mobile 138
    _add(context, "+8618600138002", quarantine_days=0)  # China Unicom 186
    _add(context, "+862161234567", quarantine_days=0)  # Shanghai landline
    unicom = PhoneConstraints(region="CN", number_type="mobile", prefixes=frozenset({"186"}))
    for slot in range(4):
        assert _allocate(context, copies[0], slot=slot, constraints=unicom).e164.startswith(
            "+86186"
        )


def test_slots_of_one_copy_get_distinct_numbers(context, clock, copies):
    for i in range(6):
        _add(context, f"+86138001380{i:02d}", quarantine_days=0)
    numbers = {_allocate(context, copies[0], slot=s).contact_point_id for s in range(4)}
    assert len(numbers) == 4


def test_codewords_spread_evenly_and_differ_between_copies(context, clock):
    for i in range(8):
        _add(context, f"+86138001380{i:02d}", quarantine_days=0)
    from canary.flow import service as flow

    with context.db.session() as session:
        flow.add_source(session, "H", "t")
        flow.add_feed(session, "F", "t", source="H")
        for h in range(40):
            flow.add_holder(session, f"holder {h}", "t", receives=["F"])
    from canary.flow.models import Copy

    with context.db.session() as session:
        copy_ids = list(session.scalars(select(Copy.id)))
    codewords = {}
    for copy_id in copy_ids:
        codewords[copy_id] = frozenset(
            _allocate(context, copy_id, slot=s).contact_point_id for s in range(2)
        )
    loads = Counter(cp for word in codewords.values() for cp in word)
    # 80 canaries over 8 numbers. Uniform random placement spreads the loads by about
    # 9 on average; the two-choice rule never exceeded 6 in 2,000 simulated keys.
    assert max(loads.values()) - min(loads.values()) <= 7
    # 28 possible pairs for 40 copies: codewords still differ (>= 17 in 2,000 keys).
    assert len(set(codewords.values())) >= 15


def test_allocation_reports_names_of_canaries_still_circulating(context, clock, copies):
    _add(context, "+8613800138000", quarantine_days=0)
    _allocate(context, copies[0], period="2026-W48")
    clock.advance(days=7)
    got = _allocate(context, copies[1], period="2026-W49")
    assert got.name_keys_in_use == {f"name-{copies[0]}-2026-W48-0"}


def test_cooldown_removes_a_number_until_it_ends(context, clock, copies):
    from canary.telephony import lifecycle

    cp_id = _add(context, "+8613800138000", quarantine_days=0)
    with context.db.session() as session:
        lifecycle.start_cooldown(session, context, cp_id, actor="test")
    with pytest.raises(NoPlausibleNumber):
        _allocate(context, copies[0])
    clock.advance(days=context.settings.cooldown_days, seconds=1)
    assert _allocate(context, copies[0]).contact_point_id == cp_id


def test_lookup_matches_number_or_its_unique_forwarding_target(context, clock):
    a = _add(context, "+8613800138000", forwards_to="+14155550100")
    b = _add(context, "+8613900139000", forwards_to="+14155550199")
    c = _add(context, "+8613700137000", forwards_to="+14155550199")
    with context.db.session() as session:
        assert pool.lookup(session, context, "+8613800138000").id == a
        assert pool.lookup(session, context, "+14155550100").id == a
        # Two local numbers forward to one Twilio number: only ForwardedFrom can tell.
        assert pool.lookup(session, context, "+14155550199") is None
        assert {p.id for p in pool.candidates_for(session, context, "+14155550199")} == {b, c}
        assert pool.lookup(session, context, "+8613600136000") is None
        assert pool.lookup(session, context, "garbage") is None


def test_called_numbers_spelled_as_the_pool_stores_them_need_no_parsing(
    context, clock, monkeypatch
):
    import secrets

    from canary import phones
    from canary.telephony import inbound, intake

    # Numbers no other test uses: parsed spellings are remembered process-wide.
    suffix = f"{secrets.randbelow(10**4):04d}"
    number, stranger = f"+8613811{suffix}22", f"+8613822{suffix}33"
    local = _add(context, number, forwards_to="+14155550111")
    parsed = []
    real = phones.try_normalize
    monkeypatch.setattr(
        phones, "try_normalize", lambda raw, *args: parsed.append(raw) or real(raw, *args)
    )

    def matched(forwarded_from):
        params = simulator.call_params(
            "+14155550111", "+8613912345678", forwarded_from=forwarded_from
        )
        return intake.match(None, context, inbound.read("call", params))

    found = matched(number)
    assert (found.contact_point.id, found.matched_on) == (local, "forwarded_from")
    assert parsed == []
    # Any other spelling is parsed, and names the same number.
    found = matched(number[1:])
    assert (found.contact_point.id, found.matched_on) == (local, "forwarded_from")
    assert parsed == [number]
    # A number in E.164 that is not in the pool is parsed and looked up as before.
    found = matched(stranger)
    assert (found.contact_point.id, found.matched_on) == (local, "to")
    assert parsed[-1] == stranger


def test_released_number_can_be_added_again_with_fresh_quarantine(context, clock):
    from canary.telephony import lifecycle

    cp_id = _add(context, "+8613800138000", quarantine_days=0)
    with context.db.session() as session:
        lifecycle.release(session, context, cp_id, actor="test")
    clock.advance(days=1)
    again = _add(context, "+8613800138000")
    with context.db.session() as session:
        point = session.get(ContactPoint, again)
        assert again == cp_id and point.state == "quarantine"
        assert point.quarantine_until == clock.now + dt.timedelta(days=14)


def test_matching_sees_a_number_another_process_added_at_once(context, clock):
    """A call is matched from this process's snapshot of the pool, and a repeat of the
    same called numbers from a memo of it; neither may hide a number that another
    process has just added (its own snapshot, not ours, is the one it drops)."""
    from canary.context import open_context
    from canary.telephony import inbound, intake

    twilio = _add(context, "+14155550100")  # a Twilio number, called directly
    params = simulator.call_params(
        "+14155550100", "+8613912345678", forwarded_from="+8613800138000"
    )

    def matched():
        return intake.match(None, context, inbound.read("call", params))

    for _ in range(2):  # the local number is not in the pool yet: the Twilio number
        found = matched()
        assert (found.contact_point.id, found.matched_on) == (twilio, "to")
    other = open_context(context.settings)
    try:
        local = _add(other, "+8613800138000", forwards_to="+14155550100")
    finally:
        other.close()
    found = matched()
    assert (found.contact_point.id, found.matched_on) == (local, "forwarded_from")
    assert matched() == found


def test_a_pool_change_in_another_process_ends_memoised_matches(context, clock, monkeypatch):
    from canary.context import open_context
    from canary.telephony import inbound, intake, lifecycle

    local = _add(context, "+8613800138000", forwards_to="+14155550100")
    params = simulator.call_params(
        "+14155550100", "+8613912345678", forwarded_from="+8613800138000"
    )

    def matched():
        return intake.match(None, context, inbound.read("call", params)).contact_point

    assert matched().state == "quarantine"
    monkeypatch.setattr(pool, "TARGET_CACHE_SECONDS", 0.0)  # every match re-reads the pool
    assert matched().id == local  # the pool reads the same: answered from the memo
    other = open_context(context.settings)
    try:
        with other.db.session() as session:
            lifecycle.release(session, other, local, actor="test")
    finally:
        other.close()
    assert matched().state == "released"


def _revision(context) -> int:
    from canary.telephony.models import PoolRevision

    with context.db.session() as session:
        return session.scalar(select(PoolRevision.revision))


def test_the_pool_revision_counts_every_change_matching_reads(context):
    from sqlalchemy import text

    start = _revision(context)
    local = _add(context, "+8613800138000", forwards_to="+14155550100")
    assert _revision(context) > start
    # Changes made in plain SQL, as by another program, count too.
    for statement, moves in (
        ("UPDATE contact_point SET cost_per_month = 9.5 WHERE id = :id", False),
        ("UPDATE contact_point SET state = 'available' WHERE id = :id", True),
        ("UPDATE contact_point SET country = 'HK' WHERE id = :id", True),
        ("DELETE FROM contact_point WHERE id = :id", True),
    ):
        before = _revision(context)
        with context.db.engine.begin() as conn:
            conn.execute(text(statement), {"id": local})
        assert (_revision(context) > before) is moves, statement


def test_an_unchanged_pool_is_checked_not_read_again(context, monkeypatch):
    from sqlalchemy import event

    from canary.context import open_context
    from canary.telephony import inbound, intake

    local = _add(context, "+8613800138000", forwards_to="+14155550100")
    params = simulator.call_params(
        "+14155550100", "+8613912345678", forwarded_from="+8613800138000"
    )
    statements: list[str] = []
    event.listen(
        context.db.engine, "before_cursor_execute", lambda c, cur, sql, *a: statements.append(sql)
    )
    monkeypatch.setattr(pool, "TARGET_CACHE_SECONDS", 0.0)  # every match checks the pool
    for _ in range(3):
        assert intake.match(None, context, inbound.read("call", params)).contact_point.id == local
    whole_pool_reads = [s for s in statements if "FROM contact_point" in s]
    assert len(whole_pool_reads) <= 1 and sum("pool_revision" in s for s in statements) >= 3
    # A change made by another process moves the revision: the pool is read again.
    other = open_context(context.settings)
    try:
        with other.db.engine.begin() as conn:
            conn.exec_driver_sql(f"UPDATE contact_point SET state = 'in_use' WHERE id = {local}")
    finally:
        other.close()
    assert intake.match(None, context, inbound.read("call", params)).contact_point.state == "in_use"
