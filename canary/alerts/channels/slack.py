"""Slack incoming webhooks, with a Block Kit message.

Slack caps a section's text at 3,000 characters and a header at 150, so long
explanations are shortened rather than rejected (a rejected alert is a lost alert).
"""

from __future__ import annotations

import json
from typing import Any

from canary.alerts.channels import Message, SendResult, render
from canary.alerts.channels.http import post

HEADER_MAX = 150
TEXT_MAX = 3000


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def blocks(payload: dict[str, Any]) -> dict[str, Any]:
    """The Slack message: header, facts, explanation and a button to the incident."""
    items: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": _cut(render.title(payload), HEADER_MAX)},
        }
    ]
    facts = render.facts(payload)
    if facts:
        items.append(
            {
                "type": "section",
                # Slack allows at most 10 fields per section.
                "fields": [
                    {"type": "mrkdwn", "text": _cut(f"*{label}*\n{value}", 2000)}
                    for label, value in facts[:10]
                ],
            }
        )
    if render.explanation(payload):
        items.append(
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": _cut(render.explanation(payload), TEXT_MAX)},
            }
        )
    if render.link(payload):
        items.append(
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": "Open incident"},
                        "url": render.link(payload),
                    }
                ],
            }
        )
    # ``text`` is the notification and accessibility fallback Slack asks for.
    return {"text": _cut(render.title(payload), TEXT_MAX), "blocks": items}


class SlackChannel:
    def send(
        self, message: Message, target: dict[str, Any], secret: str | None, *, timeout: float
    ) -> SendResult:
        body = json.dumps(blocks(message.payload), ensure_ascii=False).encode("utf-8")
        return post(target["url"], body, {}, timeout=timeout)
