"""The phone provider behind a small interface, with one real implementation: Twilio.

The pool, the CLI and polling talk to ``Provider``; ``TwilioProvider`` does it with
the twilio SDK's REST client. Tests point the same SDK at a loopback stand-in
(``settings.twilio_api_base``) so that the SDK's own request building and response
parsing are exercised, not a mock of them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from email.utils import format_datetime
from typing import Protocol
from urllib.parse import urlsplit

from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from canary.errors import CanaryError, ConfigError
from canary.settings import Settings

NUMBER_TYPES = ("local", "mobile", "toll_free")


class ProviderError(CanaryError):
    """The provider refused or failed; the message says what to check."""

    http_status = 502


@dataclass(frozen=True)
class AvailableNumber:
    e164: str
    country: str
    locality: str = ""
    region: str = ""


@dataclass(frozen=True)
class PurchasedNumber:
    sid: str
    e164: str


class Provider(Protocol):
    name: str

    def search(
        self,
        country: str,
        number_type: str,
        *,
        area_code: str | None = None,
        contains: str | None = None,
        limit: int = 5,
    ) -> list[AvailableNumber]: ...

    def monthly_price(self, country: str, number_type: str) -> tuple[float, str] | None: ...

    def buy(self, e164: str, *, base_url: str) -> PurchasedNumber: ...

    def release(self, sid: str) -> None: ...

    def calls_since(self, since: dt.datetime, to: str) -> Iterator[dict]: ...

    def messages_since(self, since: dt.datetime, to: str) -> Iterator[dict]: ...


class _RebasedHttpClient(TwilioHttpClient):
    """Sends every ``*.twilio.com`` request to one configured base URL instead.

    Rewriting at the HTTP client covers every domain the SDK uses (api, pricing) and
    absolute paging URLs alike, which per-domain ``base_url`` overrides would miss.
    """

    def __init__(self, base: str, **kwargs):
        super().__init__(**kwargs)
        parts = urlsplit(base)
        self._scheme, self._netloc = parts.scheme, parts.netloc
        self._prefix = parts.path.rstrip("/")

    def request(self, method, url, *args, **kwargs):
        parts = urlsplit(url)
        if parts.netloc.endswith("twilio.com"):
            host = parts.netloc.split(".")[0]
            path = (
                f"{self._prefix}/{host}{parts.path}" if host != "api" else self._prefix + parts.path
            )
            url = parts._replace(scheme=self._scheme, netloc=self._netloc, path=path).geturl()
        return super().request(method, url, *args, **kwargs)


def _translate(what: str, exc: Exception) -> ProviderError:
    """A ProviderError naming the operation and HTTP status (never credentials)."""
    if isinstance(exc, TwilioRestException):
        return ProviderError(f"Twilio refused to {what}: HTTP {exc.status} {exc.msg}")
    status = next((a.status_code for a in exc.args if hasattr(a, "status_code")), None)
    if status is not None:
        return ProviderError(f"Twilio refused to {what}: HTTP {status}")
    if isinstance(exc, OSError):
        return ProviderError(f"cannot reach Twilio to {what}: {type(exc).__name__}")
    return ProviderError(f"Twilio request to {what} failed: {type(exc).__name__}")


def _sender(record) -> str:
    # The SDK names it ``_from`` on calls and ``from_`` on messages.
    return getattr(record, "from_", None) or getattr(record, "_from", None) or ""


def _iso_utc(value: dt.datetime | None) -> str:
    if value is None:
        return ""
    return format_datetime(value.astimezone(dt.UTC), usegmt=True)


class TwilioProvider:
    """Twilio through ``twilio.rest.Client``."""

    name = "twilio"

    def __init__(self, settings: Settings, timeout: float = 20.0):
        if not (settings.twilio_account_sid and settings.twilio_auth_token):
            raise ConfigError(
                "Twilio is not configured: set CANARY_TWILIO_ACCOUNT_SID and "
                "CANARY_TWILIO_AUTH_TOKEN (or add numbers by hand with `canary numbers add`)"
            )
        http_client = (
            _RebasedHttpClient(settings.twilio_api_base, timeout=timeout)
            if settings.twilio_api_base
            else TwilioHttpClient(timeout=timeout)
        )
        self.account_sid = settings.twilio_account_sid
        self.client = Client(
            settings.twilio_account_sid, settings.twilio_auth_token, http_client=http_client
        )

    def _call(self, what: str, fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (TwilioException, OSError) as exc:
            raise _translate(what, exc) from None

    def _each(self, what: str, make_stream) -> Iterator:
        """Iterate a lazily paged listing, translating errors raised by later pages."""
        stream = self._call(what, make_stream)
        while True:
            try:
                item = next(stream)
            except StopIteration:
                return
            except TwilioRestException as exc:
                raise ProviderError(
                    f"Twilio refused to {what}: HTTP {exc.status} {exc.msg}"
                ) from None
            except (TwilioException, OSError) as exc:
                raise ProviderError(
                    f"Twilio request to {what} failed: {type(exc).__name__}"
                ) from None
            yield item

    def search(self, country, number_type, *, area_code=None, contains=None, limit=5):
        """Numbers Twilio offers in ``country`` of ``number_type`` (local/mobile/toll_free)."""
        if number_type not in NUMBER_TYPES:
            raise CanaryError(f"number type must be one of {', '.join(NUMBER_TYPES)}")
        country_ctx = self.client.available_phone_numbers(country.upper())
        listing = getattr(country_ctx, number_type)
        kwargs = {"limit": limit, "voice_enabled": True}
        if area_code:
            kwargs["area_code"] = int(area_code)
        if contains:
            kwargs["contains"] = contains
        found = self._call("search numbers", listing.list, **kwargs)
        return [
            AvailableNumber(
                n.phone_number, n.iso_country or country.upper(), n.locality or "", n.region or ""
            )
            for n in found
        ]

    def monthly_price(self, country, number_type):
        """Twilio's current monthly price for this country and type, if it publishes one."""
        record = self._call(
            "read number prices",
            self.client.pricing.v1.phone_numbers.countries(country.upper()).fetch,
        )
        wanted = {"local": "local", "mobile": "mobile", "toll_free": "toll free"}[number_type]
        for price in record.phone_number_prices or []:
            if str(price.get("number_type", "")).lower() == wanted:
                value = price.get("current_price") or price.get("base_price")
                return float(value), (record.price_unit or "USD").upper()
        return None

    def buy(self, e164, *, base_url):
        """Buy a number and point its voice, SMS and status callbacks at this service."""
        base = base_url.rstrip("/")
        bought = self._call(
            "buy the number",
            self.client.incoming_phone_numbers.create,
            phone_number=e164,
            voice_url=f"{base}/twilio/voice",
            voice_method="POST",
            sms_url=f"{base}/twilio/sms",
            sms_method="POST",
            status_callback=f"{base}/twilio/status",
            status_callback_method="POST",
        )
        return PurchasedNumber(sid=bought.sid, e164=bought.phone_number)

    def release(self, sid):
        self._call("release the number", self.client.incoming_phone_numbers(sid).delete)

    def calls_since(self, since, to):
        """Inbound calls to ``to`` that started at or after ``since`` (UTC), as webhook
        parameters. The API's filter is date-only and does not convert time zones, so
        the UTC date is sent and the exact instant is filtered here."""
        since = since.astimezone(dt.UTC)
        records = self._each(
            "list calls",
            lambda: self.client.calls.stream(to=to, start_time_after=since.date(), page_size=100),
        )
        for call in records:
            started = call.start_time or call.date_created
            if call.direction != "inbound" or started is None or started < since:
                continue
            yield {
                "AccountSid": call.account_sid or self.account_sid,
                "CallSid": call.sid,
                "To": call.to or "",
                "From": _sender(call),
                "ForwardedFrom": call.forwarded_from or "",
                "CallStatus": call.status or "",
                "Direction": call.direction,
                "Timestamp": _iso_utc(started),
                "CallDuration": call.duration or "",
            }

    def messages_since(self, since, to):
        """Inbound messages to ``to`` sent at or after ``since`` (UTC), as webhook params."""
        since = since.astimezone(dt.UTC)
        records = self._each(
            "list messages",
            lambda: self.client.messages.stream(to=to, date_sent_after=since.date(), page_size=100),
        )
        for message in records:
            sent = message.date_sent or message.date_created
            if message.direction != "inbound" or sent is None or sent < since:
                continue
            yield {
                "AccountSid": message.account_sid or self.account_sid,
                "MessageSid": message.sid,
                "To": message.to or "",
                "From": _sender(message),
                "Body": message.body or "",
                "NumMedia": message.num_media or "0",
                "Timestamp": _iso_utc(sent),
            }


def from_settings(settings: Settings) -> Provider:
    """The configured provider (Twilio is the only one with an API today)."""
    return TwilioProvider(settings)
