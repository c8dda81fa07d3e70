"""`canary simulate call|sms|recording`: act as Twilio against a running service (dev tool)."""

from __future__ import annotations

import click
import requests

from canary.errors import CanaryError
from canary.settings import load_settings
from canary.telephony import simulator


def _common(fn):
    fn = click.option("--to", "to", required=True, help="Called number (the Twilio number).")(fn)
    fn = click.option(
        "--url", default=None, help="Where the service listens (default: public_base_url)."
    )(fn)
    fn = click.option(
        "--public-url",
        default=None,
        help="URL Twilio would have called, which is signed (default: public_base_url).",
    )(fn)
    return fn


def _target(url: str | None, public_url: str | None) -> tuple[str, str, str, str]:
    settings = load_settings()
    if not settings.twilio_auth_token:
        raise CanaryError(
            "set CANARY_TWILIO_AUTH_TOKEN: the simulator signs with the service's auth token"
        )
    account = settings.twilio_account_sid or simulator.DEFAULT_ACCOUNT
    public = public_url or settings.public_base_url
    return url or public, public, settings.twilio_auth_token, account


def _report(response: requests.Response) -> None:
    click.echo(f"HTTP {response.status_code}")
    if response.text:
        click.echo(response.text)
    if response.status_code >= 400:
        raise SystemExit(1)


def _send(fn, *args, **kwargs) -> requests.Response:
    try:
        return fn(*args, **kwargs)
    except requests.RequestException as exc:
        raise CanaryError(f"cannot reach the service: {type(exc).__name__}") from None


@click.group("simulate")
def simulate_group() -> None:
    """Send Twilio-identical, correctly signed webhooks to a running service (dev tool)."""


@simulate_group.command("call")
@_common
@click.option("--from", "from_", required=True, help="Caller number.")
@click.option("--forwarded-from", default=None, help="Local number the call was forwarded from.")
@click.option("--call-sid", default=None, help="Reuse a CallSid (to test replays).")
def simulate_call(to, url, public_url, from_, forwarded_from, call_sid):
    """An inbound call: the voice webhook."""
    base, public, token, account = _target(url, public_url)
    extra = {"call_sid": call_sid} if call_sid else {}
    _report(
        _send(
            simulator.send_call,
            base,
            token,
            to,
            from_,
            forwarded_from,
            public_base_url=public,
            account_sid=account,
            **extra,
        )
    )


@simulate_group.command("sms")
@_common
@click.option("--from", "from_", required=True, help="Sender number.")
@click.option("--body", default="", help="Message text.")
@click.option("--forwarded-from", default=None, help="Local number the SMS was forwarded from.")
def simulate_sms(to, url, public_url, from_, body, forwarded_from):
    """An inbound SMS: the messaging webhook."""
    base, public, token, account = _target(url, public_url)
    _report(
        _send(
            simulator.send_sms,
            base,
            token,
            to,
            from_,
            body,
            forwarded_from,
            public_base_url=public,
            account_sid=account,
        )
    )


@simulate_group.command("recording")
@click.option("--call-sid", required=True, help="The call the voicemail belongs to.")
@click.option("--duration", type=click.IntRange(0, 24 * 3600), default=12, show_default=True)
@click.option("--url", default=None, help="Where the service listens (default: public_base_url).")
@click.option("--public-url", default=None, help="URL that is signed (default: public_base_url).")
def simulate_recording(call_sid, duration, url, public_url):
    """A finished voicemail: the recording status callback."""
    base, public, token, account = _target(url, public_url)
    _report(
        _send(
            simulator.send_recording,
            base,
            token,
            call_sid,
            public_base_url=public,
            account_sid=account,
            duration=duration,
        )
    )


def register(main: click.Group) -> None:
    main.add_command(simulate_group)
