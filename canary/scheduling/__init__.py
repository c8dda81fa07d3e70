"""Background jobs (APScheduler) and the claim rows that keep them single-run."""
