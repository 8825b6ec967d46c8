"""The fleet: which concentrators exist and which meters sit behind each, derived from the seed.

Nothing is stored per meter: a meter's whole description (utility, kind,
scale, install time, replacement, removal, address) is a pure function of
(seed, terminal index, pn), computed on demand and kept in a bounded cache, so
a million meters cost no memory until they are asked about.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache

from emms_sim.hashing import (
    TAG_ADD,
    TAG_METER,
    TAG_PASSWORD,
    TAG_REMOVE,
    TAG_REPLACE,
    TAG_TERMINAL,
    chance,
    mix,
    mix_more,
    unit,
    unit_of,
)

UTILITIES = ("electricity", "water", "gas", "heat")
AREA_CODES = (0x3701, 0x1101, 0x3201, 0x4401)  # Jinan, Beijing, Nanjing, Guangzhou
REGISTER_WIDTH = 1_000_000.0  # XXXXXX.XX registers (645 energy, 188 volumes / heat) roll over here

_INSTALL_FROM = datetime(2023, 1, 1, tzinfo=UTC).timestamp()
_INSTALL_TO = datetime(2025, 1, 1, tzinfo=UTC).timestamp()
SCENARIO_FROM = datetime(2025, 7, 1, tzinfo=UTC).timestamp()
SCENARIO_TO = datetime(2027, 7, 1, tzinfo=UTC).timestamp()


@dataclass(frozen=True, slots=True)
class FieldRates:
    """How often field realities happen (all deterministic from the seed)."""

    outage_per_day: float = 1 / 30  # per concentrator: power off / on of the whole site
    cover_open_per_day: float = 1 / 2000  # per electricity meter
    valve_leak_per_day: float = 1 / 500  # per water / gas meter: valve reports closed, flow goes on
    replaced_fraction: float = 0.03  # meters replaced once inside the scenario window
    removed_fraction: float = 0.01  # meters removed inside the scenario window
    added_per_terminal: int = 1  # spare measurement points whose meter is installed later
    clock_drift_ppm: float = 40.0  # max |drift| of meter and terminal clocks
    rollover_fraction: float = 0.01  # meters whose registers start close to the register width
    clock_sync_day: int = 1  # day of the month of the field's monthly clock sync (clamped to the month's length)

    def __post_init__(self) -> None:
        if not 1 <= self.clock_sync_day <= 31:
            raise ValueError("clock_sync_day must be within 1..31")

    @classmethod
    def quiet(cls) -> FieldRates:
        """No scheduled field events (tests that want a calm fleet)."""
        return cls(0.0, 0.0, 0.0, 0.0, 0.0, 0, 0.0, 0.0)


@dataclass(frozen=True, slots=True)
class NetworkPlan:
    """The simulated network (``emms_sim.network``): every terminal is a transformer area with a total meter; water
    and gas zones of ``zone_terminals`` terminals and heat stations of ``station_terminals`` terminals with an inlet
    / station meter; non-technical losses injected every ``ntl_every`` areas from ``ntl_from`` (+ a seeded share of
    ``ntl_spread_days``)."""

    zone_terminals: int = 10
    station_terminals: int = 20
    ntl_from: float = SCENARIO_FROM
    ntl_spread_days: float = 0.0
    ntl_every: int = 5


@dataclass(frozen=True, slots=True)
class FleetConfig:
    seed: int = 1
    concentrators: int = 1
    meters_per: int = 50
    mix: tuple[tuple[str, float], ...] = (("electricity", 70.0), ("water", 10.0), ("gas", 10.0), ("heat", 10.0))
    tz_offset_minutes: int = 480
    rates: FieldRates = field(default_factory=FieldRates)
    first_terminal_address: int = 1
    own_passwords: bool = False
    """Every terminal expects its own PW (:meth:`Fleet.password`, from the seed); False: 16 zero bytes, as a
    terminal out of the factory (what the FEP sends when master data has no password for a terminal)."""
    network: NetworkPlan | None = None
    """Transformer areas, zones and stations with their head meters at extra points (``emms_sim.network``)."""
    replacements: tuple[tuple[str, float], ...] = ()
    """Meters the field replaces at a chosen instant: (meter id, epoch s), instead of the rates' draw — so a
    test can put a swap inside the days it collects. Same meter id, a new address, the register from zero."""

    def __post_init__(self) -> None:
        if self.concentrators < 0 or not 1 <= self.meters_per <= 2000:
            raise ValueError("concentrators must be >= 0 and meters_per within 1..2000")
        if any(u not in UTILITIES for u, _ in self.mix) or sum(w for _, w in self.mix) <= 0:
            raise ValueError(f"mix must weight some of {UTILITIES}")


@dataclass(frozen=True, slots=True)
class TerminalSpec:
    index: int
    area: int
    terminal: int
    drift_ppm: float

    @property
    def key(self) -> str:
        return f"{self.area:04X}-{self.terminal:05d}"


@dataclass(frozen=True, slots=True)
class MeterSpec:
    """One measurement point's meter. Times are UTC epoch seconds; None = never."""

    meter_id: str
    key: int
    terminal_index: int
    pn: int
    utility: str
    kind: str  # residential-1p, commercial-3p, residential
    protocol: str  # dlt645-2007 or cjt188-2004
    scale: float  # mean daily consumption (kWh, m³) or heat scale
    installed_at: float
    replaced_at: float | None
    removed_at: float | None
    has_pv: bool
    rollover_at: float | None
    drift_ppm: float

    @property
    def phases(self) -> int:
        return 3 if self.kind == "commercial-3p" else 1

    def generation(self, ts: float) -> int:
        return 1 if self.replaced_at is not None and ts >= self.replaced_at else 0

    def address(self, generation: int = 0) -> str:
        """645: 12 BCD digits; 188: 14 BCD digits. A replacement meter has a new address."""
        digits = f"{self.terminal_index:06d}{self.pn:04d}{generation:02d}"
        return digits if self.protocol == "dlt645-2007" else "00" + digits

    def present(self, ts: float) -> bool:
        return ts >= self.installed_at and (self.removed_at is None or ts < self.removed_at)


