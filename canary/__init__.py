"""canary: decoy records that catch people who sell personal data."""

__version__ = "0.1.0"
