"""Loss models as the API takes them, their validation, and the default thresholds per model class."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, Field

NAME = r"^[0-9A-Za-z][0-9A-Za-z_.:/-]{0,99}$"
UTILITIES = ("electricity", "water", "gas", "heat")
#: node kind → (model class, utility) of the models generated from the topology
GENERATED_KINDS = {"transformer": "electricity", "dma": "water", "district_metered_area": "water",
                   "pressure_zone": "gas", "heat_exchange_station": "heat",
                   "pipe_network": "water"}  # the archive's word for a metered pipe network (water or gas: its utility)
#: a point whose customer has this category is the input (total / inlet / station meter) of its area's model
INPUT_CATEGORY = "network"
#: model class → (max rate, min rate, max day-to-day change of the rate) when no threshold is stored
DEFAULT_THRESHOLDS: dict[str, tuple[float, float, float]] = {
    "transformer": (0.07, 0.0, 0.03), "line": (0.06, 0.0, 0.03), "dma": (0.06, 0.0, 0.03),
    "district_metered_area": (0.06, 0.0, 0.03), "pressure_zone": (0.03, 0.0, 0.02),
    "heat_exchange_station": (0.10, 0.0, 0.04), "pipe_network": (0.05, 0.0, 0.03)}
FALLBACK_THRESHOLD = (0.10, 0.0, 0.05)


class MemberIn(BaseModel):
    metering_point_id: str = Field(pattern=NAME)
    side: Literal["input", "output"]
    sign: Literal[1, -1] = 1
    multiplier: float = Field(default=1.0, gt=0, le=1e6, description="CT × PT ratio or any factor of the point "
                              "beyond its meter's multiplier in master data")


class ModelIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    utility: Literal["electricity", "water", "gas", "heat"]
    model_class: str = Field(default="custom", pattern=NAME)
    item: str | None = Field(default=None, pattern=NAME, description="default: the utility's main register")
    region_id: str | None = Field(default=None, pattern=NAME)
    company_id: str | None = Field(default=None, pattern=NAME)
    line_id: str | None = Field(default=None, pattern=NAME)
    voltage_level: str | None = Field(default=None, max_length=40)
    members: list[MemberIn] = Field(min_length=2, max_length=100_000)
    valid_from: AwareDatetime | None = Field(default=None, description=(
        "from when these members are the model (earlier days keep the earlier versions); default: for every day"))


class ThresholdIn(BaseModel):
    max_rate: float = Field(gt=-1, le=1)
    min_rate: float = Field(default=0.0, ge=-1, le=1)
    max_change: float = Field(gt=0, le=2)


def problems(members: Iterable[Mapping[str, Any]], known: Mapping[str, str | None], utility: str) -> list[str]:
    """Why a member set is not a model (empty: it is one): overlap, duplicates, unknown points, no input / output,
    a point of another utility."""
    out: list[str] = []
    sides: dict[str, set[str]] = {}
    count: dict[str, int] = {}
    for m in members:
        sides.setdefault(m["metering_point_id"], set()).add(m["side"])
        count[m["metering_point_id"]] = count.get(m["metering_point_id"], 0) + 1
    both = sorted(p for p, s in sides.items() if len(s) > 1)
    if both:
        out.append(f"points both input and output: {', '.join(both[:20])}")
    twice = sorted(p for p, n in count.items() if n > 1 and p not in both)
    if twice:
        out.append(f"points listed twice: {', '.join(twice[:20])}")
    unknown = sorted(p for p in sides if p not in known)
    if unknown:
        out.append(f"unknown metering points: {', '.join(unknown[:20])}")
    other = sorted(p for p in sides if p in known and known[p] not in (None, utility))
    if other:
        out.append(f"points of another utility than {utility}: {', '.join(other[:20])}")
    all_sides = {s for v in sides.values() for s in v}
    for side in ("input", "output"):
        if side not in all_sides:
            out.append(f"no {side} point")
    return out


def fingerprint(members: Iterable[Mapping[str, Any]]) -> str:
    text = "|".join(sorted(f"{m['metering_point_id']}:{m['side']}:{float(m['sign']):g}:{float(m['multiplier']):g}"
                           for m in members))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def threshold_of(stored: Mapping[str, Mapping[str, Any]], model_class: str) -> tuple[float, float, float]:
    row = stored.get(model_class)
    if row is not None:
        return float(row["max_rate"]), float(row["min_rate"]), float(row["max_change"])
    return DEFAULT_THRESHOLDS.get(model_class, FALLBACK_THRESHOLD)
