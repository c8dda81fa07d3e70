"""The evidence bundle's readable report: one self-contained HTML file.

Jinja2 with autoescaping on: message bodies and transcripts are written by whoever
called the canary (a call centre, perhaps the leaker) and must not run as script in
the investigator's browser.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

TEMPLATES = Path(__file__).resolve().parent / "templates"


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["pct"] = lambda value: "" if value is None else f"{100 * float(value):.4g}%"
    return env


def timeline(incident: dict[str, Any], events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Events and incident changes in time order (ties: changes after the events)."""
    items = [
        {
            "at": e["occurred_at"],
            "what": e["kind"],
            "detail": e.get("text") or "",
            "ref": f"event {e['id']}",
        }
        for e in events
    ]
    items += [
        {
            "at": c["at"],
            "what": f"incident {c['change']}",
            "detail": c["reason"],
            "ref": c["actor"],
        }
        for c in incident["changes"]
    ]
    return sorted(items, key=lambda i: (i["at"] or "", i["what"].startswith("incident")))


def render(
    *,
    incident: dict[str, Any],
    events: list[dict[str, Any]],
    canaries: list[dict[str, Any]],
    path: dict[str, Any],
    chain: dict[str, Any],
    exported: dict[str, Any],
) -> str:
    """The report's HTML text."""
    template = _environment().get_template("report.html")
    return template.render(
        incident=incident,
        events=events,
        canaries=canaries,
        path=path,
        chain=chain,
        exported=exported,
        timeline=timeline(incident, events),
    )
