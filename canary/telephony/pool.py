"""The number pool: adding numbers, allocating them to canaries, looking them up.

Lifecycle of a number (``ContactPoint.state``)::

    quarantine ──(quarantine_until passes)──► available ──(allocate)──► in_use
        ▲                                         ▲                        │
        │ re-added                                └──(cooldown_until)── cooldown ◄─ incident
    released ◄────────────────── release (any state) ─────────────────────┘

Time-based transitions are applied lazily (``refresh_states``) so that no job has to
run at the exact moment a quarantine ends.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from canary import phones
from canary.canaries.models import Canary, CanaryContact
from canary.context import Context
from canary.errors import AlreadyExists, CanaryError, NoPlausibleNumber
from canary.security import audit
from canary.telephony import codewords
from canary.telephony.models import ContactPoint, PoolRevision

# States a number can be allocated from (after lazy refresh).
ALLOCATABLE = ("available", "in_use")
STATES = ("quarantine", "available", "in_use", "cooldown", "released")


@dataclass(frozen=True)
class PhoneConstraints:
    """What a canary's phone must look like to pass in a given feed."""

    region: str = "CN"  # ISO region of the feed's phones
    number_type: str = "mobile"
    # Carrier prefixes seen in the feed (first three national digits for CN mobiles).
    prefixes: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True)
class AllocatedNumber:
    contact_point_id: int
    e164: str
    # Name keys of canaries that may still be circulating on this number: a new canary
    # on it must have a name that sounds different from every one of these.
    name_keys_in_use: frozenset[str] = field(default_factory=frozenset)


def phone_hash(ctx: Context, e164: str) -> str:
    """The keyed lookup hash of a normalised number (shared by pool, events, allowlist)."""
    return ctx.keys.lookup_hash("phone", e164)


def prefix_of(e164: str) -> str:
    """First three national digits: the carrier prefix of a CN mobile, a US area code."""
    return phones.national_digits(e164)[:3]


def add_number(
    session: Session,
    ctx: Context,
    e164_or_raw: str,
    *,
    forwards_to: str | None = None,
    provider: str = "manual",
    provider_sid: str = "",
    cost_per_month: float = 0.0,
    currency: str = "USD",
    quarantine_days: int | None = None,
    default_region: str = "CN",
    actor: str,
) -> ContactPoint:
    """Add a number to the pool, quarantined before any canary may use it.

    ``forwards_to`` is the provider number a local number forwards to (the normal
    set-up where Twilio sells no numbers, e.g. mainland China). ``quarantine_days``
    overrides the setting (0 makes the number available at once: tests, the demo).
    A released number can be added again; it starts a fresh quarantine.
    """
    e164 = phones.normalize(e164_or_raw, default_region)
    target = phones.normalize(forwards_to, default_region) if forwards_to else None
    if target == e164:
        raise CanaryError("a number cannot forward to itself; omit --forwards-to")
    if cost_per_month < 0:
        raise CanaryError("cost per month cannot be negative")
    now = ctx.clock()
    days = ctx.settings.quarantine_days if quarantine_days is None else quarantine_days
    if days < 0:
        raise CanaryError("quarantine days cannot be negative")
    digest = phone_hash(ctx, e164)
    point = session.scalar(select(ContactPoint).where(ContactPoint.value_hash == digest))
    if point is not None and point.state != "released":
        raise AlreadyExists(
            f"number {mask(e164)} is already in the pool (id {point.id}, state {point.state})"
        )
    if point is None:
        point = ContactPoint(value_hash=digest, value_enc=b"")
        session.add(point)
    point.kind = "phone"
    point.value_enc = ctx.keys.encrypt_text(e164, "contact_point")
    point.forwards_to_enc = ctx.keys.encrypt_text(target, "contact_point") if target else None
    point.forwards_to_hash = phone_hash(ctx, target) if target else None
    point.country = phones.region_of(e164)
    point.number_type = phones.number_type(e164)
    point.prefix = prefix_of(e164)
    point.provider = provider
    point.provider_sid = provider_sid
    point.cost_per_month = float(cost_per_month)
    point.currency = (currency or "USD").upper()[:3]
    point.added_at = now
    point.released_at = None
    point.cooldown_until = None
    point.quarantine_until = now + dt.timedelta(days=days)
    point.state = "quarantine" if days > 0 else "available"
    session.flush()
    forget_targets(ctx)
    audit.record(
        session,
        actor,
        "number.add",
        "contact_point",
        point.id,
        provider=provider,
        country=point.country,
        forwarded=bool(target),
        quarantine_days=days,
    )
    return point


def number_of(ctx: Context, point: ContactPoint) -> str:
    """Decrypt a pool number (operators manage numbers; never logged)."""
    return ctx.keys.decrypt_text(point.value_enc, "contact_point")


