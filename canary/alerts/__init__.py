"""Alerts: destinations, the durable outbox and the channels that deliver."""
