"""The canary registry: decoy records, encrypted at rest, read only with permission."""
