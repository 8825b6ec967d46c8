"""Response models and documented refusals of the analytics API."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from emms_runtime.api_models import ApiModel


class Problem(ApiModel):
    detail: str


ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": Problem, "description": "The body cannot be read as JSON"},
    401: {"model": Problem, "description": "No valid bearer token"},
    403: {"model": Problem, "description": "The token lacks the permission"},
    404: {"model": Problem, "description": "A named region, customer, group, node, company or point is unknown"},
    429: {"model": Problem, "description": "Over the caller's request quota (see Retry-After)"},
    503: {"model": Problem, "description": "Tokens cannot be verified just now (see Retry-After)"},
}


class UsageAnswer(ApiModel):
    """Usage rows (bucket, key, item, usage …) with chart-ready series: a line or bar per key, a pie of the
    keys' shares, and the growth rates when compared."""

    interval: str
    group_by: str
    local_tz: str
    rows: list[dict[str, Any]]
    series: list[dict[str, Any]]
    pie: list[dict[str, Any]]
    growth: list[dict[str, Any]] = Field(default_factory=list)


class RankingAnswer(ApiModel):
    group_by: str
    rows: list[dict[str, Any]]
    bar: list[dict[str, Any]]


class EnergyAnswer(ApiModel):
    interval: str
    rows: list[dict[str, Any]]
    tou: list[dict[str, Any]]
    tou_by_tariff: list[dict[str, Any]] | None
    trend: dict[str, Any]
    sudden_changes: list[dict[str, Any]]
    peak_hours: dict[str, Any] | None
    series: list[dict[str, Any]]


class LoadAnswer(ApiModel):
    metering_point_id: str
    points: int
    max: dict[str, Any] | None
    min: dict[str, Any] | None
    average: float | None
    load_rate: float | None
    unbalance: dict[str, Any] | None
    curve: list[list[Any]]
    trend: dict[str, Any]


class CombinedAnswer(ApiModel):
    by: str
    key: str
    utilities: dict[str, Any]


class QualityAnswer(ApiModel):
    rows: list[dict[str, Any]]