def meter_id(terminal_index: int, pn: int) -> str:
    return f"m-{terminal_index:06d}-{pn:04d}"


def parse_meter_id(text: str) -> tuple[int, int]:
    """Inverse of :func:`meter_id`; raises ValueError on anything else."""
    parts = text.split("-")
    if len(parts) != 3 or parts[0] != "m" or not parts[1].isdigit() or not parts[2].isdigit():
        raise ValueError(f"{text!r} is not a meter id like 'm-000001-0003'")
    return int(parts[1]), int(parts[2])


class Fleet:
    """The fleet of a config: terminal and meter descriptions on demand."""

    def __init__(self, config: FleetConfig) -> None:
        self.config = config
        self._mix_total = sum(w for _, w in config.mix)
        self._replaced_at = dict(config.replacements)
        self.meter = lru_cache(maxsize=65536)(self._meter)
        for text, at in config.replacements:
            self._check_replacement(text, at)

    def _check_replacement(self, text: str, at: float) -> None:
        """A chosen replacement names a meter of this fleet that is there at ``at`` (else ValueError)."""
        meter = self.meter_by_id(text)
        if meter is None:
            raise ValueError(f"replacement of {text!r}: no such meter in this fleet")
        if not meter.installed_at < at or (meter.removed_at is not None and at >= meter.removed_at):
            raise ValueError(f"replacement of {text} at {datetime.fromtimestamp(at, UTC).isoformat()}: the meter "
                             "is not installed then")

    @property
    def seed(self) -> int:
        return self.config.seed

    def terminal(self, index: int) -> TerminalSpec:
        if not 0 <= index < self.config.concentrators:
            raise KeyError(f"no terminal #{index}")
        area = AREA_CODES[index % len(AREA_CODES)]
        drift = (unit(self.seed, TAG_TERMINAL, index, 1) * 2.0 - 1.0) * self.config.rates.clock_drift_ppm
        return TerminalSpec(index, area, self.config.first_terminal_address + index, drift)

    def password(self, index: int) -> bytes:
        """The 16-byte PW terminal ``index`` expects when the fleet has :attr:`FleetConfig.own_passwords`
        (deterministic per seed and terminal, listed in the manifest), else 16 zero bytes."""
        if not self.config.own_passwords:
            return bytes(16)
        return b"".join(mix(self.seed, TAG_PASSWORD, index, half).to_bytes(8, "big") for half in (0, 1))

    def terminals(self) -> range:
        return range(self.config.concentrators)

    def pns(self, index: int) -> range:
        """Base measurement points plus the spares whose meters arrive later."""
        return range(1, self.max_pn(index) + 1)

    def max_pn(self, index: int) -> int:
        """The highest measurement point of a terminal (the last of :meth:`pns`; with a network, the head meters'
        points follow the spares)."""
        heads = 4 if self.config.network is not None else 0
        return self.config.meters_per + self.config.rates.added_per_terminal + heads

    def meters_of(self, index: int, *, cached: bool = True) -> list[MeterSpec]:
        """The meters of a terminal; ``cached=False`` for one-off walks (a day's field events of every
        terminal) that would otherwise fill the bounded cache with meters nobody asks about again."""
        get = self.meter if cached else self._meter
        return [m for pn in self.pns(index) if (m := get(index, pn)) is not None]

    def meter_by_id(self, text: str) -> MeterSpec | None:
        try:
            index, pn = parse_meter_id(text)
        except ValueError:
            return None
        if not 0 <= index < self.config.concentrators:
            return None
        return self.meter(index, pn)

    def _utility(self, key: int) -> str:
        """By the mix weights; ``key = mix(seed, TAG_METER, index, pn)`` (draw 0 of the meter)."""
        pick = unit_of(mix_more(key, 0)) * self._mix_total
        for name, weight in self.config.mix:
            pick -= weight
            if pick < 0:
                return name
        return self.config.mix[-1][0]

    def _meter(self, index: int, pn: int) -> MeterSpec | None:
        cfg, seed = self.config, self.seed
        if not 0 <= index < cfg.concentrators or pn not in self.pns(index):
            return None
        rates = cfg.rates
        if pn > cfg.meters_per + rates.added_per_terminal:  # a network's head meter (total / inlet / station)
            return head_meter(self, index, pn)
        key = mix(seed, TAG_METER, index, pn)
        utility = self._utility(key)
        u = [unit_of(mix_more(key, k)) for k in range(1, 8)]  # = unit(seed, TAG_METER, index, pn, k)
        if utility == "electricity":
            commercial = u[0] < 0.2
            kind = "commercial-3p" if commercial else "residential-1p"
            scale = (80.0 + 600.0 * u[1]) if commercial else (4.0 + 10.0 * u[1])
            has_pv = commercial and u[2] < 0.3
            protocol = "dlt645-2007"
        else:
            kind, has_pv, protocol = "residential", False, "cjt188-2004"
            scale = {"water": 0.25 + 0.5 * u[1], "gas": 0.5 + 1.5 * u[1], "heat": 2.0 + 4.0 * u[1]}[utility]
        window = SCENARIO_TO - SCENARIO_FROM
        if pn > cfg.meters_per:  # a spare point: its meter is added inside the scenario window
            installed = SCENARIO_FROM + unit(seed, TAG_ADD, index, pn) * window
        else:
            installed = _INSTALL_FROM + u[3] * (_INSTALL_TO - _INSTALL_FROM)
        installed = math.floor(installed / 900.0) * 900.0
        replaced = removed = None
        if chance(rates.replaced_fraction, seed, TAG_REPLACE, index, pn):
            replaced = max(installed + 86400.0, SCENARIO_FROM + unit(seed, TAG_REPLACE, index, pn, 1) * window)
        if chance(rates.removed_fraction, seed, TAG_REMOVE, index, pn):
            removed = max(installed + 86400.0, SCENARIO_FROM + unit(seed, TAG_REMOVE, index, pn, 1) * window)
            if replaced is not None and replaced >= removed:
                replaced = None
        replaced = self._replaced_at.get(meter_id(index, pn), replaced)
        rollover = None
        if u[4] < rates.rollover_fraction:
            rollover = SCENARIO_FROM + u[5] * window
        drift = (u[6] * 2.0 - 1.0) * rates.clock_drift_ppm
        return MeterSpec(
            meter_id(index, pn), key, index, pn, utility, kind, protocol, scale,
            installed, replaced, removed, has_pv, rollover, drift,
        )


