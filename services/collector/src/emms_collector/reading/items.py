"""Which canonical items a task may ask for, and which of them apply to one meter.

Codes are those of ``emms_protocol.items.ITEMS`` (``energy.active.import.total``,
``water.volume``, …). A task lists items for several utilities at once; each
meter is asked only for the items of its own utility (or of ``any``). An
empty list means the utility's main registers (:data:`DEFAULT_ITEMS`), which is
what templates use. Whether an item can be read for a task type at all is the
route table's call (:func:`emms_collector.reading.item_routing.check_items`).
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

from emms_protocol.items import ITEMS


class Utility(StrEnum):
    ELECTRICITY = "electricity"
    WATER = "water"
    GAS = "gas"
    HEAT = "heat"


_ENERGY = ["energy.active.import.total", "energy.active.import.t1", "energy.active.import.t2",
           "energy.active.import.t3", "energy.active.import.t4"]
DEFAULT_ITEMS: dict[str, list[str]] = {
    "electricity": _ENERGY,
    "water": ["water.volume"],
    "gas": ["gas.volume"],
    "heat": ["heat.energy"],
}


def unit_of(item: str) -> str:
    known = ITEMS.get(item)
    return known.unit if known is not None else ""


def applies(item: str, utility: str) -> bool:
    known = ITEMS.get(item)
    return known is not None and known.utility in (utility, "any")


def items_for(items: Sequence[str], utility: str) -> list[str]:
    """The items of a task that a meter of ``utility`` is asked for."""
    if not items:
        return list(DEFAULT_ITEMS.get(utility, ()))
    return [i for i in items if applies(i, utility)]
