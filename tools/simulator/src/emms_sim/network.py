"""The simulated network: transformer areas, water / gas zones and heat stations, with their true losses.

With ``FleetConfig.network`` (a :class:`~emms_sim.fleet.NetworkPlan`) every terminal ``i`` is a transformer
area (台区) ``TA-<i>``: its electricity meters are the customers, and a three-phase total meter on the
transformer sits at an extra point. Water district-metered areas ``WZ-<z>`` and gas pressure zones ``GZ-<z>``
group ``zone_terminals`` consecutive terminals (their water / gas meters) behind an inlet meter; heat stations
``HS-<s>`` group ``station_terminals`` terminals (their heat meters) behind a station meter. Head meters sit at
the points after the spares of the group's first terminal: +1 transformer, +2 water inlet, +3 gas inlet, +4 heat
station. Everything is a pure function of the seed; nothing is stored per meter.

The fleet's model of a customer meter is its **true** consumption. A head meter shows
``(1 + c) × Σ true consumption of the meters physically behind it (+ a leak) / CT`` — ``c`` the area's technical
loss rate (transformer areas: 1.5 % + 2.5 % × the transformer's load factor; water 1–3 %, gas 0.5–1.5 %, heat
3–7 %). Non-technical losses (every ``ntl_every`` transformer areas, by ``(i + seed) % ntl_every``):

* 0 ``bypass`` — the area's largest customer meter reads a fraction (20–50 %) of the true usage from its onset;
* 1 ``stopped`` — the area's largest customer meter stands still from its onset;
* 2 ``wrong_area`` — the area's largest customer meter is listed in master data under the next area
  (``TA-<i+1>``): it physically sits here (this area's loss rises, the other's falls);
* water / gas zones: a ``leak`` in the pipes (8–16 % of the zone's mean flow) in every other zone.

Onsets are ``ntl_from`` + a seeded share of ``ntl_spread_days``, on a quarter hour. Only the main registers'
channels are scaled (all registers of a customer meter drop by the same fraction, so its tariff registers still
sum to the total).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from emms_sim.channels import register_sources
from emms_sim.fleet import (
    HEAD_KINDS,
    REGISTER_WIDTH,
    TAG_NETWORK,
    UTILITY_OF,
    Fleet,
    MeterSpec,
    _base_pns,
    _members,
    group_size,
    plan_of,
)
from emms_sim.hashing import unit
from emms_sim.meters import MeterModel, Reading

if TYPE_CHECKING:
    from emms_sim.calendar import LocalCalendar
    from emms_sim.controls import ControlLedger
    from emms_sim.field_events import FieldSchedule

AREA_KIND = {"transformer": "transformer", "water": "dma", "gas": "pressure_zone", "heat": "heat_exchange_station"}
MAIN_REGISTER = {"electricity": "imp0", "water": "vol", "gas": "vol", "heat": "heat"}
MAIN_ITEM = {"electricity": "energy.active.import.total", "water": "water.volume", "gas": "gas.volume",
             "heat": "heat.energy"}
CT_RATIOS = (10.0, 20.0, 30.0, 40.0, 60.0, 80.0, 100.0, 150.0, 200.0, 300.0, 400.0)
TRANSFORMER_KVA = (200.0, 315.0, 400.0, 630.0, 800.0)
_HUNDREDTHS = int(REGISTER_WIDTH * 100)


@dataclass(frozen=True, slots=True)
class Case:
    """An injected non-technical loss."""

    kind: str  # bypass, stopped, wrong_area, leak
    area_id: str
    meter_id: str | None  # the culprit meter (None: a leak)
    since: float  # epoch seconds (wrong_area: -inf, always)
    fraction: float = 0.0  # bypass: what the meter still reads; leak: m³/h
    listed_under: str | None = None  # wrong_area: the area master data lists the meter under

    def as_json(self) -> dict[str, object]:
        return {"kind": self.kind, "area": self.area_id, "meter_id": self.meter_id,
                "since": None if math.isinf(self.since) else self.since, "fraction": self.fraction,
                "listed_under": self.listed_under}


@dataclass(frozen=True, slots=True)
class Area:
    area_id: str
    kind: str  # transformer, water, gas, heat
    utility: str
    terminals: tuple[int, ...]
    head: MeterSpec
    ct_ratio: float
    loss_rate: float  # technical
    physical: tuple[str, ...]  # meter ids physically behind the head
    listed: tuple[str, ...]  # meter ids master data lists under the area
    cases: tuple[Case, ...]

    @property
    def node_kind(self) -> str:
        return AREA_KIND[self.kind]


def area_id(kind: str, group: int) -> str:
    prefix = {"transformer": "TA", "water": "WZ", "gas": "GZ", "heat": "HS"}[kind]
    return f"{prefix}-{group:06d}"


def groups(fleet: Fleet, kind: str) -> range:
    size = group_size(fleet, kind)
    return range(-(-fleet.config.concentrators // size))


class Network:
    """The areas of a fleet with a network, their cases and true / metered figures."""

    def __init__(self, fleet: Fleet, regs_effective: object) -> None:
        self.fleet = fleet
        self.plan = plan_of(fleet)
        self._effective = regs_effective
        self.area = lru_cache(maxsize=8192)(self._area)
        self._culprit_cases: dict[str, Case] | None = None

    # ---- topology ----------------------------------------------------------------------------
    def area_ids(self) -> list[str]:
        return [area_id(k, g) for k in HEAD_KINDS for g in groups(self.fleet, k)]

    def areas(self) -> list[Area]:
        return [self.area(a) for a in self.area_ids()]

    def _area(self, aid: str) -> Area:
        prefix, _, num = aid.partition("-")
        kinds = {"TA": "transformer", "WZ": "water", "GZ": "gas", "HS": "heat"}
        if prefix not in kinds or not num.isdigit() or int(num) not in groups(self.fleet, kinds[prefix]):
            raise KeyError(aid)
        kind, group = kinds[prefix], int(num)
        size = group_size(self.fleet, kind)
        first = group * size
        head = self.fleet.meter(first, _base_pns(self.fleet) + HEAD_KINDS.index(kind) + 1)
        assert head is not None
        members = _members(self.fleet, kind, group)
        u = unit(self.fleet.seed, TAG_NETWORK, HEAD_KINDS.index(kind), group, 1)
        ct = 1.0
        if kind == "transformer":
            kva = TRANSFORMER_KVA[int(unit(self.fleet.seed, TAG_NETWORK, 0, group, 2) * len(TRANSFORMER_KVA))]
            load = min(1.0, sum(m.scale for m in members) / 24.0 / (0.5 * kva))
            rate = 0.015 + 0.025 * load
            peak_kw = max(1.0, sum(m.scale for m in members) / 24.0 * 3.0)
            ct = next((c for c in CT_RATIOS if c * 3.3 >= peak_kw), CT_RATIOS[-1])
        else:
            rate = {"water": 0.01 + 0.02 * u, "gas": 0.005 + 0.01 * u, "heat": 0.03 + 0.04 * u}[kind]
        cases = self._cases(kind, group, aid, members)
        physical = tuple(m.meter_id for m in members)
        listed = [m for m in physical if not any(c.kind == "wrong_area" and c.meter_id == m for c in cases)]
        if kind == "transformer":
            n = self.fleet.config.concentrators
            prev = (group - 1) % n
            if prev != group:
                for c in self._cases(kind, prev, area_id(kind, prev), _members(self.fleet, kind, prev)):
                    if c.kind == "wrong_area" and c.meter_id is not None:
                        listed.append(c.meter_id)
        terminals = tuple(range(first, min(first + size, self.fleet.config.concentrators)))
        return Area(aid, kind, UTILITY_OF[kind], terminals, head, ct, rate, physical, tuple(listed), tuple(cases))

    def _onset(self, kind: str, group: int) -> float:
        spread = self.plan.ntl_spread_days * 86400.0 * unit(self.fleet.seed, TAG_NETWORK, HEAD_KINDS.index(kind),
                                                            group, 3)
        return math.floor((self.plan.ntl_from + spread) / 900.0) * 900.0

    def _cases(self, kind: str, group: int, aid: str, members: list[MeterSpec]) -> list[Case]:
        seed, every = self.fleet.seed, max(1, self.plan.ntl_every)
        if kind in ("water", "gas"):
            if (group + seed + (kind == "gas")) % 2:
                return []
            share = 0.12 + 0.12 * unit(seed, TAG_NETWORK, HEAD_KINDS.index(kind), group, 4)
            flow = share * sum(m.scale for m in members) / 24.0
            return [Case("leak", aid, None, self._onset(kind, group), round(flow, 6))] if members else []
        if kind != "transformer" or not members:
            return []
        pick = (group + seed) % every
        stable = [m for m in members if m.removed_at is None and m.replaced_at is None] or members
        culprit = max(stable, key=lambda m: (m.scale, m.meter_id))
        if pick == 0:
            frac = 0.2 + 0.3 * unit(seed, TAG_NETWORK, 0, group, 5)
            return [Case("bypass", aid, culprit.meter_id, self._onset(kind, group), round(frac, 4))]
        if pick == 1:
            return [Case("stopped", aid, culprit.meter_id, self._onset(kind, group))]
        n = self.fleet.config.concentrators
        if pick == 2 and n >= 2:
            return [Case("wrong_area", aid, culprit.meter_id, -math.inf, 0.0, area_id(kind, (group + 1) % n))]
        return []

    def head_area(self, meter: MeterSpec) -> Area | None:
        offset = meter.pn - _base_pns(self.fleet)
        if not 1 <= offset <= len(HEAD_KINDS):
            return None
        kind = HEAD_KINDS[offset - 1]
        return self.area(area_id(kind, meter.terminal_index // group_size(self.fleet, kind)))

    def meter_case(self, meter_id: str) -> Case | None:
        """The bypass / stopped case of a customer meter (what changes its registers)."""
        if self._culprit_cases is None:
            found = {}
            for g in groups(self.fleet, "transformer"):
                for c in self.area(area_id("transformer", g)).cases:
                    if c.kind in ("bypass", "stopped") and c.meter_id is not None:
                        found[c.meter_id] = c
            self._culprit_cases = found
        return self._culprit_cases.get(meter_id)


class NetworkMeterModel(MeterModel):
    """The fleet's meter model with the network: head meters sum their members, culprit meters read less."""

    def __init__(self, fleet: Fleet, cal: LocalCalendar, schedule: FieldSchedule, ledger: ControlLedger) -> None:
        super().__init__(fleet, cal, schedule, ledger)
        self.network = Network(fleet, self.regs.effective)
        self._ref: dict[tuple[str, str, str], float] = {}

    # ---- true consumption --------------------------------------------------------------------
    def true_value(self, meter: MeterSpec, name: str, ts: float) -> float:
        """The true cumulative of a register's channels at ``ts`` (not displayed: no truncation, no roll-over,
        consumption only while the meter is installed)."""
        lo, hi = meter.installed_at, meter.removed_at if meter.removed_at is not None else math.inf
        at = min(max(ts, lo), hi)
        return sum(f * self.regs.effective(meter, ch, at) for ch, f in register_sources(meter).get(name, ()))

    def true_usage(self, meter: MeterSpec, name: str, t0: float, t1: float) -> float:
        return self.true_value(meter, name, t1) - self.true_value(meter, name, t0)

    def shown_usage(self, meter: MeterSpec, name: str, t0: float, t1: float) -> float:
        """What the meter's register counts between t0 and t1 (a culprit's reduced reading; not truncated)."""
        used = self.true_usage(meter, name, t0, t1)
        case = self.network.meter_case(meter.meter_id)
        if case is not None and t1 > case.since:
            used -= (1.0 - case.fraction) * self.true_usage(meter, name, max(t0, case.since), t1)
        return used

    def leak_volume(self, area: Area, t0: float, t1: float) -> float:
        total = 0.0
        for c in area.cases:
            if c.kind == "leak":
                a, b = max(t0, c.since), max(t1, c.since)
                total += c.fraction * (b - a) / 3600.0
        return total

    def head_primary(self, area: Area, name: str, ts: float) -> float:
        """The head's register in primary units since its install (before the CT ratio)."""
        start = area.head.installed_at
        inflow = 0.0
        for mid in area.physical:
            m = self.fleet.meter_by_id(mid)
            assert m is not None
            key = (area.area_id, mid, name)
            ref = self._ref.get(key)
            if ref is None:
                ref = self._ref[key] = self.true_value(m, name, start)
            inflow += self.true_value(m, name, ts) - ref
        leak = self.leak_volume(area, start, ts) if name in ("vol",) else 0.0
        return (1.0 + area.loss_rate) * inflow + leak

    # ---- what the meters show ----------------------------------------------------------------
    def register(self, meter: MeterSpec, name: str, ts: float) -> float | None:
        if not meter.present(ts):
            return None
        area = self.network.head_area(meter)
        if area is not None:
            value = self.head_primary(area, name, ts) / area.ct_ratio
            return (math.floor(value * 100.0 + 1e-6) % _HUNDREDTHS) / 100.0
        case = self.network.meter_case(meter.meter_id)
        if case is None or ts <= case.since or not meter.present(case.since):
            return super().register(meter, name, ts)
        at_onset = super().register(meter, name, case.since)  # what it showed then; from then on a fraction
        assert at_onset is not None
        counted = case.fraction * self.true_usage(meter, name, case.since, ts)
        return (math.floor((at_onset + counted) * 100.0 + 1e-6) % _HUNDREDTHS) / 100.0

    def reading(self, meter: MeterSpec, ts: float) -> Reading | None:
        out = super().reading(meter, ts)
        area = self.network.head_area(meter)
        if out is not None and area is not None and area.utility == "electricity":
            rate = sum(self.regs.rate(m, f"imp{k}", ts) for mid in area.physical
                       if (m := self.fleet.meter_by_id(mid)) is not None and m.present(ts) for k in range(1, 5))
            out["power.active.total"] = round((1.0 + area.loss_rate) * rate / area.ct_ratio, 4)
        return out
