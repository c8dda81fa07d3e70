"""Evidence: a hash-chained, signed log of events and incident changes, and bundles."""
