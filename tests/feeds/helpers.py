"""Plans built by hand, so the format writers are tested without the forger."""

from __future__ import annotations

from canary.forging.ordering import Serial
from canary.forging.plan import CanaryRow, InjectionPlan, SerialSpec


def plan(rows: list[tuple[int, list[str]]], serial: SerialSpec | None = None) -> InjectionPlan:
    return InjectionPlan(
        copy_id=1,
        period="2026-W48",
        rows=[CanaryRow(canary_id=i + 1, position=p, values=v) for i, (p, v) in enumerate(rows)],
        serial=serial,
    )


def int_serial(column: int = 0) -> SerialSpec:
    return SerialSpec(column=column, parse=int, format=str)


def serial_spec(
    column: int = 0, prefix: str = "", width: int = 0, *, descending: bool = False
) -> SerialSpec:
    """A serial column's spec, parsed and written as the forger does (ordering.Serial)."""
    serial = Serial(column, prefix, width, "", descending=descending)
    return SerialSpec(column, serial.parse, serial.format, descending=descending)
