"""Names compared as spoken: toneless pinyin with surname readings."""

from __future__ import annotations

from canary.forging.locales import load
from canary.forging.names import name_key, spoken

ZH = load("zh_CN")


def test_surname_reading_overrides_the_common_reading():
    assert spoken("曾小凡", ZH) == "zeng xiao fan"
    assert spoken("单丽", ZH) == "shan li"


def test_names_that_sound_alike_share_a_key(context):
    assert name_key(context.keys, "张丽", ZH) == name_key(context.keys, "章莉", ZH)
    assert name_key(context.keys, "张丽", ZH) != name_key(context.keys, "张莉娜", ZH)


def test_locale_packs_are_data_with_realistic_breadth():
    assert len(ZH.surnames) >= 300
    assert max(ZH.surnames, key=ZH.surnames.get) in {"王", "李"}
    decades = ZH.given["female"]
    assert len(decades) >= 4 and all(len(g.weights) >= 25 for g in decades.values())
    assert load("en_US").script == "latin"
