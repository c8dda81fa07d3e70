"""Twilio webhooks (placeholder blueprint; the telephony area fills it in)."""

from flask import Blueprint

bp = Blueprint("twilio", __name__, url_prefix="/twilio")
