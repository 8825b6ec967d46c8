"""Table 2 of T/CEC 122.2-2016: 22 customer categories in four utilities (R-4.2.4)."""

from __future__ import annotations

from emms_archive.masterdata.categories import BY_CODE, CATEGORIES, Utility, categories_of, check_category


def test_there_are_22_categories_six_five_five_six() -> None:
    assert len(CATEGORIES) == 22 and len(BY_CODE) == 22
    assert [len(categories_of(u)) for u in Utility] == [6, 5, 5, 6]


def test_codes_carry_their_utility_and_the_standards_wording() -> None:
    assert all(c.code[0] == c.utility.value[0] for c in CATEGORIES)
    assert BY_CODE["e_public_transformer_check"].name_zh == "电力公用变压器考核计量"
    assert BY_CODE["h_exchange_station"].name_zh == "换热站"
    assert [c.name_zh for c in categories_of(Utility.GAS)] == [
        "城市储配站", "输配气管网与压气站", "加压站", "工商业用户", "居民用户"]


def test_check_category_says_why() -> None:
    assert check_category("water", "w_booster_station") is None
    assert "belongs to gas" in (check_category("water", "g_booster_station") or "")
    assert "unknown category" in (check_category("heat", "h_sauna") or "")
