"""The `canary` command. Each area's commands live in their own module and register here."""

from __future__ import annotations

import importlib
import json
import math
import sys
from typing import Any

import click
from sqlalchemy.exc import DataError, OperationalError

from canary.context import Context, open_context
from canary.db import MAX_ROW_ID
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


ROW_ID = click.IntRange(1, MAX_ROW_ID)


class FiniteFloat(click.ParamType):
    """A float that is a real number (click's FLOAT accepts 'nan' and 'inf')."""

    name = "number"

    def __init__(self, minimum: float | None = None, maximum: float | None = None) -> None:
        self.minimum, self.maximum = minimum, maximum

    def convert(self, value: Any, param: Any, ctx: Any) -> float:
        try:
            number = float(value)
        except (TypeError, ValueError, OverflowError):
            self.fail(f"{value!r} is not a number", param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        if self.minimum is not None and number < self.minimum:
            self.fail(f"{value} is below {self.minimum:g}", param, ctx)
        if self.maximum is not None and number > self.maximum:
            self.fail(f"{value} is above {self.maximum:g}", param, ctx)
        return number


def _fail(message: str, status: int = 2) -> None:
    click.secho(f"error: {message}", fg="red", err=True)
    sys.exit(status)


class CanaryGroup(click.Group):
    """Turns domain errors, unwritable paths and an unreachable database into a clear
    message and a non-zero exit status instead of a traceback.

    Messages name the file and the reason; they never repeat a database error's text,
    which can carry the statement's values.
    """

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except CanaryError as exc:
            _fail(str(exc))
        except OSError as exc:  # -o into a missing folder, a read-only disk, a full disk
            where = f": {exc.filename}" if exc.filename else ""
            _fail(f"{exc.strerror or type(exc).__name__}{where}")
        except ValueError as exc:
            if "null byte" in str(exc) or "null character" in str(exc):
                _fail("a path or value contains a NUL character")
            raise
        except DataError:
            _fail("a value is out of range or holds characters the database cannot store")
        except OperationalError as exc:
            _fail(
                f"the database is unavailable ({type(exc.orig).__name__}); "
                "check database_url and that the server is running",
                status=3,
            )


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
    "canary.cli.journal",
)

# Imported last: each module imports `emit` and `pass_state` from this one.
for _name in _COMMAND_MODULES:
    importlib.import_module(_name).register(main)
