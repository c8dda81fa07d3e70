"""Bearer-token authentication and permission checks for API views."""

from __future__ import annotations

import functools
from collections.abc import Callable

from flask import current_app, g, request

from canary.context import Context
from canary.security.tokens import Principal, authenticate, require


def ctx() -> Context:
    return current_app.extensions["canary"]


def requires(permission: str) -> Callable:
    """Authenticate the bearer token and check ``permission`` before the view runs."""

    def decorator(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            header = request.headers.get("Authorization", "")
            token = header[7:].strip() if header.lower().startswith("bearer ") else None
            with ctx().db.session() as session:
                principal = authenticate(session, token)
                require(session, principal, permission, subject=request.path)
            g.principal = principal
            return view(*args, **kwargs)

        return wrapper

    return decorator


def principal() -> Principal:
    return g.principal
