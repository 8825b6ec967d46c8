"""Which accumulations (channels) a meter has, and which registers it shows built from them.

Electricity: import energy per tariff (load weights), inductive reactive energy
per tariff (own weights, so the power factor varies), export per tariff for
meters with PV. Water / gas: volume. Heat: heat energy and water volume over
the heating season. Registers are sums of channels with factors: totals are
the sum of the tariff channels, Q4 / Q2 / Q3 reactive are small fixed
fractions of import / export.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from emms_sim.fleet import MeterSpec
from emms_sim.hashing import TAG_METER, unit
from emms_sim.series import DailySeries, HeatingSeries, PeriodicSeries
from emms_sim.shapes import (
    COMMERCIAL_POWER,
    GAS,
    PV_EXPORT,
    PV_SLOTS,
    RESIDENTIAL_POWER,
    TARIFFS,
    WATER,
    LoadShape,
    tariff_share,
)

HEAT_BASE_K = 6.0  # indoor 18 °C − mean outdoor 12 °C
HEAT_AMP_K = 15.0  # outdoor annual amplitude
WATER_HEAT_KWH_PER_M3K = 1.163


@dataclass(frozen=True, slots=True)
class Channel:
    name: str
    tag: int
    series: DailySeries
    noise: float  # amplitude A of the telescoping day noise
    weights: str  # load | q | pv | heat | flow
    tariff: int  # 0 = every slot, k = only slots of tariff k
    gated: bool = False  # heating: day noise is zero at the season's edges


def shape_of(meter: MeterSpec) -> LoadShape:
    if meter.utility == "electricity":
        return COMMERCIAL_POWER if meter.kind == "commercial-3p" else RESIDENTIAL_POWER
    return WATER if meter.utility == "water" else GAS


def reactive_ratio(meter: MeterSpec) -> float:
    """tan φ of the meter's typical load (power factor 0.85 … 0.98)."""
    pf = 0.85 + 0.13 * unit(meter.key, TAG_METER, 20)
    return float((1.0 / pf**2 - 1.0) ** 0.5)


def heat_flow_m3h(meter: MeterSpec) -> float:
    """Design flow: peak heat load at a 10 K supply/return difference."""
    peak_kw = meter.scale * (HEAT_BASE_K + HEAT_AMP_K) / 24.0
    return peak_kw / (WATER_HEAT_KWH_PER_M3K * 10.0)


def pv_scale(meter: MeterSpec) -> float:
    return meter.scale * (0.2 + 0.3 * unit(meter.key, TAG_METER, 21))


#: (shape, PV slots excluded) → per tariff, the weekly coefficients of its share of the day. A pure function of a
#: module-level shape, yet 28 walks of a 96-slot profile: computed once per process, not once per meter.
_COEFFS: dict[tuple[int, bool], tuple[LoadShape, tuple[tuple[float, ...], ...]]] = {}


def _tariff_coeffs(shape: LoadShape, has_pv: bool) -> tuple[tuple[float, ...], ...]:
    hit = _COEFFS.get((id(shape), has_pv))
    if hit is not None and hit[0] is shape:
        return hit[1]
    excluded = PV_SLOTS if has_pv else frozenset()
    coeffs = tuple(tuple(shape.week_factors[wd] * tariff_share(shape.profile(wd), k, excluded) for wd in range(7))
                   for k in range(1, TARIFFS + 1))
    _COEFFS[(id(shape), has_pv)] = (shape, coeffs)
    return coeffs


@cache
def _pv_share(tariff: int) -> float:
    return tariff_share(PV_EXPORT.weekday_profile, tariff)


_TARIFF_DIGITS = {str(k): k for k in range(1, TARIFFS + 1)}


def channel_names(meter: MeterSpec) -> tuple[str, ...]:
    """The names of a meter's channels, in :func:`channels_for` order."""
    if meter.utility == "heat":
        return ("heat", "hvol")
    if meter.utility != "electricity":
        return ("vol",)
    per_tariff = ("imp", "rq", "exp") if meter.has_pv else ("imp", "rq")
    return tuple(f"{kind}{k}" for k in range(1, TARIFFS + 1) for kind in per_tariff)