# -- a network's head meters (emms_sim.network builds the areas on these) ---------------------------------
TAG_NETWORK = 101
HEAD_KINDS = ("transformer", "water", "gas", "heat")  # offsets 1..4 past the spares
UTILITY_OF = {"transformer": "electricity", "water": "water", "gas": "gas", "heat": "heat"}


def plan_of(fleet: Fleet) -> NetworkPlan:
    plan = fleet.config.network
    if plan is None:
        raise ValueError("the fleet has no network (FleetConfig.network)")
    return plan


def _base_pns(fleet: Fleet) -> int:
    return fleet.config.meters_per + fleet.config.rates.added_per_terminal


def group_size(fleet: Fleet, kind: str) -> int:
    plan = plan_of(fleet)
    return 1 if kind == "transformer" else plan.zone_terminals if kind in ("water", "gas") else plan.station_terminals


def _members(fleet: Fleet, kind: str, group: int) -> list[MeterSpec]:
    size, utility = group_size(fleet, kind), UTILITY_OF[kind]
    first, last = group * size, min((group + 1) * size, fleet.config.concentrators)
    base = _base_pns(fleet)
    return [m for t in range(first, last) for pn in range(1, base + 1)
            if (m := fleet.meter(t, pn)) is not None and m.utility == utility]


def head_meter(fleet: Fleet, index: int, pn: int) -> MeterSpec | None:
    """The head meter at ``pn`` of terminal ``index`` (None where that group has none)."""
    offset = pn - _base_pns(fleet)
    if not 1 <= offset <= len(HEAD_KINDS):
        return None
    kind = HEAD_KINDS[offset - 1]
    size = group_size(fleet, kind)
    if index % size:
        return None
    utility = UTILITY_OF[kind]
    scale = sum(m.scale for m in _members(fleet, kind, index // size))
    protocol = "dlt645-2007" if utility == "electricity" else "cjt188-2004"
    return MeterSpec(meter_id(index, pn), mix(fleet.seed, TAG_NETWORK, index, pn), index, pn, utility,
                     "commercial-3p" if utility == "electricity" else "residential", protocol, max(scale, 1.0),
                     _INSTALL_FROM, None, None, False, None, 0.0)
