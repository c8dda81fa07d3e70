"""Output channels: one module per kind of destination, behind one small interface.

Inputs → one dispatcher (the outbox) → outputs, as in Thinkst's Canarytokens. A test
or a different deployment can pass its own ``Channel`` to ``outbox.drain``.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class Message:
    """One alert on its way out. ``message_id`` stays the same across retries."""

    message_id: str
    event_type: str
    payload: dict[str, Any]
    timestamp: dt.datetime  # timezone-aware UTC: the moment of this attempt

    def body(self) -> str:
        """The exact JSON text that is sent and signed (stable for a given payload)."""
        return json.dumps(self.payload, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


@dataclass(frozen=True)
class SendResult:
    """What happened. ``error`` is a short description without secrets or payload data."""

    ok: bool
    status_code: int | None = None
    error: str = ""
    latency_ms: float | None = None
    detail: dict[str, Any] = field(default_factory=dict)


class Channel(Protocol):
    """Sends a message to one destination's target; never raises for a failed delivery."""

    def send(
        self, message: Message, target: dict[str, Any], secret: str | None, *, timeout: float
    ) -> SendResult: ...


def default_channels() -> dict[str, Channel]:
    """The real channel for each destination kind."""
    from canary.alerts.channels import slack, smtp, teams, webhook

    return {
        "webhook": webhook.WebhookChannel(),
        "slack": slack.SlackChannel(),
        "teams": teams.TeamsChannel(),
        "email": smtp.EmailChannel(),
    }
