"""The number pool (contract types; the telephony area implements the operations)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class PhoneConstraints:
    """What a canary's phone must look like to pass in a given feed."""

    region: str = "CN"  # ISO region of the feed's phones
    number_type: str = "mobile"
    # Carrier prefixes seen in the feed (first three national digits for CN mobiles).
    prefixes: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True)
class AllocatedNumber:
    contact_point_id: int
    e164: str
    # Name keys of canaries that may still be circulating on this number: a new canary
    # on it must have a name that sounds different from every one of these.
    name_keys_in_use: frozenset[str] = field(default_factory=frozenset)
