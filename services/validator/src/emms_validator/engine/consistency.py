"""Checks across a meter's items at one data time: tariff sum, supply/return, power vs energy, closed valve."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache

from emms_validator.engine.points import Env, PointEval
from emms_validator.items import tariff_total_of
from emms_validator.model import ItemKind
from emms_validator.rules.consistency import (
    power_energy_mismatch,
    supply_below_return,
    tariff_sum_mismatch,
    valve_closed_flow,
)
from emms_validator.state import SeriesState


def check_group(env: Env, evals: Sequence[PointEval], series: Mapping[str, SeriesState]) -> None:
    """Add cross-item findings to the evaluations of one data time (before any state changes)."""
    usable = [e for e in evals if e.value is not None and e.path in ("forward", "repair", "late")]
    if env.on("tariff_sum"):
        _tariffs(env, usable)
    if env.on("supply_return"):
        _temperatures(env, usable)
    if env.on("power_energy"):
        _power_energy(env, usable, series)
    if env.meter.valve_closed_since is not None and env.on("valve_closed_flow"):
        _valve_flow(env, usable)


def _valve_flow(env: Env, evals: Sequence[PointEval]) -> None:
    """Volume / energy advancing while the valve is closed, from the closure on (once per closure).

    The advance counts from the first point received after the valve was seen (or reported) closed,
    so a slow flow shows even when no single interval moves the register past ``min_advance``. A
    valve read open at this data time opened somewhere in the interval: only the advance up to the
    interval's start is certain then."""
    closed = env.meter.valve_closed_since
    if closed is None or env.meter.valve_flow_reported == closed:
        return
    valve = next((e for e in evals if e.spec.role == "valve"), None)
    reopened = valve is not None and valve.value != env.valve_closed_value
    for e in evals:
        if (e.spec.role not in ("volume", "energy") or e.path != "forward" or e.increment is None
                or e.prev_t is None or e.prev_value is None or e.replaced or closed > e.prev_t):
            continue
        since = min(_first_at_or_after(e.series, closed, e.prev_t, e.prev_value), e.prev_value)
        end = e.prev_value if reopened else e.prev_value + e.increment
        e.find("valve_closed_flow", valve_closed_flow(closed, e.prev_t, end - since, env.hp.valve_min_advance))


def _first_at_or_after(series: SeriesState, t: float, until: float, default: float) -> float:
    """The register's value at the first point received at or after ``t`` (up to ``until``)."""
    for rt, value in series.recent:
        if t <= rt <= until and value is not None:
            return value
    return default


def _tariffs(env: Env, evals: Sequence[PointEval]) -> None:
    setting = env.rules["tariff_sum"]
    by_item = {e.spec.item: e for e in evals}
    bases: dict[str, list[PointEval]] = {}
    for e in evals:
        if e.spec.role == "tariff" and e.spec.tariff_base:
            bases.setdefault(e.spec.tariff_base, []).append(e)
    for base, tariffs in bases.items():
        total_item = tariff_total_of(base, [i for i in by_item if by_item[i].spec.role != "tariff"])
        if total_item is None:
            continue
        total = by_item[total_item]
        assert total.value is not None
        total.find("tariff_sum", tariff_sum_mismatch(total.value, [t.value for t in tariffs if t.value is not None],
                                                     setting.p("lsb"), setting.p("pct")))


def _temperatures(env: Env, evals: Sequence[PointEval]) -> None:
    supply = next((e for e in evals if e.spec.role == "temperature_supply"), None)
    ret = next((e for e in evals if e.spec.role == "temperature_return"), None)
    if supply is None or ret is None or supply.value is None or ret.value is None:
        return
    supply.find("supply_return", supply_below_return(supply.value, ret.value,
                                                     env.rules["supply_return"].p("tolerance_k")))


@lru_cache(maxsize=4096)
def _qualifier(item: str) -> str:
    code = item.lower()
    return next((q for q in ("reactive", "active", "heat") if q in code), "")


def _power_for(energy_item: str, powers: Sequence[PointEval]) -> PointEval | None:
    """The power item that matches an energy register: same kind (active / reactive / heat), total first."""
    q = _qualifier(energy_item)
    same = [p for p in powers if _qualifier(p.spec.item) == q]
    if not same:
        return None
    return sorted(same, key=lambda p: ("total" not in p.spec.item.lower(), len(p.spec.item), p.spec.item))[0]


def _power_energy(env: Env, evals: Sequence[PointEval], series: Mapping[str, SeriesState]) -> None:
    setting = env.rules["power_energy"]
    powers = [e for e in evals if e.spec.role == "power" and e.spec.kind is ItemKind.INSTANT]
    if not powers:
        return
    for e in evals:
        if e.spec.role != "energy" or "export" in e.spec.item.lower() or e.primary is None or e.prev_t is None:
            continue
        if e.t - e.prev_t > setting.p("max_interval_s"):
            continue
        power = _power_for(e.spec.item, powers)
        state = series.get(power.spec.item) if power is not None else None
        if power is None or power.value is None or state is None or state.last_t != e.prev_t \
                or state.last_value is None:
            continue
        e.find("power_energy", power_energy_mismatch(
            e.primary, (e.t - e.prev_t) / 3600.0, state.last_value * env.info.multiplier,
            power.value * env.info.multiplier, setting.p("factor"), setting.p("floor_kw")))
