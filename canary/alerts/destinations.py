"""Alert destinations: where alerts go, with which filters, and their credentials.

A destination's target (a URL, or the SMTP settings and recipients) and its webhook
signing secret are credentials: a Slack or Teams URL alone lets anyone post into the
channel. Both are stored only encrypted; listings show a redacted target.
"""

from __future__ import annotations

import base64
import re
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from canary.alerts.models import Destination
from canary.errors import AlreadyExists, CanaryError, NotFound
from canary.flow.models import Feed, Holder
from canary.security import audit
from canary.security.crypto import KeyRing

KINDS = ("webhook", "slack", "teams", "email")
SECRET_PREFIX = "whsec_"
# 32 random bytes: the Standard Webhooks spec asks for 24 to 64.
SECRET_BYTES = 32
_NAME = re.compile(r"^[\w][\w .@:-]{0,199}$")
_EMAIL = re.compile(r"^[^@\s,;<>]+@[^@\s,;<>]+\.[^@\s,;<>]+$")


@dataclass(frozen=True)
class Credentials:
    """A destination's decrypted target config and signing secret (keep out of logs)."""

    target: dict[str, Any]
    secret: str | None

    def __repr__(self) -> str:  # never print credentials by accident
        return "Credentials(<redacted>)"


def _aad(kind: str, name: str, what: str) -> str:
    return f"destination:{kind}:{name}:{what}"


def new_secret() -> str:
    """A fresh Standard Webhooks signing secret: ``whsec_`` + base64 of random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def _check_url(url: str, kind: str) -> str:
    url = (url or "").strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise CanaryError(
            f"a {kind} destination needs an http(s) URL, e.g. https://example.org/hook"
        )
    return url


def _check_email(target: dict[str, Any]) -> dict[str, Any]:
    recipients = [r.strip() for r in target.get("to", []) if r and r.strip()]
    if not recipients:
        raise CanaryError("an email destination needs at least one recipient (--url mailto:ADDR)")
    for address in [*recipients, target.get("from", "")]:
        if not _EMAIL.match(address or ""):
            raise CanaryError(
                "an email destination needs valid addresses for the recipients and --smtp-from"
            )
    if not target.get("host"):
        raise CanaryError("an email destination needs an SMTP server (--smtp-host)")
    port = int(target.get("port") or (465 if target.get("ssl") else 587))
    if not 0 < port < 65536:
        raise CanaryError("the SMTP port must be between 1 and 65535")
    return {
        "to": recipients,
        "from": target["from"],
        "host": str(target["host"]),
        "port": port,
        "starttls": bool(target.get("starttls", not target.get("ssl"))),
        "ssl": bool(target.get("ssl", False)),
        "username": str(target.get("username") or ""),
        "password": str(target.get("password") or ""),
    }


def email_target(
    url: str,
    *,
    host: str,
    port: int | None = None,
    sender: str,
    starttls: bool = True,
    ssl: bool = False,
    username: str = "",
    password: str = "",
) -> dict[str, Any]:
    """Build an email target from ``mailto:a@x,b@y`` (or bare addresses) and SMTP settings."""
    text = url[len("mailto:") :] if url.lower().startswith("mailto:") else url
    return {
        "to": [a for a in re.split(r"[,;]", text) if a.strip()],
        "from": sender,
        "host": host,
        "port": port,
        "starttls": starttls and not ssl,
        "ssl": ssl,
        "username": username,
        "password": password,
    }


def _resolve(session: Session, model, names: list[str] | None, what: str) -> list[int]:
    ids = []
    for name in names or []:
        row = session.scalar(select(model).where(model.name == name))
        if row is None:
            raise NotFound(f"no {what} named {name!r}; list them with `canary {what} list`")
        ids.append(row.id)
    return sorted(set(ids))


def _keyring(keys: KeyRing | Any) -> KeyRing:
    """Accept the KeyRing or the Context that carries it (callers hold either)."""
    return keys if isinstance(keys, KeyRing) else keys.keys


def add(
    session: Session,
    keys: KeyRing | Any,
    name: str,
    kind: str = "webhook",
    target: str | dict[str, Any] | None = None,
    *,
    url: str | None = None,
    feeds: list[str] | None = None,
    holders: list[str] | None = None,
    min_confidence: float | None = None,
    actor: str,
) -> tuple[Destination, str | None]:
    """Create a destination. Returns it and, for webhooks, the signing secret (shown once).

    ``target`` is the URL (``url=`` works too), or for e-mail the dict built by
    ``email_target``. ``keys`` may be the KeyRing or the Context.
    """
    keys = _keyring(keys)
    target = target if target is not None else url
    if target is None:
        raise CanaryError("a destination needs a target: --url URL (or mailto:ADDR for e-mail)")
    name = (name or "").strip()
    if not _NAME.match(name):
        raise CanaryError("a destination name is 1-200 letters, digits, spaces or . @ : - _")
    if kind not in KINDS:
        raise CanaryError(f"unknown destination kind {kind!r}; choose one of {', '.join(KINDS)}")
    existing = session.scalar(select(Destination).where(Destination.name == name))
    if existing is not None:
        raise AlreadyExists(f"destination {name!r} already exists (id {existing.id})")
    if kind == "email":
        config = _check_email(target if isinstance(target, dict) else {"to": [target]})
    else:
        url = target["url"] if isinstance(target, dict) else target
        config = {"url": _check_url(url, kind)}
    if min_confidence is not None and not 0.0 <= float(min_confidence) <= 1.0:
        raise CanaryError("--min-confidence must be between 0 and 1")
    filters: dict[str, Any] = {
        "feeds": _resolve(session, Feed, feeds, "feed"),
        "holders": _resolve(session, Holder, holders, "holder"),
    }
    if min_confidence is not None:
        filters["min_confidence"] = float(min_confidence)
    secret = new_secret() if kind == "webhook" else None
    row = Destination(
        name=name,
        kind=kind,
        target_enc=keys.encrypt_json(config, _aad(kind, name, "target")),
        secret_enc=keys.encrypt_text(secret, _aad(kind, name, "secret")) if secret else None,
        filters=filters,
        enabled=True,
    )
    session.add(row)
    session.flush()
    audit.record(session, actor, "destination.add", "destination", row.id, kind=kind)
    return row, secret


def get(session: Session, ref: str | int) -> Destination:
    """A destination by id or name."""
    row = None
    # str.isdigit accepts '²', which int() refuses; an id wider than the column names
    # no row (and would overflow the driver), so both fall through to a name lookup.
    digits = isinstance(ref, int) or (str(ref).isdecimal() and len(str(ref)) <= 10)
    if digits and 0 < int(ref) < 2**31:
        row = session.get(Destination, int(ref))
    if row is None:
        row = session.scalar(select(Destination).where(Destination.name == str(ref)))
    if row is None:
        raise NotFound(f"no destination {ref!r}; list them with `canary alerts list`")
    return row


def credentials(keys: KeyRing, destination: Destination) -> Credentials:
    """Decrypt a destination's target and secret, for the channel that sends."""
    target = keys.decrypt_json(
        destination.target_enc, _aad(destination.kind, destination.name, "target")
    )
    secret = None
    if destination.secret_enc:
        secret = keys.decrypt_text(
            destination.secret_enc, _aad(destination.kind, destination.name, "secret")
        )
    return Credentials(target=target, secret=secret)


