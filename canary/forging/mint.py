"""Mint one canary row: a plausible person built from the feed's own habits.

The row starts from a *donor*: a real neighbour of the insertion point, so sort keys,
categories, dates and their mutual consistency (delivery date vs birth date vs age) are
the feed's own. Everything that identifies a person is then replaced: the name (from
the locale pack blended with the feed's surname and character mix), the phone (a pool
number written in a real cell's layout), ID numbers. Columns whose values are nearly
unique in the feed (mothers' birth dates, addresses, record numbers) get fresh values,
so "this value also appears elsewhere" is no more common for canaries than for real
rows; columns whose values repeat keep repeating values. Numbers move by the feed's
rounding step so weights keep the ward's 10 g or 50 g habit.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from canary.errors import CanaryError
from canary.forging import frequency, idcard, names
from canary.forging.locales import LocalePack
from canary.forging.profile import EMPTY_TOKENS, Column, FeedProfile, years_between
from canary.forging.values import fill_digits, formula_safe, parse_date, parse_number, render_number


@dataclass
class Minted:
    values: list[str]
    persona: dict = field(default_factory=dict)
    name: str = ""


def weighted(rng: random.Random, weights: dict[str, float]) -> str:
    keys = sorted(weights)
    return rng.choices(keys, weights=[weights[k] for k in keys], k=1)[0]


def _unseen(rng: random.Random, pack: dict[str, float], seen: Counter) -> str | None:
    """A pack value the feed does not show, by the pack's weights (None if none is left)."""
    unseen = {k: w for k, w in pack.items() if k not in seen and w > 0}
    return weighted(rng, unseen) if unseen else None


# Share of name-part draws made by raw frequency rather than Good–Turing. Good–Turing
# matches how often a value recurs *in this file*, but among equally frequent values it
# cannot tell the population's common ones, so its picks are rarer across an insider's
# archive than real rows' are; raw frequency is right across the archive and one count
# too common in the file. Half of each hedges between the two tests (frequency module).
RAW_SHARE = 0.5


class NameMaker:
    """Names drawn like one more row of the feed's name column (see ``frequency``).

    Surnames, given names and given-name characters each follow the feed's own counts;
    values the feed has not shown come from the locale pack, as often as the feed's own
    rare values stay rare (so a canary's character is "seen nowhere else" about as often
    as a real row's).
    """

    def __init__(self, column: Column, pack: LocalePack) -> None:
        self.pack = pack
        self.han = column.script != "latin"
        self.surnames: Counter = Counter()
        self.lengths: Counter = Counter()
        self.chars: dict[tuple[int, int], Counter] = {}
        self.all_chars: Counter = Counter()
        self.givens: Counter = Counter()
        self.firsts: Counter = Counter()
        self.examples = column.values
        self.given_first = True
        for value in column.values:
            if self.han and names.is_han(value):
                surname, given = names.split_han(value, pack)
                self.surnames[surname] += 1
                self.lengths[len(given)] += 1
                self.givens[given] += 1
                for pos, ch in enumerate(given):
                    self.chars.setdefault((len(given), pos), Counter())[ch] += 1
                    self.all_chars[ch] += 1
        if not self.han:
            self.given_first = _given_first(column.values, pack)
            for value in column.values:
                parts = _latin_parts(value, self.given_first)
                if parts:
                    self.firsts[parts[0].title()] += 1
                    self.surnames[parts[1].title()] += 1
        self.surname_survival = frequency.novelty_survival(self.surnames)
        self.char_survival = frequency.novelty_survival(self.all_chars)
        self.first_survival = frequency.novelty_survival(self.firsts)

    def make(self, rng: random.Random, birth_year: int | None, *, from_pack: bool = False) -> str:
        """One name; ``from_pack`` takes the given name from the locale pack instead, for
        feeds whose own names leave no unused combination (``张1`` ... ``张30``)."""
        given = self.pack.given_for("female", birth_year)
        surname = frequency.draw_like_feed(
            rng,
            self.surnames,
            self.surname_survival,
            lambda r: _unseen(r, self.pack.surnames, self.surnames),
            raw_share=RAW_SHARE,
        )
        if from_pack:
            if not self.han:
                return self._latin_layout(rng, weighted(rng, given.weights), surname)
            length = 2 if rng.random() < given.two_char_share else 1
            return surname + "".join(weighted(rng, given.weights) for _ in range(length))
        if not self.han:
            first = frequency.draw_like_feed(
                rng,
                self.firsts,
                self.first_survival,
                lambda r: _unseen(r, given.weights, self.firsts),
                raw_share=RAW_SHARE,
            )
            return self._latin_layout(rng, first, surname)
        # Given names: one the feed holds k times with the chance a real row's given name
        # is held k times by the others; k = 0 composes a new one from characters.
        k = frequency.occurrence_draw(rng, self.givens)
        if k:
            # Reuse as often as Good–Turing says; which name, half the time by raw
            # frequency (see RAW_SHARE).
            if rng.random() < RAW_SHARE:
                return surname + weighted(rng, dict(self.givens))
            return surname + frequency.with_count(rng, self.givens, k)
        if sum(self.lengths.values()) >= 20:
            length = int(weighted(rng, {str(n): c for n, c in self.lengths.items() if n}))
        else:
            length = 2 if rng.random() < given.two_char_share else 1
        chars = [self._char(rng, length, pos, given.weights) for pos in range(length)]
        return surname + "".join(chars)

    def _char(self, rng: random.Random, length: int, pos: int, pack: dict[str, float]) -> str:
        """A given-name character for this place, like one more name of the feed."""
        here = self.chars.get((length, pos), Counter())

        def new_here(r: random.Random) -> str | None:
            # New at this place: a character the feed never shows (as often as its rare
            # characters stay unseen), otherwise one it shows elsewhere in given names.
            if not self.all_chars or r.random() < self.char_survival:
                fresh = _unseen(r, pack, self.all_chars)
                if fresh is not None:
                    return fresh
            elsewhere = Counter({c: n for c, n in self.all_chars.items() if c not in here})
            return weighted(r, dict(elsewhere)) if elsewhere else None

        return frequency.draw_like_feed(rng, here, 1.0, new_here, raw_share=RAW_SHARE)

    def _latin_layout(self, rng: random.Random, first: str, last: str) -> str:
        """Write the name like a real cell: "Jane Smith", "SMITH, Jane", "Smith Jane"."""
        template = rng.choice(self.examples) if self.examples else "First Last"
        comma = "," in template
        words = template.replace(",", " ").split()
        if len(words) < 2:
            return f"{first} {last}"
        given_at, surname_at = _latin_slots(len(words), comma or not self.given_first)
        out = list(words)  # middle names or initials of the template stay as written
        for at, new in ((given_at, first), (surname_at, last)):
            out[at] = new.upper() if words[at].isupper() and len(words[at]) > 1 else new
        if comma:
            return f"{out[0]}, {' '.join(out[1:])}"
        return " ".join(out)


