"""A Twilio REST stand-in on loopback, for tests (dev-only; never shipped).

It implements the endpoints canary's ``TwilioProvider`` calls, with Twilio's URL
layout, form-encoded requests, basic auth, JSON shapes and paging
(``next_page_uri``), so the real SDK builds and parses every request:

* ``GET  /2010-04-01/Accounts/{AC}/AvailablePhoneNumbers/{CC}/{Local|Mobile|TollFree}.json``
* ``POST /2010-04-01/Accounts/{AC}/IncomingPhoneNumbers.json``
* ``GET  /2010-04-01/Accounts/{AC}/IncomingPhoneNumbers.json``
* ``DELETE /2010-04-01/Accounts/{AC}/IncomingPhoneNumbers/{PN}.json``
* ``GET  /2010-04-01/Accounts/{AC}/Calls.json`` (To, StartTime>, Page, PageSize)
* ``GET  /2010-04-01/Accounts/{AC}/Messages.json`` (To, DateSent>, Page, PageSize)
* ``GET  /pricing/v1/PhoneNumbers/Countries/{CC}``

Like Twilio, the ``StartTime>``/``DateSent>`` filters compare dates only.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
import secrets
import threading
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

API = "/2010-04-01/Accounts/"


def _rfc2822(value: dt.datetime) -> str:
    return format_datetime(value.astimezone(dt.UTC), usegmt=False).replace("-0000", "+0000")


class TwilioStandIn:
    """State (numbers, calls, messages) plus a threaded HTTP server serving it."""

    def __init__(self, account_sid: str, auth_token: str, host: str = "127.0.0.1"):
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.available: dict[tuple[str, str], list[dict]] = {}
        self.incoming: dict[str, dict] = {}
        self.calls: list[dict] = []
        self.messages: list[dict] = []
        self.prices: dict[str, dict] = {}
        self.requests: list[tuple[str, str, dict]] = []  # (method, path, query/form)
        self.fail_next: int | None = None  # HTTP status to answer the next request with
        self._lock = threading.Lock()
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                standin._dispatch(self, "GET")

            def do_POST(self):  # noqa: N802
                standin._dispatch(self, "POST")

            def do_DELETE(self):  # noqa: N802
                standin._dispatch(self, "DELETE")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer((host, 0), Handler)
        self.url = f"http://{host}:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    # -- lifecycle ------------------------------------------------------------------
    def start(self) -> TwilioStandIn:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=5)

    # -- test set-up ----------------------------------------------------------------
    def offer(self, country: str, number_type: str, *numbers: str, locality: str = "") -> None:
        """Numbers the search endpoint offers for a country and type."""
        self.available.setdefault((country.upper(), number_type), []).extend(
            {"phone_number": n, "iso_country": country.upper(), "locality": locality}
            for n in numbers
        )

    def add_call(
        self,
        to: str,
        from_: str,
        start: dt.datetime,
        *,
        direction="inbound",
        forwarded_from=None,
        sid=None,
    ) -> str:
        sid = sid or "CA" + secrets.token_hex(16)
        self.calls.append(
            {
                "sid": sid,
                "account_sid": self.account_sid,
                "to": to,
                "from": from_,
                "forwarded_from": forwarded_from,
                "direction": direction,
                "status": "completed",
                "start_time": _rfc2822(start),
                "end_time": _rfc2822(start + dt.timedelta(seconds=30)),
                "date_created": _rfc2822(start),
                "date_updated": _rfc2822(start),
                "duration": "30",
                "api_version": "2010-04-01",
                "uri": f"{API}{self.account_sid}/Calls/{sid}.json",
            }
        )
        return sid

    def add_message(
        self, to: str, from_: str, sent: dt.datetime, body: str, *, direction="inbound"
    ) -> str:
        sid = "SM" + secrets.token_hex(16)
        self.messages.append(
            {
                "sid": sid,
                "account_sid": self.account_sid,
                "to": to,
                "from": from_,
                "body": body,
                "direction": direction,
                "status": "received",
                "num_media": "0",
                "num_segments": "1",
                "date_sent": _rfc2822(sent),
                "date_created": _rfc2822(sent),
                "date_updated": _rfc2822(sent),
                "api_version": "2010-04-01",
                "uri": f"{API}{self.account_sid}/Messages/{sid}.json",
            }
        )
        return sid

    # -- HTTP -------------------------------------------------------------------------
    def _dispatch(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        parts = urlsplit(handler.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        length = int(handler.headers.get("Content-Length") or 0)
        form = {k: v[0] for k, v in parse_qs(handler.rfile.read(length).decode()).items()}
        with self._lock:
            self.requests.append((method, parts.path, {**query, **form}))
            fail, self.fail_next = self.fail_next, None
        if fail:
            return self._send(
                handler, fail, {"code": 20500, "message": "stand-in failure", "status": fail}
            )
        if not self._authorised(handler.headers.get("Authorization", "")):
            return self._send(
                handler, 401, {"code": 20003, "message": "Authenticate", "status": 401}
            )
        status, body = self._route(method, parts.path, query, form)
        self._send(handler, status, body)

    def _authorised(self, header: str) -> bool:
        if not header.startswith("Basic "):
            return False
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        return user == self.account_sid and password == self.auth_token

    @staticmethod
    def _send(handler, status: int, body: dict | None) -> None:
        data = b"" if body is None else json.dumps(body).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    def _route(self, method: str, path: str, query: dict, form: dict):
        account = f"{API}{self.account_sid}"
        if method == "GET" and (
            m := re.fullmatch(
                rf"{account}/AvailablePhoneNumbers/(\w\w)/(Local|Mobile|TollFree)\.json", path
            )
        ):
            kind = {"Local": "local", "Mobile": "mobile", "TollFree": "toll_free"}[m.group(2)]
            offered = self.available.get((m.group(1), kind), [])
            if query.get("AreaCode"):
                offered = [n for n in offered if n["phone_number"][2:5] == query["AreaCode"]]
            if query.get("Contains"):
                pattern = query["Contains"].replace("*", "")
                offered = [n for n in offered if pattern in n["phone_number"]]
            return 200, {
                "available_phone_numbers": offered[: int(query.get("PageSize", 50))],
                "uri": path,
            }
        if path == f"{account}/IncomingPhoneNumbers.json":
            if method == "POST":
                return self._buy(form)
            return self._page(path, query, "incoming_phone_numbers", list(self.incoming.values()))
        if method == "DELETE" and (
            m := re.fullmatch(rf"{account}/IncomingPhoneNumbers/(PN\w+)\.json", path)
        ):
            if self.incoming.pop(m.group(1), None) is None:
                return 404, {"code": 20404, "message": "not found", "status": 404}
            return 204, None
        if method == "GET" and path == f"{account}/Calls.json":
            rows = self._filter(self.calls, query, "StartTime>", "start_time")
            return self._page(path, query, "calls", rows)
        if method == "GET" and path == f"{account}/Messages.json":
            rows = self._filter(self.messages, query, "DateSent>", "date_sent")
            return self._page(path, query, "messages", rows)
        if method == "GET" and (
            m := re.fullmatch(r"/pricing/v1/PhoneNumbers/Countries/(\w\w)", path)
        ):
            if m.group(1) not in self.prices:
                return 404, {"code": 20404, "message": "not found", "status": 404}
            return 200, self.prices[m.group(1)]
        return 404, {"code": 20404, "message": f"no route {method} {path}", "status": 404}

    def _buy(self, form: dict):
        number = form.get("PhoneNumber")
        if not number:
            return 400, {"code": 21421, "message": "PhoneNumber is required", "status": 400}
        offered = {n["phone_number"] for rows in self.available.values() for n in rows}
        if number not in offered:
            return 400, {"code": 21422, "message": "PhoneNumber is not available", "status": 400}
        sid = "PN" + secrets.token_hex(16)
        record = {
            "sid": sid,
            "account_sid": self.account_sid,
            "phone_number": number,
            "voice_url": form.get("VoiceUrl"),
            "voice_method": form.get("VoiceMethod"),
            "sms_url": form.get("SmsUrl"),
            "sms_method": form.get("SmsMethod"),
            "status_callback": form.get("StatusCallback"),
            "status_callback_method": form.get("StatusCallbackMethod"),
            "date_created": _rfc2822(dt.datetime.now(dt.UTC)),
        }
        self.incoming[sid] = record
        for rows in self.available.values():
            rows[:] = [n for n in rows if n["phone_number"] != number]
        return 201, record

    @staticmethod
    def _filter(rows: list[dict], query: dict, after_key: str, field: str) -> list[dict]:
        from email.utils import parsedate_to_datetime

        if query.get("To"):
            rows = [r for r in rows if r["to"] == query["To"]]
        if query.get(after_key):
            day = dt.date.fromisoformat(query[after_key][:10])  # date-only, like Twilio
            rows = [
                r for r in rows if parsedate_to_datetime(r[field]).astimezone(dt.UTC).date() >= day
            ]
        return sorted(rows, key=lambda r: parsedate_to_datetime(r[field]), reverse=True)

    @staticmethod
    def _page(path: str, query: dict, key: str, rows: list[dict]):
        size = int(query.get("PageSize", 50))
        page = int(query.get("Page", 0))
        chunk = rows[page * size : (page + 1) * size]
        more = (page + 1) * size < len(rows)
        base = {k: v for k, v in query.items() if k not in ("Page", "PageToken")}
        next_uri = (
            f"{path}?{urlencode({**base, 'Page': page + 1, 'PageToken': f'PA{page + 1}'})}"
            if more
            else None
        )
        return 200, {
            key: chunk,
            "page": page,
            "page_size": size,
            "start": page * size,
            "end": page * size + len(chunk) - 1,
            "uri": f"{path}?{urlencode(query)}",
            "first_page_uri": f"{path}?{urlencode({**base, 'Page': 0})}",
            "next_page_uri": next_uri,
            "previous_page_uri": None,
        }
