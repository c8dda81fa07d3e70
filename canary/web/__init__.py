"""Flask blueprints: JSON API, Twilio webhooks, console. Views are thin: parse, call, render."""

from canary.web.app import close_app, create_app

__all__ = ["close_app", "create_app"]
