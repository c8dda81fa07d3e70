"""Locale packs: name data as JSON files under ``locales/``; adding a locale adds no code.

A pack holds ``surnames`` (name -> share), ``surname_readings`` (surnames whose reading
differs from the common one, e.g. 曾 zeng, 单 shan), and ``given`` names or characters by
sex and decade of birth, with the share of two-character given names for Han packs.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path

from canary.errors import ConfigError

LOCALE_DIR = Path(__file__).resolve().parent / "locales"


@dataclass(frozen=True)
class GivenNames:
    weights: dict[str, float]  # characters (Han) or whole first names (Latin)
    two_char_share: float  # Han only: share of two-character given names


@dataclass(frozen=True)
class LocalePack:
    locale: str
    script: str  # "han" or "latin"
    surnames: dict[str, float]
    surname_readings: dict[str, str]
    given: dict[str, dict[int, GivenNames]]  # sex -> decade -> names

    def given_for(self, sex: str, birth_year: int | None) -> GivenNames:
        """Given names of the decade closest to the birth year (mothers: "female")."""
        table = self.given.get(sex) or next(iter(self.given.values()))
        decades = sorted(table)
        if birth_year is None:
            return table[decades[len(decades) // 2]]
        best = min(decades, key=lambda d: abs(d + 5 - birth_year))
        return table[best]

    @functools.cached_property
    def compound_surnames(self) -> list[str]:
        # Cached: split_han asks for it once per name, and profiling splits thousands.
        return sorted((s for s in self.surnames if len(s) > 1), key=len, reverse=True)


def available() -> list[str]:
    return sorted(p.stem for p in LOCALE_DIR.glob("*.json"))


@functools.cache
def load(locale: str) -> LocalePack:
    """Load a pack by name (``zh_CN``); unknown locales raise ConfigError."""
    path = LOCALE_DIR / f"{locale}.json"
    if not path.is_file():
        raise ConfigError(
            f"no locale pack {locale!r}; available: {', '.join(available())}. "
            f"Add canary/forging/locales/{locale}.json to support it."
        )
    data = json.loads(path.read_text(encoding="utf-8"))
    given: dict[str, dict[int, GivenNames]] = {}
    for sex, decades in data["given"].items():
        given[sex] = {
            int(decade): GivenNames(
                weights={k: float(v) for k, v in spec["chars"].items()},
                two_char_share=float(spec.get("two_char_share", 0.0)),
            )
            for decade, spec in decades.items()
        }
    return LocalePack(
        locale=data["locale"],
        script=data.get("script", "han"),
        surnames={k: float(v) for k, v in data["surnames"].items()},
        surname_readings=dict(data.get("surname_readings", {})),
        given=given,
    )
