"""How an item is read: which AFN / Fn (or which forwarded meter command) yields it, per meter protocol.

A *route* is one thing a terminal can be asked for and the canonical items its
answer carries. Electricity meters are read from the concentrator's own data
(AFN 0C current, AFN 0D frozen — several points and Fn per frame); CJ/T 188
meters (water, gas, heat) through AFN 10 F1 transparent forwarding of a 188
read, one meter per frame. For one meter the planner picks the fewest routes
that cover the items asked for (:func:`choose`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from emms_collector.tasks.types import TaskType
from emms_protocol.gdw1376.afn0d_curves import CURVE_FNS, curve_name
from emms_protocol.items import ITEMS


@dataclass(frozen=True, slots=True)
class Route:
    name: str
    afn: int
    fn: int
    items: frozenset[str]
    tag: str | None = None  # "day" (Td_d) / "month" (Td_m) freeze tag, "curve" (Td_c: a day of points)
    forward: str | None = None  # meter protocol of a forwarded frame (AFN 10 F1)
    di: int | None = None  # the meter protocol's data identifier of a forwarded read
    current: bool = False  # yields the value at the read, even for a frozen-data task (no history on the wire)

    @property
    def batchable(self) -> bool:
        """Several measurement points may share one frame (not so for forwarded meter frames)."""
        return self.forward is None


def _register(base: str) -> set[str]:
    return {f"{base}.{t}" for t in ("total", "t1", "t2", "t3", "t4")}


_IMPORT = _register("energy.active.import")
_FORWARD = _IMPORT | _register("energy.reactive.import") | _register("energy.reactive.q1") \
    | _register("energy.reactive.q4")
_REVERSE = _register("energy.active.export") | _register("energy.reactive.export") \
    | _register("energy.reactive.q2") | _register("energy.reactive.q3")
_F25 = {f"power.{k}.{p}" for k in ("active", "reactive", "apparent") for p in ("total", "a", "b", "c")} \
    | {f"power_factor.{p}" for p in ("total", "a", "b", "c")} | {f"voltage.{p}" for p in ("a", "b", "c")} \
    | {f"current.{p}" for p in ("a", "b", "c", "n")}
# supply quality (issue 17): the terminal's daily voltage statistics (AFN0D F27) and harmonic content (AFN0C F58)
_F27 = {f"qualification.minutes.{band}.{p}" for band in ("within", "over_upper", "under_lower", "over_upper_upper",
                                                    "under_lower_lower") for p in "abc"} \
    | {f"voltage.day.{x}.{p}" for x in ("max", "min", "average") for p in "abc"}
_F58 = {f"thd.{q}.{p}" for q in ("voltage", "current") for p in "abc"} \
    | {f"harmonic.{q}.{p}.h{h}" for q in ("voltage", "current") for p in "abc" for h in range(2, 20)}
_188_COMMON = {"valve.state", "battery.low"}
_188_WATER_GAS = {"water.volume", "gas.volume"} | _188_COMMON
_188_HEAT = {"heat.energy", "cooling.energy", "heat.power", "flow.rate", "volume.heat", "temperature.supply",
             "temperature.return", "working_hours"} | _188_COMMON
CJT188_CURRENT = 0x901F


def _r(name: str, afn: int, fn: int, items: Iterable[str], **kw: object) -> Route:
    return Route(name, afn, fn, frozenset(items), **kw)  # type: ignore[arg-type]


ELECTRICITY = "dlt645"
CJT188 = "cjt188"
DLT645 = "dlt645"
DLT645_STATUS_WORD_3 = 0x04000503
# The supply relay of an electricity meter: its running status word 3 (bit 4 = relay open) read through
# the concentrator (AFN 10 F1 forwarding a DL/T 645-2007 read), one meter per frame, current value.
_645_RELAY = _r("AFN10 F1 forward DL/T 645 read 04000503 (relay state)", 0x10, 1, {"relay.state"}, forward=DLT645,
                di=DLT645_STATUS_WORD_3, current=True)
_188_READ = _r("AFN10 F1 forward CJ/T 188 read 901F", 0x10, 1, _188_WATER_GAS | _188_HEAT, forward=CJT188,
               di=CJT188_CURRENT, current=True)

ROUTES: dict[tuple[TaskType, str], tuple[Route, ...]] = {
    (TaskType.DAILY_FROZEN, ELECTRICITY): (
        _r("AFN0D F161 daily frozen forward active", 0x0D, 161, _IMPORT, tag="day"),
        _r("AFN0D F1 daily frozen forward energies", 0x0D, 1, _FORWARD, tag="day"),
        _r("AFN0D F2 daily frozen reverse energies", 0x0D, 2, _REVERSE, tag="day"),
        _r("AFN0D F27 daily voltage statistics", 0x0D, 27, _F27, tag="day"),
        _645_RELAY,
    ),
    (TaskType.MONTHLY_FROZEN, ELECTRICITY): (
        _r("AFN0D F177 monthly frozen forward active", 0x0D, 177, _IMPORT, tag="month"),
        _r("AFN0D F17 monthly frozen forward energies", 0x0D, 17, _FORWARD, tag="month"),
        _r("AFN0D F18 monthly frozen reverse energies", 0x0D, 18, _REVERSE, tag="month"),
    ),
    (TaskType.REALTIME, ELECTRICITY): (
        _r("AFN0C F129 forward active energy", 0x0C, 129, _IMPORT),
        _r("AFN0C F33 forward energies", 0x0C, 33, _FORWARD),
        _r("AFN0C F34 reverse energies", 0x0C, 34, _REVERSE),
        _r("AFN0C F25 power, voltage, current", 0x0C, 25, _F25),
        _r("AFN0C F167 prepayment balance", 0x0C, 167, {"balance.remaining", "energy.remaining"}),
        _r("AFN0C F58 harmonic content and THD", 0x0C, 58, _F58),
        _645_RELAY,
    ),
    (TaskType.REALTIME, CJT188): (_188_READ,),
    # One Fn per curve (F81 active power … F108 phase C power factor), a day of 15-minute points each.
    (TaskType.CURVE, ELECTRICITY): tuple(
        _r(f"AFN0D F{fn} {curve_name(fn)}", 0x0D, fn, {kind.item}, tag="curve") for fn, kind in CURVE_FNS.items()),
    # CJ/T 188 meters keep no daily history a terminal can serve: the daily / monthly task reads them
    # right after the freeze and stamps the values with the read time.
    (TaskType.DAILY_FROZEN, CJT188): (_188_READ,),
    (TaskType.MONTHLY_FROZEN, CJT188): (_188_READ,),
}


def family(protocol: str) -> str:
    """The route family of a meter protocol (``dlt645-2007`` → ``dlt645``)."""
    p = protocol.lower()
    if p.startswith("cjt188") or p.startswith("cj/t"):
        return CJT188
    return ELECTRICITY


def readable(task_type: TaskType, item: str) -> bool:
    return any(item in r.items for (t, _), routes in ROUTES.items() if t is task_type for r in routes)


def routes_for(task_type: TaskType, protocol: str) -> tuple[Route, ...]:
    return ROUTES.get((task_type, family(protocol)), ())


def choose(task_type: TaskType, protocol: str, items: Sequence[str]) -> tuple[list[Route], list[str]]:
    """The fewest routes covering ``items`` for a meter of ``protocol``, and the items none covers."""
    wanted = set(items)
    available = routes_for(task_type, protocol)
    chosen: list[Route] = []
    while wanted:
        best = max(available, key=lambda r: (len(r.items & wanted), -len(r.items)), default=None)
        if best is None or not best.items & wanted:
            break
        chosen.append(best)
        wanted -= best.items
    return chosen, sorted(wanted)


def check_items(task_type: TaskType, items: Sequence[str]) -> str | None:
    """Why ``items`` cannot be collected by a task of ``task_type``; None when they can."""
    if len(set(items)) != len(items):
        return "items are listed twice"
    unknown = [i for i in items if i not in ITEMS]
    if unknown:
        return f"unknown item codes {unknown[:5]}; see GET /api/v1/items"
    if task_type.value in ("events", "clock"):
        return f"a {task_type.value} task reads no data items; leave items empty" if items else None
    if task_type is TaskType.CURVE and not items:
        return "a curve task lists its curves (power.active.total, voltage.a, …); see GET /api/v1/items"
    not_readable = [i for i in items if not readable(task_type, i)]
    if not_readable:
        return f"a {task_type.value} task cannot read {not_readable[:5]}; see GET /api/v1/items"
    return None
