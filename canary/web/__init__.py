"""Flask blueprints: JSON API, Twilio webhooks, console. Views are thin: parse, call, render."""

from canary.web.app import create_app

__all__ = ["create_app"]
