"""The application factory."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from canary.context import Context, open_context
from canary.errors import CanaryError
from canary.settings import Settings, load_settings

log = logging.getLogger("canary.web")


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

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        return jsonify(error=exc.name, message=exc.description), exc.code

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):  # never leak internals (or personal data) in a 500
        log.exception("unhandled error")
        return jsonify(error="InternalError", message="internal error; see the service log"), 500

    @app.get("/healthz")
    def healthz():
        return {"ok": True}

    return app
