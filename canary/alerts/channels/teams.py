"""Microsoft Teams: an Adaptive Card inside the message/attachments envelope that
Teams incoming webhooks and Workflows (Power Automate) accept."""

from __future__ import annotations

import json
from typing import Any

from canary.alerts.channels import Message, SendResult, render
from canary.alerts.channels.http import post

CARD_SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
# 1.4 is the newest version every Teams client renders.
CARD_VERSION = "1.4"


def card(payload: dict[str, Any]) -> dict[str, Any]:
    """The Teams message carrying one Adaptive Card."""
    body: list[dict[str, Any]] = [
        {
            "type": "TextBlock",
            "text": render.title(payload),
            "weight": "Bolder",
            "size": "Medium",
            "wrap": True,
        },
        {
            "type": "FactSet",
            "facts": [{"title": label, "value": value} for label, value in render.facts(payload)],
        },
    ]
    if render.explanation(payload):
        body.append({"type": "TextBlock", "text": render.explanation(payload), "wrap": True})
    content: dict[str, Any] = {
        "$schema": CARD_SCHEMA,
        "type": "AdaptiveCard",
        "version": CARD_VERSION,
        "body": body,
    }
    if render.link(payload):
        content["actions"] = [
            {"type": "Action.OpenUrl", "title": "Open incident", "url": render.link(payload)}
        ]
    return {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": content,
            }
        ],
    }


class TeamsChannel:
    def send(
        self, message: Message, target: dict[str, Any], secret: str | None, *, timeout: float
    ) -> SendResult:
        body = json.dumps(card(message.payload), ensure_ascii=False).encode("utf-8")
        return post(target["url"], body, {}, timeout=timeout)