def forwards_to_of(ctx: Context, point: ContactPoint) -> str | None:
    if point.forwards_to_enc is None:
        return None
    return ctx.keys.decrypt_text(point.forwards_to_enc, "contact_point")


def mask(e164: str) -> str:
    """``+8613800138000`` → ``+86138****8000``: enough to tell numbers apart in messages."""
    if len(e164) <= 8:
        return "*" * len(e164)
    return e164[:6] + "*" * (len(e164) - 10) + e164[-4:]


def hint(e164: str) -> str:
    """``+8613800138000`` → ``+86·········00``: country and last two digits only, which
    match about one row in a hundred of any feed, so the list cannot be grepped for."""
    try:
        prefix = f"+{phones.parse(e164).country_code}"
    except CanaryError:
        prefix = ""
    hidden = max(0, len(e164) - len(prefix) - 2)
    return prefix + "·" * hidden + e164[-2:]


def refresh_states(session: Session, at: dt.datetime) -> None:
    """Apply time-based transitions: quarantine and cooldown end when their time passes."""
    session.execute(
        update(ContactPoint)
        .where(ContactPoint.state == "quarantine", ContactPoint.quarantine_until <= at)
        .values(state="available")
    )
    # A number leaving cooldown that still carries live canaries goes back to in_use
    # when it is next allocated; until then "available" is the honest description.
    session.execute(
        update(ContactPoint)
        .where(ContactPoint.state == "cooldown", ContactPoint.cooldown_until <= at)
        .values(state="available", cooldown_until=None)
    )


def circulating_since(ctx: Context, at: dt.datetime) -> dt.datetime:
    """Canaries that went live after this moment may still be circulating.

    Leaked lists are resold for years (the Shanghai case ran 2020–2023), so the
    window is long and configurable (setting ``circulation_days``, default 3 years).
    """
    return at - dt.timedelta(days=ctx.settings.circulation_days)


def name_keys_in_use(session: Session, ctx: Context, contact_point_id: int, at: dt.datetime):
    """Name keys of canaries on this number that may still circulate."""
    rows = session.scalars(
        select(Canary.name_key)
        .join(CanaryContact, CanaryContact.canary_id == Canary.id)
        .where(
            CanaryContact.contact_point_id == contact_point_id,
            Canary.live_from >= circulating_since(ctx, at),
            Canary.name_key != "",
        )
        .distinct()
    )
    return frozenset(rows)


def _eligible(session: Session, constraints: PhoneConstraints) -> list[ContactPoint]:
    query = select(ContactPoint).where(
        ContactPoint.kind == "phone",
        ContactPoint.state.in_(ALLOCATABLE),
        ContactPoint.country == constraints.region.upper(),
        ContactPoint.number_type == constraints.number_type,
    )
    if constraints.prefixes:
        query = query.where(ContactPoint.prefix.in_(sorted(constraints.prefixes)))
    return list(session.scalars(query.order_by(ContactPoint.id)))


def _loads(session: Session, ctx: Context, ids: Iterable[int], at: dt.datetime) -> dict[int, int]:
    """How many possibly-circulating canaries each number carries."""
    ids = list(ids)
    if not ids:
        return {}
    rows = session.execute(
        select(CanaryContact.contact_point_id, func.count(Canary.id))
        .join(Canary, Canary.id == CanaryContact.canary_id)
        .where(
            CanaryContact.contact_point_id.in_(ids),
            Canary.live_from >= circulating_since(ctx, at),
        )
        .group_by(CanaryContact.contact_point_id)
    )
    return {cp_id: count for cp_id, count in rows}


def _numbers_of_copy_period(session: Session, copy_id: int, period: str, slot: int) -> set[int]:
    """Numbers already carried by the other slots of this copy and period."""
    rows = session.scalars(
        select(CanaryContact.contact_point_id)
        .join(Canary, Canary.id == CanaryContact.canary_id)
        .where(Canary.copy_id == copy_id, Canary.period == period, Canary.slot != slot)
    )
    return set(rows)


def _no_number_message(constraints: PhoneConstraints, why: str) -> str:
    region = constraints.region.upper()
    prefixes = sorted(constraints.prefixes)
    example = {
        "CN": "+86" + (prefixes[0] if prefixes else "138") + "00138000",
        "US": "+1" + (prefixes[0] if prefixes else "415") + "5550100",
    }.get(region, f"<a {region} {constraints.number_type} number>")
    wanted = f"{region} {constraints.number_type} number"
    if prefixes:
        wanted += f" with prefix {', '.join(prefixes)}"
    return (
        f"no pool number can pass as a phone of this feed ({why}); the feed needs a "
        f"{wanted}. Add local numbers that forward to the service's Twilio number, e.g. "
        f"`canary numbers add {example} --forwards-to +14155550100` (they are quarantined "
        f"for quarantine_days first), or buy one where Twilio sells them with "
        f"`canary numbers buy --country {region} --type {constraints.number_type}`."
    )


