"""`canary source|feed|holder|link|map`: the data-flow map."""

from __future__ import annotations

import click

from canary.cli import AppState, emit, pass_state
from canary.flow import service as flow


@click.group("source")
def source_group() -> None:
    """Sources: where records originate (a hospital)."""


@source_group.command("add")
@click.argument("name")
@click.option("--kind", default="hospital")
@pass_state
def source_add(state: AppState, name: str, kind: str) -> None:
    with state.context.db.session() as session:
        source = flow.add_source(session, name, state.principal.actor, kind)
    click.echo(f"source {source.name!r} added (id {source.id})")


@click.group("feed")
def feed_group() -> None:
    """Feeds: recurring datasets, with a format and a column mapping."""


@feed_group.command("add")
@click.argument("name")
@click.option("--source", help="Source the feed comes from.")
@click.option("--produced-by", help="For an aggregate: the holder that assembles it.")
@click.option("--format", "fmt", type=click.Choice(flow.FEED_FORMATS), default="csv")
@click.option(
    "--map",
    "mapping",
    multiple=True,
    metavar="ROLE=COLUMN",
    help=f"Column mapping; roles: {', '.join(flow.COLUMN_ROLES)}.",
)
@click.option("--locale", default=None)
@click.option("--sheet", default="", help="XLSX: the sheet holding the list.")
@click.option("--inbox", default="", help="Watched folder for new deliveries.")
@pass_state
def feed_add(
    state: AppState, name, source, produced_by, fmt, mapping, locale, sheet, inbox
) -> None:
    with state.context.db.session() as session:
        feed = flow.add_feed(
            session,
            name,
            state.principal.actor,
            source=source,
            fmt=fmt,
            column_map=list(mapping),
            locale=locale or state.context.settings.locale,
            produced_by=produced_by,
            sheet=sheet,
            inbox_dir=inbox,
        )
    click.echo(f"feed {feed.name!r} added (id {feed.id})")


@click.group("holder")
def holder_group() -> None:
    """Holders: parties that receive copies of feeds."""


@holder_group.command("add")
@click.argument("name")
@click.option("--receives", multiple=True, help="Feed this holder receives (repeatable).")
@click.option("--from", "from_holders", multiple=True, help="Holder that passes data to this one.")
@click.option("--kind", default="internal")
@click.option("--outbox", default="", help="Folder where this holder's copies are written.")
@pass_state
def holder_add(state: AppState, name, receives, from_holders, kind, outbox) -> None:
    with state.context.db.session() as session:
        holder = flow.add_holder(
            session, name, state.principal.actor, list(receives), list(from_holders), kind, outbox
        )
    click.echo(f"holder {holder.name!r} added (id {holder.id})")


@holder_group.command("receives")
@click.argument("holder")
@click.argument("feed")
@pass_state
def holder_receives(state: AppState, holder: str, feed: str) -> None:
    """Record that HOLDER receives a copy of FEED."""
    with state.context.db.session() as session:
        copy = flow.ensure_copy(
            session,
            flow.get_feed(session, feed),
            flow.get_holder(session, holder),
            state.principal.actor,
        )
    click.echo(f"copy {copy.id}: {feed} → {holder}")


@holder_group.command("link")
@click.argument("upstream")
@click.argument("downstream")
@pass_state
def holder_link(state: AppState, upstream: str, downstream: str) -> None:
    """Record that UPSTREAM passes data on to DOWNSTREAM."""
    with state.context.db.session() as session:
        flow.link_holders(session, upstream, downstream, state.principal.actor)
    click.echo(f"{upstream} → {downstream}")


@click.command("map")
@click.option("--json", "as_json", is_flag=True)
@pass_state
def map_cmd(state: AppState, as_json: bool) -> None:
    """Show the data-flow map."""
    with state.context.db.session() as session:
        snap = flow.map_snapshot(session)
    lines = [f"source {s['name']}" for s in snap["sources"]]
    lines += [
        f"feed   {f['name']} ({f['format']}) from {f['source'] or f['produced_by']}"
        for f in snap["feeds"]
    ]
    lines += [f"copy   {c['feed']} → {c['holder']}" for c in snap["copies"]]
    lines += [f"link   {link['from']} → {link['to']}" for link in snap["links"]]
    emit(snap, as_json, "\n".join(lines) or "the map is empty")


def register(main: click.Group) -> None:
    for command in (source_group, feed_group, holder_group, map_cmd):
        main.add_command(command)
