"""The application factory."""

from __future__ import annotations

import logging
import traceback
from typing import Any

from flask import Flask, jsonify
from sqlalchemy.exc import DataError
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge
from werkzeug.routing import IntegerConverter

from canary.context import Context, open_context
from canary.errors import CanaryError
from canary.settings import Settings, load_settings
from canary.web.inputs import MAX_ID

log = logging.getLogger("canary.web")


class RowIdConverter(IntegerConverter):
    """``<int:...>`` in a route: a row id, so larger than any row id is a 404.

    Werkzeug's own converter takes any length of digits, and the driver then fails
    to bind a number wider than the id column (a 500 instead of "not found").
    """

    def __init__(self, url_map, fixed_digits=0, min=None, max=MAX_ID, signed=False):
        super().__init__(url_map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


def create_app(
    settings: Settings | None = None,
    context: Context | None = None,
    overrides: dict[str, Any] | None = None,
) -> Flask:
    """Build the app. Brings the schema up to date on start-up."""
    if context is None:
        settings = settings or load_settings(overrides)
        context = open_context(settings, initialise=True)
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = context.settings.max_upload_bytes
    app.extensions["canary"] = context
    app.url_map.converters["int"] = RowIdConverter  # before any route is added
    logging.basicConfig(level=context.settings.log_level)

    from canary.web import (
        api,
        api_alerts,
        api_evidence,
        api_incidents,
        api_inject,
        api_numbers,
        api_scan,
        twilio_hooks,
    )

    for module in (
        api,
        api_numbers,
        api_incidents,
        api_inject,
        api_alerts,
        api_scan,
        api_evidence,
        twilio_hooks,
    ):
        app.register_blueprint(module.bp)
    if context.settings.webhook_journal:
        from canary.telephony.journal import Journal

        app.extensions[twilio_hooks.JOURNAL] = Journal(
            context,
            context.settings.journal_path,
            fsync=context.settings.webhook_journal_fsync,
            storer=context.settings.webhook_journal_storer,
        )

    @app.errorhandler(CanaryError)
    def _domain_error(exc: CanaryError):
        return jsonify(error=type(exc).__name__, message=str(exc)), exc.http_status

    @app.errorhandler(RequestEntityTooLarge)
    def _too_large(_exc):
        limit = context.settings.max_upload_bytes
        return jsonify(
            error="UploadTooLarge",
            message=f"upload exceeds the limit of {limit} bytes (setting max_upload_bytes)",
        ), 413

    @app.errorhandler(DataError)
    def _unstorable(_exc: DataError):
        # Last line of defence (views check their input first): a value the database
        # refuses (out of range, a NUL in text). The transaction was rolled back.
        log.warning("refused a value the database cannot store (DataError)")
        return jsonify(
            error="InvalidValue",
            message="a value is out of range or holds characters that cannot be stored",
        ), 400

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        return jsonify(error=exc.name, message=exc.description), exc.code

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):  # never leak internals (or personal data) in a 500
        # Log the type and where it happened, not the message or the locals: a message
        # often quotes the input (a phone number, a name, a SQL statement's values).
        frames = traceback.extract_tb(exc.__traceback__)[-6:]
        where = " <- ".join(f"{f.filename.rsplit('/', 1)[-1]}:{f.lineno}" for f in reversed(frames))
        log.error("unhandled %s at %s", type(exc).__name__, where or "?")
        return jsonify(error="InternalError", message="internal error; see the service log"), 500

    @app.get("/healthz")
    def healthz():
        return {"ok": True}

    return app


def close_app(app: Flask) -> None:
    """Stop what the app started: store what its webhook journal holds and close it.

    Also done at interpreter exit; call it before closing the app's context.
    """
    from canary.web.twilio_hooks import JOURNAL

    webhook_journal = app.extensions.get(JOURNAL)
    if webhook_journal is not None:
        webhook_journal.close()