def channel_named(meter: MeterSpec, name: str) -> Channel:
    """One channel of the meter, built alone (a register needs only its own); KeyError when it has none."""
    if meter.utility == "heat":
        if name == "heat":
            energy = HeatingSeries(meter.scale, HEAT_BASE_K, HEAT_AMP_K)
            return Channel("heat", 1, energy, 0.3 * energy.floor(), "heat", 0, gated=True)
        if name == "hvol":
            volume = HeatingSeries(24.0 * heat_flow_m3h(meter), 1.0, 0.0)
            return Channel("hvol", 2, volume, 0.05 * volume.floor(), "flow", 0, gated=True)
        raise KeyError(name)
    shape = shape_of(meter)
    if meter.utility != "electricity":
        if name != "vol":
            raise KeyError(name)
        series = PeriodicSeries(meter.scale, shape.week_factors, shape.harmonics)
        return Channel("vol", 1, series, 0.5 * series.floor(), "load", 0)
    kind, k = name[:-1], _TARIFF_DIGITS.get(name[-1:], 0)
    if kind not in ("imp", "rq", "exp") or not k or (kind == "exp" and not meter.has_pv):
        raise KeyError(name)
    if kind == "exp":
        exp = PeriodicSeries(pv_scale(meter), (_pv_share(k),) * 7, PV_EXPORT.harmonics)
        return Channel(name, 20 + k, exp, 0.5 * exp.floor(), "pv", k)
    coeffs = _tariff_coeffs(shape, meter.has_pv)[k - 1]
    imp = PeriodicSeries(meter.scale, coeffs, shape.harmonics)
    noise = 0.5 * imp.floor()
    if kind == "imp":
        return Channel(name, 10 + k, imp, noise, "load", k)
    # same tag as import: identical day noise, so reactive totals are exactly kq × import totals
    kq = reactive_ratio(meter)
    return Channel(name, 10 + k, PeriodicSeries(meter.scale * kq, coeffs, shape.harmonics), noise * kq, "q", k)


def channels_for(meter: MeterSpec) -> tuple[Channel, ...]:
    return tuple(channel_named(meter, name) for name in channel_names(meter))


_SOURCES: dict[tuple[str, bool], dict[str, tuple[tuple[str, float], ...]]] = {}


def register_sources(meter: MeterSpec) -> dict[str, tuple[tuple[str, float], ...]]:
    """Register name → (channel, factor) terms (one shared table per utility and PV: do not modify it).

    Names: imp0..4, exp0..4 (0 = total), q1_0..q4_4 (quadrant, tariff), vol, heat, hvol.
    """
    found = _SOURCES.get((meter.utility, meter.has_pv))
    if found is None:
        found = _SOURCES[(meter.utility, meter.has_pv)] = _sources(meter)
    return found


def _sources(meter: MeterSpec) -> dict[str, tuple[tuple[str, float], ...]]:
    if meter.utility == "heat":
        return {"heat": (("heat", 1.0),), "hvol": (("hvol", 1.0),)}
    if meter.utility != "electricity":
        return {"vol": (("vol", 1.0),)}
    regs: dict[str, tuple[tuple[str, float], ...]] = {}
    tariffs = range(1, TARIFFS + 1)
    exp = meter.has_pv
    for k in tariffs:
        regs[f"imp{k}"] = ((f"imp{k}", 1.0),)
        regs[f"exp{k}"] = ((f"exp{k}", 1.0),) if exp else ()
        regs[f"q1_{k}"] = ((f"rq{k}", 1.0),)
        regs[f"q4_{k}"] = ((f"imp{k}", 0.02),)
        regs[f"q2_{k}"] = ((f"exp{k}", 0.05),) if exp else ()
        regs[f"q3_{k}"] = ((f"exp{k}", 0.01),) if exp else ()
    for prefix in ("imp", "exp"):
        regs[f"{prefix}0"] = tuple(t for k in tariffs for t in regs[f"{prefix}{k}"])
    for q in ("q1", "q2", "q3", "q4"):
        regs[f"{q}_0"] = tuple(t for k in tariffs for t in regs[f"{q}_{k}"])
    return regs
