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


def channels_for(meter: MeterSpec) -> tuple[Channel, ...]:
    if meter.utility == "heat":
        energy = HeatingSeries(meter.scale, HEAT_BASE_K, HEAT_AMP_K)
        volume = HeatingSeries(24.0 * heat_flow_m3h(meter), 1.0, 0.0)
        return (Channel("heat", 1, energy, 0.3 * energy.floor(), "heat", 0, gated=True),
                Channel("hvol", 2, volume, 0.05 * volume.floor(), "flow", 0, gated=True))
    shape = shape_of(meter)
    if meter.utility != "electricity":
        series = PeriodicSeries(meter.scale, shape.week_factors, shape.harmonics)
        return (Channel("vol", 1, series, 0.5 * series.floor(), "load", 0),)
    out = []
    excluded = PV_SLOTS if meter.has_pv else frozenset()
    kq = reactive_ratio(meter)
    for k in range(1, TARIFFS + 1):
        coeffs = tuple(shape.week_factors[wd] * tariff_share(shape.profile(wd), k, excluded) for wd in range(7))
        imp = PeriodicSeries(meter.scale, coeffs, shape.harmonics)
        noise = 0.5 * imp.floor()
        out.append(Channel(f"imp{k}", 10 + k, imp, noise, "load", k))
        # same tag as import: identical day noise, so reactive totals are exactly kq × import totals
        out.append(Channel(f"rq{k}", 10 + k, PeriodicSeries(meter.scale * kq, coeffs, shape.harmonics),
                           noise * kq, "q", k))
        if meter.has_pv:
            share = tariff_share(PV_EXPORT.weekday_profile, k)
            exp = PeriodicSeries(pv_scale(meter), (share,) * 7, PV_EXPORT.harmonics)
            out.append(Channel(f"exp{k}", 20 + k, exp, 0.5 * exp.floor(), "pv", k))
    return tuple(out)


def register_sources(meter: MeterSpec) -> dict[str, tuple[tuple[str, float], ...]]:
    """Register name → (channel, factor) terms.

    Names: imp0..4, exp0..4 (0 = total), q1_0..q4_4 (quadrant, tariff), vol, heat, hvol.
    """
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
