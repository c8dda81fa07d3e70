"""Values are written exactly the way the feed writes them."""

from __future__ import annotations

import datetime as dt

import pytest

from canary.forging import idcard
from canary.forging.values import fill_digits, formula_safe, parse_date


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-23",
        "2026/11/23",
        "2026年11月23日",
        "2026/1/5",
        "11/23/2026",
        "2026-11-23 08:05",
        "20261123",
        "2026-11-23T08:05:09",
    ],
)
def test_date_layouts_round_trip(text):
    value, layout = parse_date(text)
    assert layout.render(value) == text


def test_new_date_keeps_the_layout():
    _, layout = parse_date("2026年1月5日")
    assert layout.render(dt.datetime(2026, 11, 3)) == "2026年11月3日"


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("138-0013-8000", "139-1234-5678"),
        ("138 0013 8000", "139 1234 5678"),
        ("+8613800138000", "+8613912345678"),
        ("(+86) 138 0013 8000", "(+86) 139 1234 5678"),
        ("138****8000", "139****5678"),
    ],
)
def test_phone_layout_is_copied_from_a_real_cell(template, expected):
    assert fill_digits(template, "13912345678") == expected


def test_formula_leads_are_refused_unless_plain_numbers():
    assert formula_safe("+8613912345678")
    assert not formula_safe("+86 139 1234 5678")
    assert not formula_safe("=HYPERLINK(1)")
    assert formula_safe("138-0013-8000")


def test_gb11643_check_character():
    made = idcard.make("310104", dt.date(1993, 4, 2), 124)
    assert idcard.is_valid(made) and made[6:14] == "19930402"
    assert not idcard.is_valid(made[:-1] + ("0" if made[-1] != "0" else "1"))
