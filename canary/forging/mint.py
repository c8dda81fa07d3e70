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
from canary.forging import idcard, names
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


def good_turing_new(counts: Counter) -> float:
    """Chance the next value is one not seen yet: singletons / total (Good–Turing)."""
    total = sum(counts.values())
    if total < 10:
        return 0.3
    singles = sum(1 for n in counts.values() if n == 1)
    return min(0.6, max(0.02, singles / total))


def blend(
    rng: random.Random, seen: Counter, pack: dict[str, float], p_new: float | None = None
) -> str:
    """Draw like the feed: a value it shows (by frequency), or an unseen one from the pack."""
    unseen = {k: w for k, w in pack.items() if k not in seen}
    p_new = good_turing_new(seen) if p_new is None else p_new
    if seen and (not unseen or rng.random() >= p_new):
        return weighted(rng, dict(seen))
    return weighted(rng, unseen or pack)


class NameMaker:
    """Names blended from the feed's name column and the locale pack."""

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
        for value in column.values:
            if self.han and names.is_han(value):
                surname, given = names.split_han(value, pack)
                self.surnames[surname] += 1
                self.lengths[len(given)] += 1
                self.givens[given] += 1
                for pos, ch in enumerate(given):
                    self.chars.setdefault((len(given), pos), Counter())[ch] += 1
                    self.all_chars[ch] += 1
            elif not self.han:
                words = value.replace(",", " ").split()
                lasts = {s.lower() for s in pack.surnames}
                for w in words:
                    (self.surnames if w.lower() in lasts else self.firsts)[w.title()] += 1

    def make(self, rng: random.Random, birth_year: int | None) -> str:
        given = self.pack.given_for("female", birth_year)
        surname = blend(rng, self.surnames, self.pack.surnames)
        if not self.han:
            first = blend(rng, self.firsts, given.weights)
            return self._latin_layout(rng, first, surname)
        # Two-level Good–Turing: in feeds where given names repeat (popular names of a
        # cohort) reuse one with a new surname; where they are mostly unique, compose
        # a new one from characters. The feed decides which, not a constant.
        if self.givens and rng.random() >= good_turing_new(self.givens):
            return surname + weighted(rng, dict(self.givens))
        if sum(self.lengths.values()) >= 20:
            length = int(weighted(rng, {str(k): v for k, v in self.lengths.items() if k}))
        else:
            length = 2 if rng.random() < given.two_char_share else 1
        chars = [
            blend(rng, self.chars.get((length, pos), Counter()), given.weights)
            for pos in range(length)
        ]
        return surname + "".join(chars)

    def _latin_layout(self, rng: random.Random, first: str, last: str) -> str:
        """Write the name like a real cell: "Jane Smith", "SMITH, Jane", "Smith Jane"."""
        template = rng.choice(self.examples) if self.examples else "First Last"
        words = template.replace(",", " , ").split()
        lasts = {s.lower() for s in self.pack.surnames}
        out, used_first = [], False
        for w in words:
            if w == ",":
                out.append(",")
                continue
            new = last if (w.lower() in lasts or used_first) else first
            used_first = used_first or new == first
            out.append(new.upper() if w.isupper() and len(w) > 1 else new)
        return " ".join(out).replace(" ,", ",")


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
        for _ in range(200):
            name = maker.make(rng, birth_year)
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