def allocate(
    session: Session,
    ctx: Context,
    *,
    copy_id: int,
    period: str,
    slot: int,
    constraints: PhoneConstraints,
    at: dt.datetime,
) -> AllocatedNumber:
    """Choose a plausible pool number for one canary (copy, period, slot).

    Plausible: same region and number type as the feed's phones, and a carrier prefix
    the feed contains. Not quarantined, cooling down or released. The choice is the
    keyed codeword assignment of ``codewords``; the slots of one copy and period get
    distinct numbers whenever the pool allows, so the copy's codeword has full weight.
    """
    refresh_states(session, at)
    candidates = _eligible(session, constraints)
    if not candidates:
        waiting = session.scalar(
            select(func.count(ContactPoint.id)).where(
                ContactPoint.state.in_(("quarantine", "cooldown")),
                ContactPoint.country == constraints.region.upper(),
            )
        )
        why = (
            f"{waiting} matching-region numbers are still in quarantine or cooldown"
            if waiting
            else "none matches region, type and carrier prefix"
        )
        raise NoPlausibleNumber(_no_number_message(constraints, why))
    by_id = {cp.id: cp for cp in candidates}
    taken = _numbers_of_copy_period(session, copy_id, period, slot)
    pool_ids = [i for i in by_id if i not in taken] or list(by_id)
    seed = ctx.keys.derive("codeword", f"copy:{copy_id}", period, f"slot:{slot}")
    loads = _loads(session, ctx, pool_ids, at)
    chosen_id = codewords.choose(seed, pool_ids, lambda i: loads.get(i, 0))
    assert chosen_id is not None  # pool_ids is non-empty
    point = by_id[chosen_id]
    point.state = "in_use"
    session.flush()
    return AllocatedNumber(
        contact_point_id=point.id,
        e164=number_of(ctx, point),
        name_keys_in_use=name_keys_in_use(session, ctx, point.id, at),
    )


def lookup(session: Session, ctx: Context, raw_number: str) -> ContactPoint | None:
    """The pool number a called number belongs to: itself, or the one number forwarding
    to it. ``None`` if unknown, or if several local numbers forward to it (ambiguous:
    only ForwardedFrom or a SIP header can tell them apart)."""
    matches = candidates_for(session, ctx, raw_number)
    return matches[0] if len(matches) == 1 else None


@dataclass(frozen=True)
class Target:
    """What intake needs of a pool number: read with one indexed query, no ORM."""

    id: int
    country: str
    state: str
    quarantine_until: dt.datetime | None


_POINT = ContactPoint.__table__
_TARGETS = (
    select(
        _POINT.c.id,
        _POINT.c.country,
        _POINT.c.state,
        _POINT.c.quarantine_until,
        _POINT.c.value_hash,
    )
    .where(
        (_POINT.c.value_hash == bindparam("digest"))
        | (_POINT.c.forwards_to_hash == bindparam("digest"))
    )
    .order_by(_POINT.c.id)
)


_POOL = select(
    _POINT.c.id,
    _POINT.c.country,
    _POINT.c.state,
    _POINT.c.quarantine_until,
    _POINT.c.value_hash,
    _POINT.c.forwards_to_hash,
).order_by(_POINT.c.id)


_REVISION = select(PoolRevision.revision).where(PoolRevision.id == 1)


@dataclass(frozen=True)
class _Snapshot:
    """The whole pool as one process last read it: a few thousand small rows at most
    (every number costs money each month), so every webhook is matched in memory."""

    read_at: float
    direct: dict[str, Target]
    forwarded: dict[str, tuple[Target, ...]]
    # Intake's matches made from the snapshot alone, by the webhook's called-number
    # parameters (``intake.match``): a repeat of them is answered by one lookup.
    matches: dict = field(default_factory=dict)
    # ``pool_revision`` when the pool was read (None: unknown, so always read again).
    revision: int | None = None


# Per process and database. A snapshot older than TARGET_CACHE_SECONDS is checked
# against ``pool_revision``, which triggers move with every change to what it holds,
# and read again only if that moved; a number missing from it is looked up in the
# database. So a number added elsewhere is matched at once and any other pool change is
# seen within TARGET_CACHE_SECONDS; this process's own changes (add_number,
# forget_targets) are seen immediately.
TARGET_CACHE_SECONDS = 1.0
# Matches are memoised per distinct set of called-number parameters, which come from
# the pool's own numbers; the cap only bounds memory should that ever not hold.
MAX_MEMOISED_MATCHES = 100_000
_SNAPSHOT = "pool snapshot"  # its key in ``Database.memo``
_snapshots_lock = threading.Lock()


