"""Where a webhook (or a polled record) becomes a stored Event.

The order is the point of this module:

1. check the parameters (``accept``, via ``inbound.read``), refusing garbled ones with
   a clear reason, without touching the database;
2. store the event, verbatim and encrypted, with plain INSERTs (no ORM) and COMMIT,
   so nothing the caller did is lost even if everything after fails: one record in
   its own transaction (``store``), or many in one multi-row INSERT (``store_many``,
   for the webhook journal, ``canary.telephony.journal``, which holds accepted
   webhooks between their answer and their store); the event is marked
   ``evidence_pending``;
3. only then append its evidence-log entry (hash-chained and signed, serialised across
   writers: ``canary.telephony.evidence``), look for name and birth-date mentions and
   hand the event to attribution. With ``attribute_in_webhook`` off all of that is the
   scheduler's; whatever fails here stays pending and the scheduler retries it.

Events are unique per (provider, kind, SID): a replayed or re-polled webhook finds the
stored event and is answered normally without creating a second one."""

from __future__ import annotations

import base64
import datetime as dt
import functools
import json
import logging
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.engine import Connection, Dialect, Row
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from canary.context import Context
from canary.errors import PermissionDenied
from canary.telephony import callers, forms, lifecycle, pool
from canary.telephony import inbound as inbound_mod
from canary.telephony.callers import number_in
from canary.telephony.inbound import Inbound
from canary.telephony.models import ContactPoint, Event

log = logging.getLogger("canary.telephony.intake")

PROVIDER = "twilio"
# Status and recording callbacks, and transcriptions of a stored call, only add
# detail to a contact already stored: they are evidence, not contacts of their own.
DETAIL_KINDS = ("status", "recording")
# How a webhook's parameters were read from its body (``accept``'s ``body_format``).
BODY_FORM = "form"
BODY_JSON = "json"


class WrongAccount(PermissionDenied):
    """A correctly signed webhook for another Twilio account (shared auth token?)."""


class Received(NamedTuple):
    """What intake did with one webhook; the web layer answers from it. (A NamedTuple:
    immutable, and cheaper to make per stored row than a frozen dataclass.)"""

    # None for a record ``store_many`` stored without reading its id back, as nothing
    # follows up on it here (``followup.has_work``): its row is found by its SID.
    event_id: int | None
    kind: str
    duplicate: bool
    contact_point_id: int | None
    country: str  # of the matched number, for the greeting's language
    classification: str
    # Rows this webhook inserted (a status callback may also insert its missed call).
    new_event_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class Match:
    contact_point: pool.Target | None
    matched_on: str  # sip_header | forwarded_from | to | parent | "" (unmatched)
    candidates: tuple[int, ...]


# The numbers called are the service's own (pool and Twilio numbers): a bounded set,
# worth remembering normalised. Callers' numbers are not cached.
_called_number = functools.lru_cache(maxsize=4096)(number_in)


def match(conn: Connection | None, ctx: Context, item: Inbound) -> Match:
    """The pool number a call or message was meant for.

    A SIP header set by our own forwarding server is the most specific, then Twilio's
    ForwardedFrom (carrier-dependent), then the called number itself (a direct
    Twilio number, or a forwarding target shared by exactly one local number).
    Without ``conn``, a connection is opened only if the lookup cache has no answer.
    """
    key = (item.sip_called, item.forwarded_from, item.to)
    memo = pool.snapshot_matches(conn, ctx)
    found = memo.get(key)
    if found is None:
        found, from_snapshot = _match(conn, ctx, key)
        if from_snapshot:
            memo[key] = found
    return found


def _match(conn: Connection | None, ctx: Context, called: tuple[str, ...]) -> tuple[Match, bool]:
    """(``match``, whether the pool snapshot alone answered it). A number not in the
    snapshot is looked up in the database, so such an answer is never memoised."""
    ambiguous: tuple[int, ...] = ()
    asked_database = False
    for source, raw in zip(("sip_header", "forwarded_from", "to"), called, strict=True):
        points = pool.known_targets(conn, ctx, raw)
        if points is None:
            number = _called_number(raw)
            if not number:
                continue
            points = pool.targets_for(conn, ctx, number)
        if len(points) == 1:
            return Match(points[0], source, (points[0].id,)), not asked_database
        if points and not ambiguous:
            ambiguous = tuple(p.id for p in points)
        asked_database = asked_database or not points
    found = Match(None, "ambiguous" if ambiguous else "", ambiguous)
    return found, not asked_database


