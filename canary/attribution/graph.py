"""Where each copy's canaries can be seen: the data-flow graph as leak points.

A canary is visible at the holder whose copy it was injected into, and at every holder
that data reaches afterwards: along holder links (clerk → buyer) and through
aggregates (head office merges its hospital copies into a feed it sends on, so a copy
of that aggregate carries the hospitals' canaries too). A *unit* is a leak point:
``copy:<id>`` (that one delivery leaked) or ``holder:<id>`` (everything the holder had
leaked). Units that would have leaked exactly the same canaries cannot be told apart
by any evidence, so they are merged and the most specific one names the group.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from canary.flow import service as flow
from canary.flow.models import Copy, Feed, Holder


@dataclass
class Unit:
    """A leak point and the copies whose canaries it would leak."""

    key: str  # "copy:3" or "holder:5"
    label: str
    copy_ids: frozenset[int]
    copy_id: int | None = None
    holder_id: int | None = None
    feed_id: int | None = None
    aliases: list[str] = field(default_factory=list)  # merged units with the same canaries


@dataclass(frozen=True)
class FlowGraph:
    """Plain snapshot of the map (copies, holders, links), for pure computation."""

    copies: dict[int, tuple[int, int]]  # copy id -> (feed id, holder id)
    producer: dict[int, int]  # aggregate feed id -> producing holder id
    downstream: dict[int, set[int]]  # holder id -> holders reachable (incl. itself)
    copy_labels: dict[int, str]
    holder_names: dict[int, str]


def load_graph(session: Session) -> FlowGraph:
    """Read the map once; every unit computation below is pure."""
    holders = {h.id: h.name for h in session.scalars(select(Holder))}
    feeds = {f.id: f for f in session.scalars(select(Feed))}
    copies, labels = {}, {}
    for c in session.scalars(select(Copy)):
        copies[c.id] = (c.feed_id, c.holder_id)
        labels[c.id] = f"{feeds[c.feed_id].name} → {holders[c.holder_id]}"
    producer = {f.id: f.produced_by_holder_id for f in feeds.values() if f.produced_by_holder_id}
    downstream = {h: flow.downstream_of(session, h) for h in holders}
    return FlowGraph(copies, producer, downstream, labels, holders)


def _upstream(graph: FlowGraph, holder_id: int) -> set[int]:
    return {h for h, reach in graph.downstream.items() if holder_id in reach}


def holdings(graph: FlowGraph, holder_id: int, _seen: set[int] | None = None) -> set[int]:
    """Copies whose canaries a holder has: its own copies, what upstream holders pass
    on, and what the aggregates it receives were merged from."""
    seen = _seen if _seen is not None else set()
    if holder_id in seen:  # cycles in a hand-drawn map must not loop forever
        return set()
    seen.add(holder_id)
    result: set[int] = set()
    for source_holder in _upstream(graph, holder_id):
        for copy_id, (_feed, holder) in graph.copies.items():
            if holder == source_holder:
                result |= contents(graph, copy_id, seen)
    return result


def contents(graph: FlowGraph, copy_id: int, _seen: set[int] | None = None) -> set[int]:
    """Copies whose canaries are inside one copy: itself, plus everything its feed's
    producer held when the feed is an aggregate."""
    feed_id, _holder = graph.copies[copy_id]
    result = {copy_id}
    producer = graph.producer.get(feed_id)
    if producer is not None:
        result |= holdings(graph, producer, set(_seen or ()))
    return result


def units_seeing(graph: FlowGraph, copy_ids: Iterable[int]) -> list[Unit]:
    """Every leak point that would leak at least one of these copies' canaries,
    with indistinguishable units merged (most specific first: a copy, then the most
    upstream holder)."""
    wanted = set(copy_ids)
    found: list[Unit] = []
    for copy_id, (feed_id, holder_id) in sorted(graph.copies.items()):
        inside = frozenset(contents(graph, copy_id))
        if inside & wanted:
            found.append(
                Unit(
                    f"copy:{copy_id}",
                    f"the copy {graph.copy_labels[copy_id]}",
                    inside,
                    copy_id=copy_id,
                    holder_id=holder_id,
                    feed_id=feed_id,
                )
            )
    # Holders upstream first, so that a merged group is named by where data entered.
    order = sorted(graph.holder_names, key=lambda h: (len(_upstream(graph, h)), h))
    for holder_id in order:
        inside = frozenset(holdings(graph, holder_id))
        if inside & wanted:
            found.append(
                Unit(
                    f"holder:{holder_id}",
                    f"holder {graph.holder_names[holder_id]}",
                    inside,
                    holder_id=holder_id,
                )
            )
    merged: dict[frozenset[int], Unit] = {}
    for unit in found:
        first = merged.get(unit.copy_ids)
        if first is None:
            merged[unit.copy_ids] = unit
        else:
            first.aliases.append(unit.label)
            if first.holder_id is None:
                first.holder_id = unit.holder_id
    return list(merged.values())


def count_units(graph: FlowGraph) -> int:
    """How many distinct leak points the map has (the prior is spread over these)."""
    sets = {frozenset(contents(graph, c)) for c in graph.copies}
    sets |= {frozenset(holdings(graph, h)) for h in graph.holder_names}
    sets.discard(frozenset())
    return max(len(sets), 1)
