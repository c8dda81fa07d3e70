"""Generic webhooks signed per the Standard Webhooks specification.

Headers: ``webhook-id`` (stable across retries, so receivers deduplicate),
``webhook-timestamp`` (seconds since the epoch; receivers reject old ones to stop
replays) and ``webhook-signature`` (``v1,<base64 HMAC-SHA256 of id.timestamp.body>``).
Signing uses the ``standardwebhooks`` package itself, so sender and verifier agree.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from standardwebhooks.webhooks import Webhook

from canary.alerts.channels import Message, SendResult
from canary.alerts.channels.http import post


def signed_headers(message: Message, secret: str) -> dict[str, str]:
    """The three Standard Webhooks headers for ``message``."""
    # standardwebhooks 1.1.0 replaces tzinfo with UTC instead of converting: give it UTC.
    at = message.timestamp.astimezone(dt.UTC)
    return {
        "webhook-id": message.message_id,
        "webhook-timestamp": str(math.floor(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(message.message_id, at, message.body()),
    }


class WebhookChannel:
    def send(
        self, message: Message, target: dict[str, Any], secret: str | None, *, timeout: float
    ) -> SendResult:
        if not secret:
            return SendResult(False, None, "destination has no signing secret")
        headers = signed_headers(message, secret)
        return post(target["url"], message.body().encode("utf-8"), headers, timeout=timeout)