def _clean_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """``_clean`` of a webhook's parameters, without recursion for the usual flat form."""
    out: dict[str, Any] = {}
    for key, value in params.items():
        if type(key) is not str or not key.isascii():
            key = _clean(str(key))
        if type(value) is str and value.isascii():
            out[key] = value
        else:
            out[key] = _clean(value)
    return out


def _clean(value: Any) -> Any:
    """JSON-safe copy: lone surrogates and other unencodable text replaced."""
    if isinstance(value, str):
        return inbound_mod.valid_text(value)
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, dict):
        return {_clean(str(k)): _clean(v) for k, v in value.items()}
    return value if value is None or isinstance(value, int | float | bool) else str(value)


def payload_of(ctx: Context, event: Event) -> dict:
    """The verbatim webhook or API record of an event (decrypted; personal data): what
    its evidence entry's ``payload_sha256`` attests. ``params_of`` gives its parameters."""
    return ctx.keys.decrypt_json(
        event.payload_enc, Event.payload_aad(event.provider, event.kind, event.provider_sid)
    )


def params_of(payload: dict) -> dict[str, Any]:
    """A record's parameters: kept as they are, or read again from the body a webhook's
    record keeps instead (``accept``), exactly as the webhook view read them."""
    if "params" in payload:
        return payload["params"]
    raw = raw_body_of(payload)
    body_format = payload["body_format"]
    if body_format == BODY_JSON:
        params = json.loads(raw.decode("utf-8", "surrogateescape"))
        if not isinstance(params, dict):
            raise ValueError("the JSON body is not an object")
    elif body_format == BODY_FORM:
        try:
            params = forms.parse_form(raw.decode()).flat()
        except UnicodeDecodeError:
            params = {}  # what werkzeug's parser makes of it: no fields
    else:
        raise ValueError(f"unknown body format {body_format!r}")
    return _clean_params(params)


def raw_body_of(payload: dict) -> bytes:
    """The request body a webhook's record keeps, byte for byte."""
    if "raw_body" in payload:
        return payload["raw_body"].encode("utf-8")
    return base64.b64decode(payload["raw_body_b64"], validate=True)


def _keep_body(payload: dict[str, Any], raw_body: bytes) -> None:
    """Keep the body in the record: as its text when it is UTF-8 (every body Twilio
    sends; decoding and encoding again gives the same bytes), else in base64, which
    costs a third more to encode, encrypt, write and store."""
    try:
        payload["raw_body"] = raw_body.decode("utf-8")
    except UnicodeDecodeError:
        payload["raw_body_b64"] = base64.b64encode(raw_body).decode()


def caller_of(ctx: Context, event: Event) -> str | None:
    return callers.text_of(ctx, event.caller_enc)


_EVENT = Event.__table__
_INSERT_EVENT = insert(_EVENT)
_INSERT_MANY = _INSERT_EVENT.returning(_EVENT.c.id, _EVENT.c.kind, _EVENT.c.provider_sid)
_FIND_EVENT = select(
    _EVENT.c.id,
    _EVENT.c.contact_point_id,
    _EVENT.c.caller_hash,
    _EVENT.c.caller_block_hash,
    _EVENT.c.caller_enc,
    _EVENT.c.classification,
).where(
    _EVENT.c.provider == bindparam("provider"),
    _EVENT.c.kind == bindparam("kind"),
    _EVENT.c.provider_sid == bindparam("sid"),
)