def redacted_target(keys: KeyRing, destination: Destination) -> str:
    """Enough to recognise the target, not enough to use it (Slack URLs are credentials)."""
    target = credentials(keys, destination).target
    if destination.kind == "email":
        return f"{', '.join(target['to'])} via {target['host']}:{target['port']}"
    parts = urlsplit(target["url"])
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname}{port}/…"


def describe(keys: KeyRing, session: Session, destination: Destination) -> dict[str, Any]:
    """A destination as plain data for listings (target redacted, no secret)."""
    filters = destination.filters or {}
    feed_names = [session.get(Feed, i) for i in filters.get("feeds", [])]
    holder_names = [session.get(Holder, i) for i in filters.get("holders", [])]
    return {
        "id": destination.id,
        "name": destination.name,
        "kind": destination.kind,
        "target": redacted_target(keys, destination),
        "enabled": destination.enabled,
        "filters": {
            "feeds": [f.name for f in feed_names if f is not None],
            "holders": [h.name for h in holder_names if h is not None],
            "min_confidence": filters.get("min_confidence"),
        },
        "created_at": destination.created_at.isoformat(timespec="seconds"),
    }


def list_destinations(session: Session) -> list[Destination]:
    return list(session.scalars(select(Destination).order_by(Destination.id)))


def set_enabled(session: Session, ref: str | int, enabled: bool, *, actor: str) -> Destination:
    row = get(session, ref)
    row.enabled = enabled
    audit.record(
        session,
        actor,
        "destination.enable" if enabled else "destination.disable",
        "destination",
        row.id,
    )
    return row


def remove(session: Session, ref: str | int, *, actor: str) -> None:
    """Delete a destination and its outbox history.

    Pending deliveries go with it: nobody is left to receive them.
    """
    from canary.alerts.models import AlertDelivery

    row = get(session, ref)
    for delivery in session.scalars(
        select(AlertDelivery).where(AlertDelivery.destination_id == row.id)
    ):
        session.delete(delivery)
    audit.record(session, actor, "destination.remove", "destination", row.id, kind=row.kind)
    session.delete(row)
    session.flush()
