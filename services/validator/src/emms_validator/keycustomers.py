"""Key customers by rule (R-4.5.4.2): consumption above a threshold makes a customer key.

Category rules are applied when meters are loaded (a join in SQL); consumption
rules need the meter's usual daily consumption, which the history profile of
its main register knows after each batch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from emms_validator.items import ItemCatalog
from emms_validator.model import ItemKind, MeterInfo
from emms_validator.state import SeriesState

MAIN_ROLES = ("energy", "volume")


@dataclass(frozen=True, slots=True)
class ConsumptionRule:
    rule_id: str
    min_daily: float
    utility: str | None = None
    category: str | None = None

    def covers(self, info: MeterInfo) -> bool:
        return (self.utility is None or self.utility == info.utility) and \
            (self.category is None or self.category == info.customer_category)


def daily_consumption(info: MeterInfo, series: Mapping[str, SeriesState], catalog: ItemCatalog) -> float | None:
    """Usual daily consumption of the meter's main register (energy first, then volume)."""
    for role in MAIN_ROLES:
        for item in sorted(series):
            spec = catalog.spec(item)
            profile = series[item].profile
            if spec.kind is ItemKind.CUMULATIVE and spec.role == role and profile is not None:
                daily = profile.daily_mean()
                if daily is not None:
                    return daily
    return None


def key_by_consumption(info: MeterInfo, series: Mapping[str, SeriesState], catalog: ItemCatalog,
                       rules: Sequence[ConsumptionRule]) -> tuple[str, str] | None:
    """``(customer_id, reason)`` when a consumption rule makes the meter's customer key."""
    if not info.customer_id or info.key_customer:
        return None
    applicable = [r for r in rules if r.covers(info)]
    if not applicable:
        return None
    daily = daily_consumption(info, series, catalog)
    if daily is None:
        return None
    for rule in applicable:
        if daily >= rule.min_daily:
            return info.customer_id, f"rule {rule.rule_id}: {daily:.3f}/day >= {rule.min_daily} (meter {info.meter_id})"
    return None
