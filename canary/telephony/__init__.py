"""Telephony: the number pool, Twilio webhooks and polling, and the events they produce."""
