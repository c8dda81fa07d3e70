"""The `canary` command. Each area's commands live in their own module and register here."""

from __future__ import annotations

import importlib
import json
import sys
from typing import Any

import click

from canary.context import Context, open_context
from canary.errors import CanaryError
from canary.security.tokens import Principal, cli_principal
from canary.settings import load_settings


class AppState:
    """Lazily opened context, so `canary --help` needs no database or key."""

    def __init__(self) -> None:
        self._context: Context | None = None
        self.principal: Principal = cli_principal()

    @property
    def context(self) -> Context:
        if self._context is None:
            self._context = open_context(load_settings())
        return self._context

    def close(self) -> None:
        if self._context is not None:
            self._context.close()


pass_state = click.make_pass_decorator(AppState, ensure=True)


def emit(data: Any, as_json: bool, human: str | None = None) -> None:
    """Print JSON with --json, otherwise the human-readable text."""
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))
    else:
        click.echo(
            human
            if human is not None
            else json.dumps(data, ensure_ascii=False, indent=2, default=str)
        )


class CanaryGroup(click.Group):
    """Turns domain errors into a clear message and exit status 2 instead of a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except CanaryError as exc:
            click.secho(f"error: {exc}", fg="red", err=True)
            sys.exit(2)


@click.group(cls=CanaryGroup)
@click.pass_context
def main(ctx: click.Context) -> None:
    """canary: plant decoy records in personal-data feeds and catch whoever sells them."""
    state = ctx.ensure_object(AppState)
    ctx.call_on_close(state.close)


_COMMAND_MODULES = (
    "canary.cli.setup",
    "canary.cli.map",
    "canary.cli.inject",
    "canary.cli.numbers",
    "canary.cli.simulate",
    "canary.cli.incidents",
    "canary.cli.alerts",
    "canary.cli.evidence",
    "canary.cli.scan",
    "canary.cli.serve",
    "canary.cli.demo",
    "canary.cli.canaries",
)

# Imported last: each module imports `emit` and `pass_state` from this one.
for _name in _COMMAND_MODULES:
    importlib.import_module(_name).register(main)
