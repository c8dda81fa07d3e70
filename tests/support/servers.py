"""Real HTTP servers on loopback for end-to-end tests."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from werkzeug.serving import make_server


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


class WebhookReceiver:
    """Records every POST; can be told to fail (down) and to recover."""

    def __init__(self, host: str = "127.0.0.1"):
        self.requests: list[dict] = []
        self.status = 200
        self._lock = threading.Lock()
        self._event = threading.Condition(self._lock)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                with receiver._lock:
                    status = receiver.status
                    if status < 400:
                        receiver.requests.append(
                            {"path": self.path, "headers": dict(self.headers.items()), "body": body}
                        )
                        receiver._event.notify_all()
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer((host, 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://{host}:{self.port}/hook"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=5)

    def wait_for(self, count: int, timeout: float = 10.0) -> list[dict]:
        with self._lock:
            self._event.wait_for(lambda: len(self.requests) >= count, timeout=timeout)
            return list(self.requests)

    def json_bodies(self) -> list[dict]:
        return [json.loads(r["body"]) for r in self.requests]
