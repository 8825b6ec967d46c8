"""Customer categories by utility: the 22 categories of Table 2 of T/CEC 122.2-2016 (R-4.2.4).

The archive owns master data and defines these codes in ``emms_archive.masterdata.categories``;
a service does not import another service, so the codes are repeated here and
``tests/unit/control/test_control_categories.py`` fails the build when the two lists differ.
Tariffs price a category; accounts carry one.
"""

from __future__ import annotations

from enum import StrEnum


class Utility(StrEnum):
    ELECTRICITY = "electricity"
    WATER = "water"
    GAS = "gas"
    HEAT = "heat"


CATEGORIES: dict[str, Utility] = {
    **dict.fromkeys(("e_large_dedicated", "e_small_dedicated", "e_lv_three_phase", "e_lv_single_phase",
                     "e_residential", "e_public_transformer_check"), Utility.ELECTRICITY),
    **dict.fromkeys(("w_plant", "w_distribution_network", "w_booster_station", "w_commercial_industrial",
                     "w_residential"), Utility.WATER),
    **dict.fromkeys(("g_storage_distribution_station", "g_network_compressor_station", "g_booster_station",
                     "g_commercial_industrial", "g_residential"), Utility.GAS),
    **dict.fromkeys(("h_source_plant", "h_primary_network", "h_exchange_station", "h_secondary_network",
                     "h_commercial_industrial", "h_residential"), Utility.HEAT),
}
"""Category code → its utility, in the standard's order."""


def check_category(utility: str, code: str) -> str | None:
    """``None`` when ``code`` is a category of ``utility``, else the reason it is not."""
    found = CATEGORIES.get(code)
    if found is None:
        return f"unknown customer category {code!r}; the categories are those of the archive's GET /api/v1/categories"
    if found != utility:
        return f"customer category {code!r} belongs to {found.value}, not {utility}"
    return None
