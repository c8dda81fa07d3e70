"""What the forger hands back to the format writers: which rows to add, and where."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class SerialSpec:
    """A serial-number column the writer must renumber around inserted rows.

    Counting up, the rows below an insert move up by one per canary; counting down
    (``descending``: the bottom row keeps its number), the rows above it do.
    """

    column: int
    parse: Callable[[str], int]
    format: Callable[[int], str]
    descending: bool = False

    def move(self, canaries: int, above: int) -> int:
        """How much a real row's number grows with ``above`` of the ``canaries`` above it."""
        return canaries - above if self.descending else above


@dataclass
class CanaryRow:
    canary_id: int
    # Insert before data row ``position`` (0..total_rows; total_rows means after the last).
    position: int
    # Cell text in header order, formatted exactly as the feed writes such values.
    values: list[str]


@dataclass
class InjectionPlan:
    copy_id: int
    period: str
    rows: list[CanaryRow]  # sorted by position
    serial: SerialSpec | None = None
    # Share of canary rows in the output, reported to the operator.
    canary_share: float = 0.0
    notes: list[str] = field(default_factory=list)