def _latin_slots(width: int, surname_first: bool) -> tuple[int, int]:
    """(given, surname) word positions: "Jane Q. Smith" or "Smith Jane" / "SMITH, Jane"."""
    return (1, 0) if surname_first else (0, width - 1)


def _latin_parts(value: str, given_first: bool) -> tuple[str, str] | None:
    """(given name, surname) of a Latin name cell, by the column's word order."""
    comma = "," in value
    words = [w.strip(".") for w in value.replace(",", " ").split()]
    if len(words) < 2 or not all(w.isalpha() for w in words):
        return None
    given_at, surname_at = _latin_slots(len(words), comma or not given_first)
    return words[given_at], words[surname_at]


def _given_first(values: list[str], pack: LocalePack) -> bool:
    """Does the column write the given name first? Decided by the pack's known surnames.

    Position, not a per-word lookup, then splits every cell: a surname missing from the
    pack ("Yoder") must not be taken for a first name.
    """
    surnames = {s.lower() for s in pack.surnames}
    lead = tail = 0
    for value in values[:2000]:
        words = value.replace(",", " ").split()
        if "," in value or len(words) < 2:
            continue
        lead += words[0].lower() in surnames
        tail += words[-1].lower() in surnames
    return tail >= lead


def _jitter_date(rng: random.Random, col: Column, text: str) -> str:
    parsed = parse_date(text)
    if not parsed:
        return text
    value, layout = parsed
    for _ in range(20):
        days = rng.randint(-150, 150)
        seconds = rng.randint(-3 * 3600, 3 * 3600) if layout.time else 0
        new = value + dt.timedelta(days=days, seconds=seconds)
        if col.low <= new.timestamp() <= col.high or col.low == col.high:
            out = layout.render(new)
            if out not in col.counts:
                return out
    return text


def _move_number(rng: random.Random, col: Column, text: str) -> str:
    """Move a number by a few rounding steps, staying inside the column's range."""
    value = parse_number(text)
    if value is None or col.step <= 0:
        return text
    span = (col.high - col.low) / col.step if col.step else 0
    reach = 3 if span > 60 else 1
    want_repeat = rng.random() < col.repeat_share
    choices = [value + k * col.step for k in range(-reach, reach + 1) if k]
    rng.shuffle(choices)
    for candidate in choices:
        if not col.low <= candidate <= col.high:
            continue
        # In a tail, never further out than the donor: there the outer values are the
        # unused ones, so "a value no real row has" would push canaries outwards and an
        # insider's "unusual weight" rule would catch them more often than real rows.
        if (value < col.inner_low and candidate < value) or (
            value > col.inner_high and candidate > value
        ):
            continue
        out = render_number(candidate, col.decimals)
        if (out in col.counts) == want_repeat:
            return out
    return text


