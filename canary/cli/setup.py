"""`canary init` and `canary token`."""

from __future__ import annotations

import click

from canary.cli import ROW_ID, AppState, emit, pass_state
from canary.context import init_home, open_context
from canary.security import tokens
from canary.settings import load_settings


@click.command("init")
def init_cmd() -> None:
    """Create or upgrade the database and create keys (idempotent)."""
    settings = load_settings()
    created = init_home(settings)
    context = open_context(settings)
    context.close()
    click.echo(f"database ready at {settings.resolved_database_url.split('@')[-1]}")
    click.echo(
        f"master key {'created' if created else 'present'}"
        + ("" if settings.master_key else f" at {settings.key_path}")
    )


@click.group("token")
def token_group() -> None:
    """API tokens (only a hash is stored)."""


@token_group.command("create")
@click.option("--role", type=click.Choice(tokens.ROLES), required=True)
@click.option("--name", default="", help="What the token is for.")
@click.option("--json", "as_json", is_flag=True)
@pass_state
def token_create(state: AppState, role: str, name: str, as_json: bool) -> None:
    """Create a token. It is printed once; store it now."""
    with state.context.db.session() as session:
        row, plaintext = tokens.create_token(session, role, name or role, state.principal.actor)
    emit({"id": row.id, "role": role, "token": plaintext}, as_json, plaintext)


@token_group.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_state
def token_list(state: AppState, as_json: bool) -> None:
    with state.context.db.session() as session:
        rows = [
            {
                "id": t.id,
                "name": t.name,
                "role": t.role,
                "prefix": t.prefix,
                "revoked": t.revoked_at is not None,
            }
            for t in tokens.list_tokens(session)
        ]
    emit(
        rows,
        as_json,
        "\n".join(
            f"{r['id']:>4}  {r['role']:<8} {r['prefix']}…  {r['name']}"
            + ("  (revoked)" if r["revoked"] else "")
            for r in rows
        )
        or "no tokens",
    )


@token_group.command("revoke")
@click.argument("token_id", type=ROW_ID)
@pass_state
def token_revoke(state: AppState, token_id: int) -> None:
    with state.context.db.session() as session:
        tokens.revoke_token(session, token_id, state.principal.actor)
    click.echo(f"token {token_id} revoked")


def register(main: click.Group) -> None:
    main.add_command(init_cmd)
    main.add_command(token_group)
