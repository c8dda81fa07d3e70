"""Forging canaries: learn a feed, mint plausible people, and place them in the file."""