def forget_targets(ctx: Context) -> None:
    """Drop this process's snapshot of the pool (after a change to the pool)."""
    ctx.db.memo.pop(_SNAPSHOT, None)


def _execute(conn: Connection | None, ctx: Context, statement, params=None) -> list:
    if conn is not None:
        return conn.execute(statement, params).all()
    with ctx.db.engine.connect() as fresh:
        return fresh.execute(statement, params).all()


def _snapshot(conn: Connection | None, ctx: Context) -> _Snapshot:
    now = time.monotonic()
    snapshot = ctx.db.memo.get(_SNAPSHOT)
    if snapshot is not None and now - snapshot.read_at < TARGET_CACHE_SECONDS:
        return snapshot
    with _snapshots_lock:  # one reader per process; the other threads wait for it
        snapshot = ctx.db.memo.get(_SNAPSHOT)
        if snapshot is not None and now - snapshot.read_at < TARGET_CACHE_SECONDS:
            return snapshot
        # Read before the pool: a change committed in between is in what is read now,
        # and read once more next time, never missed.
        revision = _execute(conn, ctx, _REVISION)
        revision = revision[0].revision if revision else None
        if snapshot is not None and revision is not None and revision == snapshot.revision:
            snapshot = replace(snapshot, read_at=now)  # unchanged: one small query, no read
            ctx.db.memo[_SNAPSHOT] = snapshot
            return snapshot
        direct: dict[str, Target] = {}
        forwarded: dict[str, list[Target]] = {}
        for row in _execute(conn, ctx, _POOL):
            target = Target(row.id, row.country, row.state, row.quarantine_until)
            direct.setdefault(row.value_hash, target)
            if row.forwards_to_hash:
                forwarded.setdefault(row.forwards_to_hash, []).append(target)
        forwarded_targets = {k: tuple(v) for k, v in forwarded.items()}
        matches: dict = {}
        if (
            snapshot is not None
            and snapshot.direct == direct
            and snapshot.forwarded == forwarded_targets
            and len(snapshot.matches) < MAX_MEMOISED_MATCHES
        ):
            # The pool is as it was: what was matched from it still holds.
            matches = snapshot.matches
        snapshot = _Snapshot(now, direct, forwarded_targets, matches, revision)
        ctx.db.memo[_SNAPSHOT] = snapshot
        return snapshot


def snapshot_matches(conn: Connection | None, ctx: Context) -> dict:
    """The current snapshot's memo of intake matches. It lives as long as the pool
    reads the same: a re-read that finds any change, or this process's own change
    (``forget_targets``), starts it afresh."""
    return _snapshot(conn, ctx).matches


def targets_for(conn: Connection | None, ctx: Context, e164: str) -> tuple[Target, ...]:
    """``candidates_for`` for intake's hot path: the number itself if it is in the pool,
    else every pool number forwarding to it. ``e164`` is already normalised. Without
    ``conn``, a connection is opened only if the database must be asked."""
    digest = phone_hash(ctx, e164)
    found = _snapshot_targets(conn, ctx, digest)
    if found is not None:
        return found
    # Not in the pool as this process last read it: perhaps added moments ago.
    rows = _execute(conn, ctx, _TARGETS, {"digest": digest})
    direct = [r for r in rows if r.value_hash == digest]
    if rows:
        forget_targets(ctx)
    return tuple(Target(r.id, r.country, r.state, r.quarantine_until) for r in (direct[:1] or rows))


def known_targets(conn: Connection | None, ctx: Context, raw: str) -> tuple[Target, ...] | None:
    """``targets_for`` of a called number spelled exactly as a pool number is stored
    (E.164, as Twilio sends it), from the snapshot alone; None for any other spelling.

    Such a number needs no parsing: it is already the normalised form of itself. Each
    new worker process used to parse every pool number once (about 15 us each), and a
    snapshot that finds the pool changed starts the memo of matches afresh.
    """
    return _snapshot_targets(conn, ctx, phone_hash(ctx, raw)) if raw.startswith("+") else None


def _snapshot_targets(
    conn: Connection | None, ctx: Context, digest: str
) -> tuple[Target, ...] | None:
    """The pool number with this hash, or every one forwarding to it, as the snapshot
    has them (None: the snapshot has neither)."""
    snapshot = _snapshot(conn, ctx)
    hit = snapshot.direct.get(digest)
    return (hit,) if hit is not None else snapshot.forwarded.get(digest)


def candidates_for(session: Session, ctx: Context, raw_number: str) -> list[ContactPoint]:
    """Every pool number a called number may stand for (direct match first)."""
    e164 = phones.try_normalize(raw_number or "")
    if e164 is None:
        return []
    targets = targets_for(session.connection(), ctx, e164)
    return [session.get(ContactPoint, t.id) for t in targets]