def _fresh_digits(rng: random.Random, col: Column, text: str) -> str:
    """Same text with its digits redrawn (record numbers, house numbers, masked IDs)."""
    places = [i for i, ch in enumerate(text) if ch.isdigit()]
    if not places:
        return text
    for _ in range(20):
        chars = list(text)
        # Keep the leading digits (year, ward code) and redraw the tail, as real numbers vary.
        for i in places[len(places) // 2 :]:
            chars[i] = str(rng.randint(0, 9))
        out = "".join(chars)
        if out not in col.counts:
            return out
    return text


def phone_cell(rng: random.Random, col: Column, national: str) -> str:
    """The pool number written like a real phone cell of this column (grouping, +86, masks)."""
    layouts = [
        v for v in col.values if sum(ch.isdigit() for ch in v) >= len(national) or col.masked
    ]
    rng.shuffle(layouts)
    safe = [v for v in layouts if formula_safe(v)]
    for template in layouts + safe:
        try:
            out = fill_digits(template, national)
        except ValueError:
            continue
        if formula_safe(out):
            return out
    raise CanaryError(
        "the feed writes phones in a layout that starts with '+' and separators, which a "
        "spreadsheet would run as a formula; canary refuses to write such a cell. Map the "
        "phone column to a layout without a leading '+' (e.g. 13800138000) and re-run."
    )


def mint_row(
    rng: random.Random,
    profile: FeedProfile,
    donor: list[str],
    *,
    phone_national: str | None,
    keep: set[int],
    name_ok: Callable[[str], bool],
    today: dt.date,
) -> Minted:
    """Build a canary row from a donor row. ``keep`` are sort-key columns left as the donor's."""
    values = list(donor)
    persona: dict = {}
    for col in profile.columns:
        cell = donor[col.index].strip()
        if col.role in ("name", "phone", "serial"):
            continue
        if cell in EMPTY_TOKENS or col.index in keep:
            continue
        fresh = rng.random() >= col.repeat_share
        if col.role == "date" and fresh:
            values[col.index] = _jitter_date(rng, col, cell)
        elif col.role == "number" and col.index not in [a.target for a in profile.ages]:
            values[col.index] = _move_number(rng, col, cell)
        elif col.role in ("code", "id") or (col.role == "text" and fresh):
            values[col.index] = _fresh_digits(rng, col, cell)
    for rel in profile.ages:
        born, at = parse_date(values[rel.born]), parse_date(values[rel.at])
        if born and at and values[rel.target].strip() not in EMPTY_TOKENS:
            values[rel.target] = str(years_between(born[0].date(), at[0].date()))
    birth_year = _mother_birth_year(profile, values, today)
    for col in profile.of_role("id"):
        if not col.masked and values[col.index].strip() not in EMPTY_TOKENS:
            values[col.index] = _full_id(rng, profile, col, values, birth_year)
            persona["id_number"] = values[col.index]
    for col in profile.of_role("name"):
        maker = NameMaker(col, profile.pack)
        for attempt in range(200):
            name = maker.make(rng, birth_year, from_pack=attempt >= 150)
            if name not in profile.real_names and name_ok(name):
                break
        else:
            raise CanaryError("could not draw a name that differs from the feed's names")
        values[col.index] = name
        persona.setdefault("name", name)
    for col in profile.of_role("phone"):
        if phone_national:
            values[col.index] = phone_cell(rng, col, phone_national)
    persona["dates"] = {}
    for col in profile.of_role("date"):
        parsed = parse_date(values[col.index])
        if parsed:
            persona["dates"][col.header] = parsed[0].date().isoformat()
    if birth_year:
        persona["mother_birth_year"] = birth_year
    return Minted(values=values, persona=persona, name=persona.get("name", ""))


def _mother_birth_year(profile: FeedProfile, values: list[str], today: dt.date) -> int | None:
    for rel in profile.ages:
        born = parse_date(values[rel.born])
        if born:
            return born[0].year
    for col in profile.of_role("date"):
        parsed = parse_date(values[col.index])
        if parsed and parsed[0].year < today.year - 14:
            return parsed[0].year
    for col in profile.of_role("number"):
        age = parse_number(values[col.index])
        if col.step == 1 and age is not None and 14 <= age <= 55:
            return today.year - int(age)
    return None


def _full_id(rng, profile: FeedProfile, col: Column, values: list[str], birth_year) -> str:
    """A valid GB 11643 number: region code seen in the feed, birth date from the row."""
    donor_id = rng.choice(col.values)
    born = None
    if profile.id_birth_column is not None:
        parsed = parse_date(values[profile.id_birth_column])
        born = parsed[0].date() if parsed else None
    if born is None:
        born = idcard.birth_date(donor_id) or dt.date(birth_year or 1994, 6, 15)
        if birth_year and born.year != birth_year:
            born = born.replace(year=birth_year, day=min(born.day, 28))
    sexes = Counter(int(v[16]) % 2 for v in col.values if idcard.is_valid(v))
    parity = sexes.most_common(1)[0][0] if sexes else 0
    real = set(col.values)
    for _ in range(50):
        seq = rng.randrange(0, 500) * 2 + parity
        out = idcard.make(donor_id[:6], born, seq, upper_x=not any(v.endswith("x") for v in real))
        if out not in real:
            return out
    raise CanaryError("could not draw an ID number that differs from the feed's")
