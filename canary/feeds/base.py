"""What every format reader hands to the pipeline, and what its writer reports back."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from canary.feeds.errors import UnsupportedFormat
from canary.feeds.table import TableSample
from canary.forging.plan import InjectionPlan

# Spreadsheet formula injection (CSV injection, OWASP): a cell starting with one of
# these runs as a formula when a clerk opens the file. Real cells pass through as they
# are; a canary cell never starts with one.
FORMULA_LEADS = ("=", "+", "-", "@")

Progress = Callable[[int, int], None]  # (done, total) in the reader's own units


@dataclass
class Target:
    path: Path
    plan: InjectionPlan


@dataclass
class WriteStats:
    path: Path
    rows_written: int
    canaries_added: int

    @property
    def canary_share(self) -> float:
        return self.canaries_added / self.rows_written if self.rows_written else 0.0


class ScannedFile(Protocol):
    """A delivery read once: its sample, and a writer for any number of copies."""

    sample: TableSample

    def write(self, targets: list[Target], progress: Progress | None = None) -> list[WriteStats]:
        """Write one output per target in a single pass over the input."""
        ...


def check_canary_values(plan: InjectionPlan, width: int) -> None:
    """Guard the writers against a malformed plan (a bug upstream, never user data)."""
    for row in plan.rows:
        if len(row.values) != width:
            raise UnsupportedFormat(
                f"a planned canary row has {len(row.values)} cells but the table has {width} "
                "columns; re-run the injection after fixing the feed's mapping"
            )
        for value in row.values:
            text = str(value)
            if text.startswith(FORMULA_LEADS) and not _plain_number_or_dash(text):
                raise UnsupportedFormat(
                    "refusing to write a canary cell that starts with '=', '+', '-' or '@' "
                    "(it would run as a spreadsheet formula)"
                )


def _plain_number_or_dash(text: str) -> bool:
    if text == "-":
        return True
    try:
        float(text)
    except ValueError:
        return False
    return True


def check_positions(plan: InjectionPlan, total_rows: int) -> None:
    for row in plan.rows:
        if not 0 <= row.position <= total_rows:
            raise UnsupportedFormat(
                f"a planned canary position ({row.position}) is outside the table "
                f"(0..{total_rows}); the plan does not belong to this file"
            )