@functools.lru_cache(maxsize=16)
def _driver_insert(dialect: Dialect, keys: tuple[str, ...]) -> tuple[str, Callable]:
    """The INSERT of event rows with these ``keys``, as the driver takes it, and the
    function that turns a row into the driver's parameters.

    Both are SQLAlchemy's own (the compiled statement and each column type's bind
    processor), worked out once per dialect: ``conn.execute(insert, rows)`` works them
    out again for every row, which was a sixth of what storing a journalled webhook
    cost.
    """
    compiled = _INSERT_EVENT.compile(dialect=dialect, column_keys=list(keys))
    processors = {
        key: _EVENT.c[key].type.dialect_impl(dialect).bind_processor(dialect) for key in keys
    }
    # Most columns have no processor (four of seventeen do): only those are converted.
    if compiled.positional:
        names = tuple(compiled.positiontup)
        take = operator.itemgetter(*names) if len(names) > 1 else lambda row: (row[names[0]],)
        at = tuple((i, processors[name]) for i, name in enumerate(names) if processors[name])

        def parameters(row: dict[str, Any]) -> tuple:
            values = list(take(row))
            for i, process in at:
                values[i] = process(values[i])
            return tuple(values)  # the driver's executemany takes tuples, not lists

    else:
        converted = tuple((name, p) for name, p in processors.items() if p is not None)

        def parameters(row: dict[str, Any]) -> dict[str, Any]:
            values = dict(row)
            for name, process in converted:
                values[name] = process(values[name])
            return values

    return compiled.string, parameters


