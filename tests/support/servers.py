"""Real HTTP servers on loopback for end-to-end tests."""

from __future__ import annotations

import threading

from werkzeug.serving import make_server

from canary.demo.receiver import WebhookReceiver

__all__ = ["LiveServer", "WebhookReceiver"]


class LiveServer:
    """Runs a Flask app with werkzeug's threaded server on 127.0.0.1 and a free port."""

    def __init__(self, app, host: str = "127.0.0.1"):
        self.server = make_server(host, 0, app, threaded=True)
        self.port = self.server.server_port
        self.url = f"http://{host}:{self.port}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self._thread.join(timeout=5)
