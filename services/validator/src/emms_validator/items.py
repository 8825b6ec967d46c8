"""Which canonical item is what: cumulative register, tariff register, power, valve, temperature…

The collector stores readings under canonical item codes (``libs/protocol``'s
registry). VEE needs each code's *kind* (a register that only grows, a sampled
value, a state, a clock) and *role* (energy, volume, power, supply temperature…)
to know which rules apply. A small ordered table of glob patterns answers that;
the first match wins and the service's settings can prepend their own patterns,
so a new code never needs a code change here.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase

from emms_protocol.items import ITEMS
from emms_validator.model import ItemKind, ItemSpec

_TARIFF = re.compile(r"^(?P<base>.+?)[._-](?:t|tariff|rate)(?P<n>[1-9])$")


@dataclass(frozen=True, slots=True)
class ItemPattern:
    pattern: str
    kind: ItemKind
    role: str
    interval_s: int | None = None


DEFAULT_PATTERNS: tuple[ItemPattern, ...] = (
    ItemPattern("*valve*", ItemKind.STATE, "valve"),
    ItemPattern("*relay*", ItemKind.STATE, "relay"),
    ItemPattern("*clock*deviation*", ItemKind.CLOCK, "clock_deviation"),
    ItemPattern("*clock*", ItemKind.CLOCK, "clock"),
    ItemPattern("*power_factor*", ItemKind.INSTANT, "power_factor"),
    ItemPattern("*power*factor*", ItemKind.INSTANT, "power_factor"),
    ItemPattern("*supply*temp*", ItemKind.INSTANT, "temperature_supply"),
    ItemPattern("*temp*supply*", ItemKind.INSTANT, "temperature_supply"),
    ItemPattern("*flow*temp*", ItemKind.INSTANT, "temperature_supply"),
    ItemPattern("*return*temp*", ItemKind.INSTANT, "temperature_return"),
    ItemPattern("*temp*return*", ItemKind.INSTANT, "temperature_return"),
    ItemPattern("*temp*", ItemKind.INSTANT, "temperature"),
    ItemPattern("*volume*", ItemKind.CUMULATIVE, "volume"),
    ItemPattern("*energy*", ItemKind.CUMULATIVE, "energy"),
    ItemPattern("*heat*", ItemKind.CUMULATIVE, "energy"),
    ItemPattern("*hours*", ItemKind.CUMULATIVE, "hours"),
    ItemPattern("*power*", ItemKind.INSTANT, "power"),
    ItemPattern("*voltage*", ItemKind.INSTANT, "voltage"),
    ItemPattern("*current*", ItemKind.INSTANT, "current"),
    ItemPattern("*pressure*", ItemKind.INSTANT, "pressure"),
    ItemPattern("*flow*", ItemKind.INSTANT, "flow"),
)


class ItemCatalog:
    """Classifies item codes by the first matching pattern; results are cached per code."""

    def __init__(self, patterns: Sequence[ItemPattern] = DEFAULT_PATTERNS,
                 intervals: Sequence[tuple[str, int]] = ()) -> None:
        self._patterns = tuple(patterns)
        self._intervals = tuple(intervals)
        self._cache: dict[str, ItemSpec] = {}

    def spec(self, item: str) -> ItemSpec:
        found = self._cache.get(item)
        if found is None:
            found = self._classify(item)
            self._cache[item] = found
        return found

    def _classify(self, item: str) -> ItemSpec:
        code = item.lower()
        interval = next((s for p, s in self._intervals if fnmatchcase(code, p.lower())), None)
        tariff = _TARIFF.match(code)
        registered = _registered_kind(item)
        for pat in self._patterns:
            own = pat not in DEFAULT_PATTERNS
            if fnmatchcase(code, pat.pattern.lower()) and (own or registered in (None, pat.kind)):
                interval = interval if interval is not None else pat.interval_s
                if tariff and pat.kind is ItemKind.CUMULATIVE:
                    return ItemSpec(item, pat.kind, "tariff", interval, tariff_base=tariff.group("base"))
                return ItemSpec(item, pat.kind, pat.role, interval)
        return ItemSpec(item, registered or ItemKind.INSTANT, "other", interval)


def _registered_kind(item: str) -> ItemKind | None:
    """The kind ``libs/protocol``'s canonical item registry gives a code (it wins over name patterns)."""
    found = ITEMS.get(item)
    return ItemKind(found.kind) if found is not None and found.kind in ItemKind.__members__.values() else None


def tariff_total_of(base: str, present: Sequence[str]) -> str | None:
    """The total register that tariff registers ``<base>.tN`` add up to, among ``present`` items."""
    for candidate in (f"{base}.total", f"{base}_total", f"{base}.t0", base):
        for item in present:
            if item.lower() == candidate:
                return item
    return None