def _insert_rows(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """INSERT event rows (all with the same keys, as ``_row`` makes them), reading
    nothing back."""
    sql, parameters = _driver_insert(conn.dialect, tuple(rows[0]))
    conn.exec_driver_sql(sql, [parameters(row) for row in rows])


def _existing(conn: Connection, kind: str, sid: str, provider: str = PROVIDER) -> Row | None:
    return conn.execute(_FIND_EVENT, {"provider": provider, "kind": kind, "sid": sid}).first()


def _row(
    ctx: Context,
    item: Inbound,
    kind: str,
    sid: str,
    parent_sid: str,
    payload_enc: bytes,
    via: str,
    now: dt.datetime,
) -> dict[str, Any]:
    """The event's row. ``payload_enc``: its record, encrypted under the row's AAD."""
    return {
        "kind": kind,
        "provider": PROVIDER,
        "provider_sid": sid,
        "parent_sid": parent_sid,
        "occurred_at": item.occurred_at or now,
        "received_at": now,
        "via": via,
        "classification": "pending",
        "detail": {},
        "incident_id": None,
        "payload_enc": payload_enc,
        # The webhook only stores; the evidence entry is the scheduler's (evidence.py).
        "evidence_pending": True,
        # Normalised and hashed later (``callers.resolve``): not on the webhook's path.
        **callers.as_received(ctx, item.from_),
    }


def _describe(item: Inbound, found: Match, point: pool.Target | None, at) -> dict:
    """Clear-text detail for attribution: ids, flags and counts, never personal data."""
    detail: dict[str, Any] = {"matched_on": found.matched_on}
    if found.candidates and found.contact_point is None:
        detail["candidate_contact_point_ids"] = list(found.candidates)
    if point is not None:
        detail["in_quarantine"] = lifecycle.in_quarantine(point, at)
        detail["contact_point_state"] = point.state
    if item.status:
        detail["status"] = item.status
    if item.duration_seconds is not None:
        detail["duration_seconds"] = item.duration_seconds
    if item.recording_sid:
        detail["recording_sid"] = item.recording_sid
    if item.media_urls:
        detail["media_count"] = len(item.media_urls)
    if item.kind in ("sms", "transcription"):
        detail["text_chars"] = len(item.text)
    return detail


def _point(conn: Connection, point_id: int | None) -> pool.Target | None:
    if not point_id:
        return None
    row = conn.execute(
        select(
            ContactPoint.id, ContactPoint.country, ContactPoint.state, ContactPoint.quarantine_until
        ).where(ContactPoint.id == point_id)
    ).first()
    return pool.Target(*row) if row else None


class _Stored(NamedTuple):
    event_id: int | None
    duplicate: bool
    point: pool.Target | None
    classification: str
    new_ids: tuple[int, ...] = ()


def _duplicate(conn: Connection, item: Inbound) -> _Stored | None:
    existing = _existing(conn, item.kind, item.sid)
    if existing is None:
        return None
    return _Stored(
        existing.id, True, _point(conn, existing.contact_point_id), existing.classification
    )


@dataclass
class Accepted:
    """A webhook or polled record that passed every check, ready to be stored."""

    item: Inbound
    payload: bytes  # the verbatim record as JSON text; encrypted when stored
    via: str
    received_at: dt.datetime
    # The pool number it was meant for, when the answer already looked it up
    # (``called_country``): storing it then need not look again.
    matched: Match | None = field(default=None, compare=False)
    # ``payload`` encrypted as its event row keeps it (``sealed``), once it was made.
    payload_enc: bytes | None = field(default=None, compare=False, repr=False)


def payload_aad(kind: str, sid: str, provider: str = PROVIDER) -> bytes:
    return Event.payload_aad(provider, kind, sid).encode()


def sealed(ctx: Context, acc: Accepted) -> bytes:
    """The record's payload encrypted under its event row's AAD: made once, whether
    the webhook journal (which keeps it) or storing the row needs it first."""
    if acc.payload_enc is None:
        acc.payload_enc = ctx.keys.encrypt(acc.payload, payload_aad(acc.item.kind, acc.item.sid))
    return acc.payload_enc


@dataclass
class _Plan:
    """The rows one accepted record becomes, worked out with reads only."""

    row: dict[str, Any]
    point: pool.Target | None
    parent_row: dict[str, Any] | None = None
    # A backfilled call or message: callbacks stored before it get its number.
    link_children: bool = False

    @property
    def simple(self) -> bool:
        """One plain INSERT: can share a multi-row INSERT with other records."""
        return self.parent_row is None and not self.link_children


def _plan(conn: Connection, ctx: Context, acc: Accepted) -> _Plan:
    item, via, now = acc.item, acc.via, acc.received_at
    if acc.matched is not None:
        found = acc.matched
    elif item.kind in ("call", "sms", "status"):
        found = match(conn, ctx, item)
    else:
        found = Match(None, "", ())
    point = found.contact_point
    parent = None
    insert_parent = False
    if item.parent_sid:
        parent_kind = "call" if item.parent_sid.startswith("CA") else "sms"
        parent = _existing(conn, parent_kind, item.parent_sid)
        # The voice webhook was missed but the status callback arrived: it carries the
        # call's parameters, so the call itself is not lost.
        insert_parent = (
            parent is None and item.kind == "status" and parent_kind == "call" and bool(item.to)
        )
        if point is None and parent is not None and parent.contact_point_id:
            point = _point(conn, parent.contact_point_id)
            found = Match(point, "parent", (parent.contact_point_id,))
    row = _row(ctx, item, item.kind, item.sid, item.parent_sid, sealed(ctx, acc), via, now)
    if parent is not None and not item.from_:
        row["caller_hash"], row["caller_block_hash"] = parent.caller_hash, parent.caller_block_hash
        row["caller_enc"] = parent.caller_enc
    row["contact_point_id"] = point.id if point else None
    row["detail"] = _describe(item, found, point, row["occurred_at"])
    if item.kind in DETAIL_KINDS or (item.kind == "transcription" and parent is not None):
        row["classification"] = "evidence"
    elif point is None and not found.candidates:
        row["classification"] = "unmatched"
    parent_row = None
    if insert_parent:
        parent_enc = ctx.keys.encrypt(acc.payload, payload_aad("call", item.parent_sid))
        parent_row = _row(ctx, item, "call", item.parent_sid, "", parent_enc, "status", now)
        parent_row["contact_point_id"] = row["contact_point_id"]
        parent_row["detail"] = _describe(item, found, point, parent_row["occurred_at"])
        parent_row["classification"] = "pending" if (point or found.candidates) else "unmatched"
    # A call's own webhook always precedes its callbacks; a backfilled one may not.
    link = item.kind in ("call", "sms") and point is not None and via != "webhook"
    return _Plan(row, point, parent_row, link)


def _store(conn: Connection, ctx: Context, acc: Accepted) -> _Stored:
    """Insert and commit one record (and, for a status callback of an unseen call, the call).

    Every read comes first; the write transaction holds the inserts and nothing else,
    so SQLite's single write lock is held for as short a time as possible. A replay is
    found by the unique (provider, kind, SID) constraint, not by a SELECT before every
    insert: replays are rare, first deliveries are not.
    """
    plan = _plan(conn, ctx, acc)
    new_ids: list[int] = []
    with ctx.db.writer_turn():
        try:
            if plan.parent_row is not None:
                new_ids.append(conn.execute(_INSERT_EVENT, plan.parent_row).inserted_primary_key[0])
            event_id = conn.execute(_INSERT_EVENT, plan.row).inserted_primary_key[0]
            new_ids.append(event_id)
            if plan.link_children:
                conn.execute(
                    update(Event)
                    .where(Event.parent_sid == acc.item.sid, Event.contact_point_id.is_(None))
                    .values(contact_point_id=plan.point.id)
                )
            conn.commit()
        except BaseException:
            conn.rollback()  # before the next writer's turn: SQLite keeps the lock until then
            raise
    return _Stored(event_id, False, plan.point, plan.row["classification"], tuple(new_ids))


_JSON_STRING = json.encoder.encode_basestring  # a str as JSON text, non-ASCII kept


def _json_bytes(payload: dict[str, Any]) -> bytes:
    """``json.dumps(payload, ensure_ascii=False, sort_keys=True)``, encoded: the same
    serialisation as ``KeyRing.encrypt_json``, so ``payload_of`` reads it back.

    A webhook's record is a handful of strings (``accept``): for those the text is
    joined here, byte for byte what ``json.dumps`` writes, at a quarter of the cost of
    building an encoder for every webhook.
    """
    if all(type(value) is str for value in payload.values()):
        fields = sorted(payload.items())
        text = ", ".join(f"{_JSON_STRING(name)}: {_JSON_STRING(value)}" for name, value in fields)
        return ("{" + text + "}").encode()
    return json.dumps(payload, ensure_ascii=False, sort_keys=True).encode()


def accept(
    ctx: Context,
    kind: str,
    params: Mapping[str, Any],
    *,
    via: str = "webhook",
    raw_body: bytes | None = None,
    body_format: str = "",
    url: str = "",
    received_at: dt.datetime | None = None,
) -> Accepted:
    """Check one webhook or polled record without touching the database.

    The record keeps the body verbatim when there is one (``raw_body``). When
    ``params`` were read from it (``body_format``: ``BODY_FORM`` or ``BODY_JSON``),
    the record keeps the body alone and ``params_of`` reads the parameters from it
    again: storing both would double what every webhook encodes, encrypts and writes.

    Raises ``inbound.BadWebhook`` (400) for missing or garbled parameters and
    ``WrongAccount`` (403) for another account's callback.
    """
    item = inbound_mod.read(kind, params)
    expected = ctx.settings.twilio_account_sid
    if expected and item.account_sid != expected:
        raise WrongAccount("the webhook is for a different Twilio account")
    payload: dict[str, Any] = {"via": via, "url": url}
    if raw_body is not None:
        _keep_body(payload, raw_body)
    if raw_body is not None and body_format in (BODY_FORM, BODY_JSON):
        payload["body_format"] = body_format
    else:
        payload["params"] = _clean_params(item.params)
    return Accepted(item, _json_bytes(payload), via, received_at or ctx.clock())


def accepted_again(
    kind: str, payload: bytes, via: str | None, received_at: dt.datetime
) -> Accepted:
    """An ``Accepted`` rebuilt from the payload ``accept`` made (a journal's record);
    ``via`` None: as the payload says.

    The account was checked when the record was first accepted; the parameters are
    read again, from the payload exactly as it will be stored.
    """
    record = json.loads(payload)
    params = params_of(record)
    if not isinstance(params, dict):
        raise ValueError("payload without parameters")
    via = record["via"] if via is None else via
    return Accepted(inbound_mod.read(kind, params), payload, via, received_at)


def called_country(ctx: Context, acc: Accepted) -> str:
    """Country of the pool number a call was meant for ("" if none), for the greeting.

    Answered from the pool lookup cache when it can, so a journalled webhook usually
    touches no database at all; a database that is down only costs the greeting's
    language. The match is kept with the record for when it is stored.
    """
    try:
        acc.matched = match(None, ctx, acc.item)
    except SQLAlchemyError as exc:
        log.warning("greeting language unknown: pool lookup failed (%s)", type(exc).__name__)
        return ""
    point = acc.matched.contact_point
    return point.country if point else ""


def _received(stored: _Stored, kind: str) -> Received:
    point = stored.point
    return Received(
        stored.event_id,
        kind,
        stored.duplicate,
        point.id if point else None,
        point.country if point else "",
        stored.classification,
        stored.new_ids,
    )


def _store_one(ctx: Context, acc: Accepted) -> _Stored:
    for attempt in (1, 2):
        try:
            with ctx.db.engine.connect() as conn:
                return _store(conn, ctx, acc)
        except IntegrityError:
            # A concurrent delivery of the same SID won the insert: this one is a replay.
            # Otherwise a concurrent callback stored the parent call first: retry once,
            # then give up with the database error (a 503: Twilio retries, polling
            # backfills).
            with ctx.db.engine.connect() as conn:
                stored = _duplicate(conn, acc.item)
            if stored is not None:
                return stored
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _after_store(ctx: Context, result: Received, acc: Accepted) -> None:
    via, kind = acc.via, acc.item.kind
    if result.duplicate:
        log.info("%s %s: duplicate of event %s, not stored again", via, kind, result.event_id)
        return
    outcome = "matched" if result.contact_point_id else result.classification
    if result.event_id is None:  # stored in a batch; nothing follows up on it here
        log.info("%s %s stored (%s)", via, kind, outcome)
        return
    log.info("%s %s stored as event %s (%s)", via, kind, result.event_id, outcome)
    from canary.telephony import followup

    followup.process(ctx, result, acc.item)


def store(ctx: Context, acc: Accepted) -> Received:
    """Store and commit one accepted record, then process it. Never raises after the
    event is committed."""
    result = _received(_store_one(ctx, acc), acc.item.kind)
    _after_store(ctx, result, acc)
    return result


def _insert_plans(
    conn: Connection, ctx: Context, batch: list[Accepted], plans: list[tuple[int, _Plan]]
) -> dict[int, _Stored]:
    """Insert the rows of ``plans`` (index in ``batch``, plan) and commit: one
    transaction. Raises IntegrityError, with nothing written, if any is there already."""
    from canary.telephony import followup

    # Whose id is read back: only records something follows up on here.
    keyed = {index for index, _ in plans if followup.has_work(ctx, batch[index].item)}
    ids = {}
    with ctx.db.writer_turn():
        try:
            unkeyed = [plan.row for index, plan in plans if index not in keyed]
            if unkeyed:
                _insert_rows(conn, unkeyed)
            if keyed:
                # RETURNING order is not guaranteed on every backend, so ids are
                # matched back by (kind, SID).
                returned = conn.execute(
                    _INSERT_MANY, [plan.row for index, plan in plans if index in keyed]
                )
                ids = {(kind, sid): event_id for event_id, kind, sid in returned}
            conn.commit()
        except BaseException:
            conn.rollback()
            raise
    stored = {}
    for index, plan in plans:
        row = plan.row
        event_id = ids[row["kind"], row["provider_sid"]] if index in keyed else None
        stored[index] = _Stored(event_id, False, plan.point, row["classification"])
    return stored


def _stored_before(conn: Connection, plans: list[tuple[int, _Plan]]) -> dict[int, _Stored]:
    """Those of ``plans`` whose event is stored already, as duplicates: one query."""
    kinds = {plan.row["kind"] for _, plan in plans}
    sids = {plan.row["provider_sid"] for _, plan in plans}
    point = ContactPoint.__table__.c
    rows = conn.execute(
        select(
            _EVENT.c.id,
            _EVENT.c.kind,
            _EVENT.c.provider_sid,
            _EVENT.c.classification,
            point.id,
            point.country,
            point.state,
            point.quarantine_until,
        )
        .outerjoin(ContactPoint.__table__, point.id == _EVENT.c.contact_point_id)
        # The kinds too: only with all three does the unique index find each row.
        .where(
            _EVENT.c.provider == PROVIDER,
            _EVENT.c.kind.in_(kinds),
            _EVENT.c.provider_sid.in_(sids),
        )
    ).all()
    found = {}
    for event_id, kind, sid, classification, *target in rows:
        point_of = pool.Target(*target) if target[0] is not None else None
        found[kind, sid] = _Stored(event_id, True, point_of, classification)
    return {
        index: found[key]
        for index, plan in plans
        if (key := (plan.row["kind"], plan.row["provider_sid"])) in found
    }


def store_many(ctx: Context, batch: list[Accepted]) -> list[Received]:
    """``store`` for many records at once: one transaction and one COMMIT.

    A commit is most of what storing one webhook costs; a journal drained in batches
    (``canary.telephony.journal``) pays it once per batch. Records that something
    follows up on here (``followup.has_work``) go in one multi-row INSERT that returns
    their ids. The others (every call and status callback when attribution is the
    scheduler's) go in one executemany that reads nothing back, and their results
    carry no ``event_id``: in one process that costs 10-25 us less per row than the
    INSERT with RETURNING, about a fifth of storing a row.

    As in ``_store``, replays are found by the unique constraint, not by a SELECT
    before every batch. A batch holding one (or losing a race with another writer) is
    rolled back; one query then finds every record stored before, which is answered as
    a duplicate, and the rest are inserted together again. What fails once more is
    stored one record at a time, as are records that need more than one plain INSERT
    and a SID seen twice in the batch.
    """
    results: list[Received | None] = [None] * len(batch)
    single: list[int] = []
    with ctx.db.engine.connect() as conn:
        plans: list[tuple[int, _Plan]] = []
        seen: set[tuple[str, str]] = set()
        for index, acc in enumerate(batch):
            key = (acc.item.kind, acc.item.sid)
            plan = None if key in seen else _plan(conn, ctx, acc)
            seen.add(key)
            if plan is not None and plan.simple:
                plans.append((index, plan))
            else:
                single.append(index)
        if plans:
            try:
                stored = _insert_plans(conn, ctx, batch, plans)
            except IntegrityError:
                # Mostly records stored before: a storer that started again reads a
                # live journal file from its start, or Twilio sent a webhook again.
                # One SELECT answers those as duplicates and the rest go in together
                # once more; only what fails then goes one record at a time.
                stored = _stored_before(conn, plans)
                rest = [(index, plan) for index, plan in plans if index not in stored]
                if rest:
                    try:
                        stored.update(_insert_plans(conn, ctx, batch, rest))
                    except IntegrityError:
                        single.extend(index for index, _ in rest)
            for index, result in stored.items():
                results[index] = _received(result, batch[index].item.kind)
    for index in sorted(single):
        results[index] = _received(_store_one(ctx, batch[index]), batch[index].item.kind)
    for acc, result in zip(batch, results, strict=True):
        _after_store(ctx, result, acc)
    return results


def receive(
    ctx: Context,
    kind: str,
    params: Mapping[str, Any],
    *,
    via: str = "webhook",
    raw_body: bytes | None = None,
    body_format: str = "",
    url: str = "",
) -> Received:
    """Check, store and commit one webhook or polled record, then process it.

    Raises ``inbound.BadWebhook`` (400) for missing or garbled parameters and
    ``WrongAccount`` (403) for another account's callback. Never raises after the
    event is committed.
    """
    return store(
        ctx,
        accept(ctx, kind, params, via=via, raw_body=raw_body, body_format=body_format, url=url),
    )
