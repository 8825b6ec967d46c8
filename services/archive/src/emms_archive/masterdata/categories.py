"""Customer classification by utility and type: the 22 categories of Table 2 of
T/CEC 122.2-2016 (R-4.2.4).

Codes are stable identifiers stored on customers; the Chinese names are the standard's own
wording so a reader holding the standard can match them. A customer's category must belong
to its utility; :func:`check_category` says why not.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Utility(StrEnum):
    ELECTRICITY = "electricity"
    WATER = "water"
    GAS = "gas"
    HEAT = "heat"


@dataclass(frozen=True, slots=True)
class Category:
    code: str
    utility: Utility
    name: str
    name_zh: str


CATEGORIES: tuple[Category, ...] = (
    Category("e_large_dedicated", Utility.ELECTRICITY, "large dedicated-transformer user (large enterprise)",
             "电力大型专用变压器用户（大型企业）"),
    Category("e_small_dedicated", Utility.ELECTRICITY, "small dedicated-transformer user (small enterprise)",
             "电力小型专用变压器用户（小型企业）"),
    Category("e_lv_three_phase", Utility.ELECTRICITY, "low-voltage three-phase user", "电力低压三相用户"),
    Category("e_lv_single_phase", Utility.ELECTRICITY, "low-voltage single-phase user", "电力低压单相用户"),
    Category("e_residential", Utility.ELECTRICITY, "residential user", "居民用户"),
    Category("e_public_transformer_check", Utility.ELECTRICITY, "public-transformer check metering",
             "电力公用变压器考核计量"),
    Category("w_plant", Utility.WATER, "water plant", "水厂"),
    Category("w_distribution_network", Utility.WATER, "water transmission and distribution network", "输配水管网"),
    Category("w_booster_station", Utility.WATER, "booster station", "加压站"),
    Category("w_commercial_industrial", Utility.WATER, "commercial / industrial user", "工商业用户"),
    Category("w_residential", Utility.WATER, "residential user", "居民用户"),
    Category("g_storage_distribution_station", Utility.GAS, "city storage and distribution station", "城市储配站"),
    Category("g_network_compressor_station", Utility.GAS, "transmission network and compressor station",
             "输配气管网与压气站"),
    Category("g_booster_station", Utility.GAS, "booster station", "加压站"),
    Category("g_commercial_industrial", Utility.GAS, "commercial / industrial user", "工商业用户"),
    Category("g_residential", Utility.GAS, "residential user", "居民用户"),
    Category("h_source_plant", Utility.HEAT, "heat source plant", "供热厂（热源）"),
    Category("h_primary_network", Utility.HEAT, "primary network", "一级管网"),
    Category("h_exchange_station", Utility.HEAT, "heat-exchange station", "换热站"),
    Category("h_secondary_network", Utility.HEAT, "secondary network", "二级管网"),
    Category("h_commercial_industrial", Utility.HEAT, "commercial / industrial user", "工商业用户"),
    Category("h_residential", Utility.HEAT, "residential user", "居民用户"),
)

BY_CODE: dict[str, Category] = {c.code: c for c in CATEGORIES}


def categories_of(utility: Utility | str) -> list[Category]:
    """The categories of one utility, in the standard's order."""
    return [c for c in CATEGORIES if c.utility == utility]


def check_category(utility: str, code: str) -> str | None:
    """``None`` when ``code`` is a category of ``utility``, else the reason it is not."""
    category = BY_CODE.get(code)
    if category is None:
        return f"unknown category {code!r}; see GET /api/v1/categories"
    if category.utility != utility:
        return f"category {code!r} belongs to {category.utility.value}, not {utility}"
    return None
