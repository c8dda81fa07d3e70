"""Deciding, record by record, which canaries a file holds, and how sure that is.

Rules (each record is one line of the scanned stream):

* A canary is *found* on a record when the record holds two of its fields (phone,
  name, birth date, ID number), or its ID number alone, or a pool number that no other
  canary ever carried.
* A pool number shared by several canaries picks the one whose persona fields (name,
  date, ID) also stand on the record. If no candidate has any, or several tie, the
  record is an *ambiguous sighting*: it proves data from one of those canaries' copies
  is in the file, but not which, so it is reported and never linked to a canary.
* A name alone (common names repeat in real data) is a *name sighting*, reported with
  its count, never linked.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from canary.forensics import confirm
from canary.forensics.engine import CandidateLine
from canary.forensics.index import CanaryIndex, Profile

EXAMPLES = 5  # locations kept per canary or sighting (the counts are complete)


@dataclass
class CanaryFinding:
    canary_id: int
    records: int = 0
    fields: set[str] = field(default_factory=set)
    locations: list[str] = field(default_factory=list)


@dataclass
class Sighting:
    """Evidence that points at a set of canaries without picking one."""

    kind: str  # shared_number | name_only
    candidates: frozenset[int]
    records: int = 0
    locations: list[str] = field(default_factory=list)


@dataclass
class Findings:
    found: dict[int, CanaryFinding] = field(default_factory=dict)
    sightings: dict[tuple[str, frozenset[int]], Sighting] = field(default_factory=dict)
    candidate_lines: int = 0
    # Lines where only a name anchor hit and no date or ID of that canary was present.
    unconfirmed_name_lines: int = 0

    def add_found(self, canary_id: int, fields: set[str], where: str) -> None:
        item = self.found.setdefault(canary_id, CanaryFinding(canary_id))
        item.records += 1
        item.fields |= fields
        if len(item.locations) < EXAMPLES:
            item.locations.append(where)

    def add_sighting(self, kind: str, candidates: frozenset[int], where: str) -> None:
        item = self.sightings.setdefault((kind, candidates), Sighting(kind, candidates))
        item.records += 1
        if len(item.locations) < EXAMPLES:
            item.locations.append(where)


class Judge:
    """Confirms candidate lines against the index and accumulates findings."""

    def __init__(self, index: CanaryIndex):
        self.index = index
        self.findings = Findings()

    def line(self, candidate: CandidateLine) -> None:
        index = self.index
        self.findings.candidate_lines += 1
        numbers: set[str] = set()
        named: set[int] = set()
        by_id: set[int] = set()
        for pattern_id in candidate.pattern_ids:
            target = index.targets[pattern_id]
            numbers |= target.numbers
            named |= target.canaries
            by_id |= target.by_id
        location, raw = confirm.split_location(candidate.raw)
        where = location or f"byte {candidate.offset}"
        if not numbers and not by_id and not self._has_date(named, raw):
            self.findings.unconfirmed_name_lines += 1
            return
        text = confirm.normalise(confirm.decode_line(raw))
        line = _Line(text)
        present = {n for n in numbers if confirm.phone_present(text, index.phones[n])}
        cache: dict[int, set[str]] = {}

        def fields(profile: Profile) -> set[str]:
            if profile.canary_id not in cache:
                cache[profile.canary_id] = line.fields_of(profile)
            return cache[profile.canary_id]

        linked: set[int] = set()
        for number in present:
            sharing = index.canaries_on.get(number, frozenset())
            scored = {c: len(fields(index.profiles[c])) for c in sharing}
            best = max(scored.values(), default=0)
            winners = [c for c, score in scored.items() if score == best]
            if len(sharing) == 1 or (best > 0 and len(winners) == 1):
                canary_id = winners[0]
                self.findings.add_found(
                    canary_id, {"phone"} | fields(index.profiles[canary_id]), where
                )
                linked.add(canary_id)
            else:
                # Which canary this number stands for here cannot be told: say so.
                pool_share = frozenset(winners if best > 0 else sharing)
                self.findings.add_sighting("shared_number", pool_share, where)
                linked |= sharing
        for canary_id in (named | by_id) - linked:
            got = fields(index.profiles[canary_id])
            if "id_number" in got or len(got) >= 2:
                self.findings.add_found(canary_id, got, where)
            elif got:
                self.findings.add_sighting("name_only", frozenset({canary_id}), where)

    def _has_date(self, named: set[int], raw: bytes) -> bool:
        """A name-only line counts only with a second field: look for the bytes of the
        canary's dates before decoding, since names hit many unrelated records."""
        for canary_id in named:
            if any(b in raw for b in self.index.profiles[canary_id].date_bytes):
                return True
        return False


class _Line:
    """A decoded line, with each view computed once however many canaries ask."""

    def __init__(self, text: str):
        self.text = text
        self.dates = confirm.dates_in(text)
        self.ids = confirm.ids_in(text)
        self._squeezed: str | None = None
        self._words: list[str] | None = None

    def fields_of(self, profile: Profile) -> set[str]:
        got = set()
        if profile.name is not None and self._has_name(profile):
            got.add("name")
        if profile.dates & self.dates:
            got.add("birth_date")
        if profile.ids & self.ids:
            got.add("id_number")
        return got

    def _has_name(self, profile: Profile) -> bool:
        if self._squeezed is None:
            self._squeezed = confirm.squeeze(self.text)
        if confirm.han_name_present(self._squeezed, profile.name):
            return True
        if self._words is None:
            self._words = confirm.latin_words(self.text)
        return confirm.latin_name_present(self._words, profile.name)


def merge_sightings(findings: Findings) -> list[Sighting]:
    """Sightings whose canaries were all found elsewhere in the file add nothing."""
    found = set(findings.found)
    out = []
    for sighting in findings.sightings.values():
        if sighting.candidates <= found:
            continue
        out.append(sighting)
    return sorted(out, key=lambda s: (s.kind, sorted(s.candidates)))


def group_by_copy(found: dict[int, CanaryFinding], index: CanaryIndex) -> dict[tuple, list[int]]:
    groups: dict[tuple, list[int]] = defaultdict(list)
    for canary_id in sorted(found):
        profile = index.profiles[canary_id]
        groups[(profile.copy_id, profile.period)].append(canary_id)
    return groups
