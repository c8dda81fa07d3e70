"""Words for people: the title and facts that Slack, Teams and e-mail show."""

from __future__ import annotations

from typing import Any

_HEADINGS = {
    "incident.opened": "Leak detected",
    "incident.updated": "Leak verdict changed",
    "incident.status": "Incident status changed",
    "test": "Test alert",
}


def title(payload: dict[str, Any]) -> str:
    data = payload.get("data", {})
    heading = _HEADINGS.get(payload.get("type", ""), "canary alert")
    if data.get("incident_id") is None:
        return f"canary: {heading}"
    leak = (data.get("verdict") or {}).get("leak_point") or "unknown"
    return f"canary: {heading} — incident #{data['incident_id']}: {leak}"


def facts(payload: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, value) pairs in reading order; empty values are left out."""
    data = payload.get("data", {})
    evidence = data.get("evidence") or {}
    rows = [
        ("Leak point", (data.get("verdict") or {}).get("leak_point") or ""),
        ("Holder", (data.get("holder") or {}).get("name") or ""),
        ("Feed", (data.get("feed") or {}).get("name") or ""),
        ("Period", (data.get("period") or {}).get("label") or ""),
        (
            "Confidence",
            f"{float(data.get('confidence') or 0.0):.4f}" if data.get("incident_id") else "",
        ),
        ("Status", data.get("status") or ""),
        (
            "Evidence",
            (
                f"{evidence.get('events', 0)} event(s): {evidence.get('calls', 0)} call(s), "
                f"{evidence.get('messages', 0)} message(s), {evidence.get('canaries', 0)} "
                f"canary(ies) on {evidence.get('numbers', 0)} number(s), "
                f"{evidence.get('strong', 0)} strong"
            )
            if evidence
            else "",
        ),
    ]
    return [(label, str(value)) for label, value in rows if value]


def explanation(payload: dict[str, Any]) -> str:
    return str(payload.get("data", {}).get("explanation") or "")


def link(payload: dict[str, Any]) -> str:
    return str(payload.get("data", {}).get("link") or "")


def plain_text(payload: dict[str, Any]) -> str:
    """The whole alert as plain text (the e-mail body, and chat fallbacks)."""
    lines = [title(payload), ""]
    lines += [f"{label}: {value}" for label, value in facts(payload)]
    if explanation(payload):
        lines += ["", explanation(payload)]
    if link(payload):
        lines += ["", f"Open the incident: {link(payload)}"]
    return "\n".join(lines) + "\n"
