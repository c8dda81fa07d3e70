"""Profiling learns roles, layouts, sort order and serials from content, not header names."""

from __future__ import annotations

import random

from canary.forging.placement import place
from canary.forging.profile import build
from tests.forging.conftest import newborn_rows, sample_of

OPAQUE = [f"c{i}" for i in range(8)]


def test_roles_are_detected_from_content_under_unknown_headers():
    profile = build(sample_of(newborn_rows(120), OPAQUE))
    roles = [c.role for c in profile.columns]
    assert roles == ["serial", "name", "phone", "date", "date", "number", "category", "category"]
    weight = profile.columns[5]
    assert weight.step == 10 and weight.decimals == 0
    assert profile.region == "CN"
    assert sum(profile.columns[2].prefixes.values()) == 120


def test_sort_keys_and_zero_padded_serial_are_found():
    profile = build(sample_of(newborn_rows(120)))
    assert [(k.column, k.descending) for k in profile.sort_keys][:2] == [(3, False), (1, False)]
    serial = profile.serial
    assert serial.column == 0 and serial.format(7) == "007" and serial.parse("042") == 42


def test_descending_dates_are_a_descending_key():
    rows = newborn_rows(80)
    rows.sort(key=lambda r: r[3], reverse=True)
    for i, r in enumerate(rows):
        r[0] = str(i + 1)
    profile = build(sample_of(rows))
    assert profile.sort_keys[0].column == 3 and profile.sort_keys[0].descending
    assert profile.serial.width == 0


def test_a_sorted_file_with_a_hand_edited_row_is_still_sorted():
    rows = newborn_rows(150)
    rows.sort(key=lambda r: int(r[5]))  # by weight
    rows.insert(40, rows.pop(120))  # one row moved by hand after sorting
    for i, r in enumerate(rows):
        r[0] = str(i + 1)
    profile = build(sample_of(rows))
    assert (profile.sort_keys[0].column, profile.sort_keys[0].descending) == (5, False)
    # A canary goes where its weight keeps the order, never next to the misplaced row.
    canary = list(rows[10])
    canary[5] = "3000"
    for seed in range(20):
        at = place(profile, canary, random.Random(seed))
        assert int(rows[at - 1][5]) <= 3000 <= int(rows[at][5])


def test_unsorted_file_has_no_sort_key():
    rows = newborn_rows(80)
    rows.sort(key=lambda r: r[2])  # by phone text, then scrambled
    import random

    random.Random(3).shuffle(rows)
    profile = build(sample_of([r[1:] for r in rows], OPAQUE[1:]))
    assert profile.sort_keys == []
    assert profile.serial is None


def test_column_map_overrides_detected_roles():
    rows = newborn_rows(60)
    profile = build(sample_of(rows), column_map={"text": "分娩方式", "mother_phone": "电话"})
    assert profile.columns[2].role == "phone"
    assert profile.columns[7].role == "text"


def test_english_feed_with_us_phones_and_month_first_dates():
    header = ["Mother", "Mobile", "Delivered", "Grams"]
    firsts = ["Emily", "Sarah", "Jessica", "Ashley", "Megan", "Laura", "Anna"]
    lasts = ["Smith", "Johnson", "Brown", "Garcia", "Miller", "Davis", "Moore"]
    rows = [
        [
            f"{firsts[i % 7]} {lasts[(i // 7) % 7]}",
            f"(415) {200 + i:03d}-{1000 + i * 7:04d}",
            f"11/{1 + i % 28:02d}/2026",
            str(3000 + 50 * (i % 20)),
        ]
        for i in range(60)
    ]
    profile = build(sample_of(rows, header), locale="en_US")
    assert [c.role for c in profile.columns] == ["name", "phone", "date", "number"]
    assert profile.region == "US" and profile.pack.locale == "en_US"
    assert profile.columns[3].step == 50
