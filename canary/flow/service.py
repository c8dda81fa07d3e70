"""Operations on the data-flow map. Used by the CLI, the API and the demo alike."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from canary.errors import AlreadyExists, CanaryError, NotFound
from canary.flow.models import Copy, Feed, Holder, HolderLink, Source
from canary.security import audit

FEED_FORMATS = ("csv", "tsv", "xlsx", "json", "ndjson")
# Roles a column map may name. The forger also profiles columns it is not told about.
COLUMN_ROLES = (
    "name",
    "phone",
    "hospital",
    "delivery_date",
    "birth_date",
    "id_number",
    "address",
    "serial",
    "baby_name",
    "baby_sex",
    "birth_weight",
    "delivery_mode",
    "age",
    "email",
)


def _by_name(session: Session, model, name: str, what: str):
    row = session.scalar(select(model).where(model.name == name))
    if row is None:
        raise NotFound(f"no {what} named {name!r}")
    return row


def get_source(session: Session, name: str) -> Source:
    return _by_name(session, Source, name, "source")


def get_feed(session: Session, name: str) -> Feed:
    return _by_name(session, Feed, name, "feed")


def get_holder(session: Session, name: str) -> Holder:
    return _by_name(session, Holder, name, "holder")


def _ensure_new(session: Session, model, name: str, what: str) -> None:
    existing = session.scalar(select(model).where(model.name == name))
    if existing is not None:
        raise AlreadyExists(f"{what} {name!r} already exists (id {existing.id})")


def add_source(session: Session, name: str, actor: str, kind: str = "hospital") -> Source:
    name = _clean_name(name, "source")
    _ensure_new(session, Source, name, "source")
    source = Source(name=name, kind=kind)
    session.add(source)
    _flush(session, "source", name)
    audit.record(session, actor, "source.add", "source", source.id)
    return source


def parse_column_map(pairs: list[str] | dict[str, str] | None) -> dict[str, str]:
    """Accept ``["name=产妇姓名", ...]`` or a dict; check the roles are known."""
    if not pairs:
        return {}
    items = pairs.items() if isinstance(pairs, dict) else (_split_pair(p) for p in pairs)
    mapping: dict[str, str] = {}
    for role, column in items:
        role = role.strip()
        if role not in COLUMN_ROLES:
            raise CanaryError(
                f"unknown column role {role!r}; known roles: {', '.join(COLUMN_ROLES)}"
            )
        if not str(column).strip():
            raise CanaryError(f"column role {role!r} is mapped to an empty column name")
        mapping[role] = str(column).strip()
    return mapping


def _split_pair(pair: str) -> tuple[str, str]:
    if "=" not in pair:
        raise CanaryError(
            f"column mapping {pair!r} must look like ROLE=COLUMN, e.g. phone=联系电话"
        )
    role, column = pair.split("=", 1)
    return role, column


def add_feed(
    session: Session,
    name: str,
    actor: str,
    source: str | None = None,
    fmt: str = "csv",
    column_map: dict[str, str] | None = None,
    locale: str = "zh_CN",
    produced_by: str | None = None,
    sheet: str = "",
    inbox_dir: str = "",
) -> Feed:
    name = _clean_name(name, "feed")
    if fmt not in FEED_FORMATS:
        raise CanaryError(f"unknown feed format {fmt!r}; choose one of {', '.join(FEED_FORMATS)}")
    if not source and not produced_by:
        raise CanaryError(
            "a feed needs a source (--source) or, for an aggregate, a producing holder"
        )
    _ensure_new(session, Feed, name, "feed")
    feed = Feed(
        name=name,
        format=fmt,
        column_map=parse_column_map(column_map),
        locale=locale,
        source=get_source(session, source) if source else None,
        produced_by_holder_id=get_holder(session, produced_by).id if produced_by else None,
        sheet=sheet,
        inbox_dir=inbox_dir,
    )
    session.add(feed)
    _flush(session, "feed", name)
    audit.record(session, actor, "feed.add", "feed", feed.id, format=fmt)
    return feed


def add_holder(
    session: Session,
    name: str,
    actor: str,
    receives: list[str] | None = None,
    from_holders: list[str] | None = None,
    kind: str = "internal",
    outbox_dir: str = "",
) -> Holder:
    name = _clean_name(name, "holder")
    _ensure_new(session, Holder, name, "holder")
    holder = Holder(name=name, kind=kind, outbox_dir=outbox_dir)
    session.add(holder)
    _flush(session, "holder", name)
    audit.record(session, actor, "holder.add", "holder", holder.id)
    for feed_name in receives or []:
        ensure_copy(session, get_feed(session, feed_name), holder, actor)
    for upstream in from_holders or []:
        link_holders(session, upstream, name, actor)
    return holder


def ensure_copy(session: Session, feed: Feed, holder: Holder, actor: str) -> Copy:
    """The copy of ``feed`` delivered to ``holder``, created on first use."""
    copy = session.scalar(select(Copy).where(Copy.feed_id == feed.id, Copy.holder_id == holder.id))
    if copy is None:
        copy = Copy(feed=feed, holder=holder)
        session.add(copy)
        session.flush()
        audit.record(
            session, actor, "copy.add", "copy", copy.id, feed_id=feed.id, holder_id=holder.id
        )
    return copy


def link_holders(session: Session, upstream: str, downstream: str, actor: str) -> HolderLink:
    src, dst = get_holder(session, upstream), get_holder(session, downstream)
    if src.id == dst.id:
        raise CanaryError("a holder cannot pass data to itself")
    link = session.scalar(
        select(HolderLink).where(
            HolderLink.from_holder_id == src.id, HolderLink.to_holder_id == dst.id
        )
    )
    if link is None:
        link = HolderLink(from_holder_id=src.id, to_holder_id=dst.id)
        session.add(link)
        session.flush()
        audit.record(session, actor, "holder.link", "holder_link", link.id)
    return link


def downstream_of(session: Session, holder_id: int) -> set[int]:
    """Every holder reachable from ``holder_id`` (including itself) along holder links."""
    edges: dict[int, list[int]] = {}
    for link in session.scalars(select(HolderLink)):
        edges.setdefault(link.from_holder_id, []).append(link.to_holder_id)
    seen, stack = {holder_id}, [holder_id]
    while stack:
        for nxt in edges.get(stack.pop(), []):
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return seen


def map_snapshot(session: Session) -> dict:
    """The whole map as plain data, for `canary map` and GET /api/map."""
    holders = {h.id: h.name for h in session.scalars(select(Holder))}
    return {
        "sources": [
            {"id": s.id, "name": s.name, "kind": s.kind} for s in session.scalars(select(Source))
        ],
        "feeds": [
            {
                "id": f.id,
                "name": f.name,
                "source": f.source.name if f.source else None,
                "produced_by": holders.get(f.produced_by_holder_id),
                "format": f.format,
                "column_map": f.column_map,
                "locale": f.locale,
            }
            for f in session.scalars(select(Feed))
        ],
        "holders": [{"id": i, "name": n} for i, n in holders.items()],
        "copies": [
            {"id": c.id, "feed": c.feed.name, "holder": c.holder.name}
            for c in session.scalars(select(Copy))
        ],
        "links": [
            {"from": holders[link.from_holder_id], "to": holders[link.to_holder_id]}
            for link in session.scalars(select(HolderLink))
        ],
    }


def _clean_name(name: str, what: str) -> str:
    name = (name or "").strip()
    if not name:
        raise CanaryError(f"a {what} needs a non-empty name")
    if len(name) > 200:
        raise CanaryError(f"{what} name is longer than 200 characters")
    return name


def _flush(session: Session, what: str, name: str) -> None:
    try:
        session.flush()
    except IntegrityError as exc:  # a concurrent writer won the race
        session.rollback()
        raise AlreadyExists(f"{what} {name!r} already exists") from exc
