#!/usr/bin/env python3
"""Verify canary's alert webhooks: a small receiver you can run or copy.

canary signs every webhook per the Standard Webhooks specification. This file checks
the signature with the ``standardwebhooks`` package (``pip install standardwebhooks``),
rejects timestamps more than 5 minutes from now (replays), and ignores a ``webhook-id``
it has already accepted (canary retries until it gets a 2xx, so a receiver may see the
same alert more than once).

Run it:

    CANARY_WEBHOOK_SECRET=whsec_... python docs/verify_webhook.py --port 8000

then `canary alerts add soc --url http://HOST:8000/hook` (with the secret that command
printed) and `canary alerts test soc`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

# Largest body accepted: canary's alerts are a few KiB.
MAX_BODY = 1024 * 1024


class Verifier:
    """Checks signatures and timestamps, and remembers accepted ids to drop retries."""

    def __init__(self, secret: str, remember: int = 100_000):
        self._webhook = Webhook(secret)  # the "whsec_..." secret canary printed
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._remember = remember
        self._lock = threading.Lock()

    def verify(self, body: bytes, headers: dict[str, str]) -> dict[str, Any] | None:
        """The alert, or None if this webhook-id was already accepted.

        Raises WebhookVerificationError for a missing, wrong or stale signature.
        """
        # Checks webhook-signature (HMAC-SHA256 over "id.timestamp.body") and that
        # webhook-timestamp is within 5 minutes of this machine's clock.
        payload = self._webhook.verify(body, headers)
        message_id = {k.lower(): v for k, v in headers.items()}["webhook-id"]
        with self._lock:  # remember ids only after the signature checked out
            if message_id in self._seen:
                return None
            self._seen[message_id] = None
            while len(self._seen) > self._remember:
                self._seen.popitem(last=False)
        return payload


def make_server(
    verifier: Verifier,
    host: str = "127.0.0.1",
    port: int = 8000,
    on_alert: Callable[[dict[str, Any]], None] = lambda alert: None,
) -> ThreadingHTTPServer:
    """An HTTP server that answers 204 to good alerts and duplicates, 400 to bad ones."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server naming)
            try:
                length = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                length = -1
            if not 0 <= length <= MAX_BODY:
                return self._answer(413)
            body = self.rfile.read(length)
            try:
                alert = verifier.verify(body, dict(self.headers.items()))
            except (WebhookVerificationError, ValueError, KeyError):
                return self._answer(400)  # never act on an unverified body
            if alert is not None:
                on_alert(alert)
            return self._answer(204)  # 2xx for duplicates too, or canary keeps retrying

        def _answer(self, status: int) -> None:
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):  # keep alert contents out of access logs
            pass

    return ThreadingHTTPServer((host, port), Handler)


def _print_alert(alert: dict[str, Any]) -> None:
    data = alert.get("data", {})
    print(
        json.dumps(
            {
                "type": alert.get("type"),
                "incident": data.get("incident_id"),
                "leak_point": (data.get("verdict") or {}).get("leak_point"),
                "confidence": data.get("confidence"),
                "link": data.get("link"),
            },
            ensure_ascii=False,
        ),
        flush=True,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument(
        "--secret",
        default=os.environ.get("CANARY_WEBHOOK_SECRET", ""),
        help="the whsec_... signing secret (default: $CANARY_WEBHOOK_SECRET)",
    )
    args = parser.parse_args(argv)
    if not args.secret:
        parser.error("give the signing secret with --secret or CANARY_WEBHOOK_SECRET")
    server = make_server(Verifier(args.secret), args.host, args.port, _print_alert)
    print(f"verifying canary webhooks on http://{args.host}:{server.server_port}/", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
