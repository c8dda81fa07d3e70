"""POSTing JSON over HTTP for the webhook, Slack and Teams channels.

Redirects are not followed: a signed alert goes only to the URL that was configured,
and a 3xx counts as a failure like any other non-2xx answer. Errors are described by
type and status only: exception texts can carry the URL, which for Slack and Teams is
itself a credential.
"""

from __future__ import annotations

import time

import requests

from canary.alerts.channels import SendResult

USER_AGENT = "canary-alerts/1"


def post(url: str, body: bytes, headers: dict[str, str], *, timeout: float) -> SendResult:
    """POST ``body``; any 2xx is success, everything else a failure to retry."""
    started = time.perf_counter()
    try:
        response = requests.post(
            url,
            data=body,
            headers={"Content-Type": "application/json", "User-Agent": USER_AGENT, **headers},
            timeout=timeout,
            allow_redirects=False,
        )
    except requests.Timeout:
        return SendResult(False, None, "timed out", _ms(started))
    except requests.RequestException as exc:
        return SendResult(False, None, f"connection failed ({type(exc).__name__})", _ms(started))
    response.close()
    if 200 <= response.status_code < 300:
        return SendResult(True, response.status_code, "", _ms(started))
    return SendResult(False, response.status_code, f"HTTP {response.status_code}", _ms(started))


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000.0, 1)
