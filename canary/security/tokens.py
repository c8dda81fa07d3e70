"""API tokens, roles and permission checks.

Only a SHA-256 of each token is stored. Tokens are long random strings, so a plain
hash (not a slow password hash) is enough to make a stolen table useless.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from canary.db import utcnow
from canary.errors import AuthenticationRequired, CanaryError, NotFound, PermissionDenied
from canary.security import audit
from canary.security.models import ApiToken

TOKEN_PREFIX = "cnr_"

# The permission model. The operator runs the pipeline but can never see which rows
# are canaries: an insider who could list them would strip them before selling.
PERMISSIONS: dict[str, frozenset[str]] = {
    "admin": frozenset(
        {
            "map:read",
            "map:write",
            "inject",
            "canaries:read",
            "numbers:read",
            "numbers:write",
            "incidents:read",
            "incidents:write",
            "evidence:export",
            "alerts:read",
            "alerts:write",
            "scan",
            "tokens:write",
            "folders:write",
            "audit:read",
        }
    ),
    "operator": frozenset({"map:read", "map:write", "inject", "numbers:read", "numbers:write"}),
    "analyst": frozenset(
        {"map:read", "incidents:read", "incidents:write", "evidence:export", "alerts:read", "scan"}
    ),
}
ROLES = tuple(PERMISSIONS)


@dataclass(frozen=True)
class Principal:
    """Who is acting: a token holder, or a local CLI user (who holds the key file)."""

    actor: str
    role: str
    token_id: int | None = None

    def can(self, permission: str) -> bool:
        return permission in PERMISSIONS.get(self.role, frozenset())


def cli_principal(name: str = "cli") -> Principal:
    """Local command-line user: whoever can read the key file is an administrator."""
    import getpass

    try:
        user = getpass.getuser()
    except Exception:  # no passwd entry in some containers
        user = "unknown"
    return Principal(actor=f"{name}:{user}", role="admin")


SYSTEM = Principal(actor="system", role="admin")


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(session: Session, role: str, name: str, created_by: str) -> tuple[ApiToken, str]:
    """Create a token; returns the row and the plaintext, which is shown only once."""
    if role not in PERMISSIONS:
        raise CanaryError(f"unknown role {role!r}; choose one of {', '.join(ROLES)}")
    plaintext = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(
        name=name,
        role=role,
        token_hash=_hash(plaintext),
        prefix=plaintext[:8],
        created_by=created_by,
    )
    session.add(row)
    session.flush()
    audit.record(session, created_by, "token.create", "api_token", row.id, role=role)
    return row, plaintext


def revoke_token(session: Session, token_id: int, actor: str) -> None:
    row = session.get(ApiToken, token_id)
    if row is None:
        raise NotFound(f"no token with id {token_id}")
    row.revoked_at = utcnow()
    audit.record(session, actor, "token.revoke", "api_token", token_id)


def authenticate(session: Session, plaintext: str | None) -> Principal:
    """Resolve a bearer token to a principal, or raise AuthenticationRequired."""
    if not plaintext:
        raise AuthenticationRequired(
            "an API token is required: send 'Authorization: Bearer <token>'"
        )
    digest = _hash(plaintext)
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == digest))
    if row is None or row.revoked_at is not None or not hmac.compare_digest(row.token_hash, digest):
        raise AuthenticationRequired("the API token is unknown or revoked")
    return Principal(actor=f"token:{row.id}:{row.name}", role=row.role, token_id=row.id)


def require(session: Session, principal: Principal, permission: str, subject: str = "") -> None:
    """Raise PermissionDenied, and audit the refusal, unless the principal may do this."""
    if principal.can(permission):
        return
    audit.record(
        session,
        principal.actor,
        "permission.denied",
        "permission",
        permission,
        outcome="denied",
        token_id=principal.token_id,
        subject=subject,
    )
    session.commit()  # the refusal is kept even though the request fails
    raise PermissionDenied(f"role {principal.role!r} may not {permission}")


def list_tokens(session: Session) -> list[ApiToken]:
    return list(session.scalars(select(ApiToken).order_by(ApiToken.id)))
