"""A report definition: what a report shows and how, checked against the data-set catalog.

A definition names a data set, the dimensions (one query per dimension), a period (fixed, or
relative to the day it runs: the previous day, the previous month …), filters, the columns with
their number formats and totals, the fields whose groups get subtotals, the page layout, a title
and a signature block. Checking it refuses a field no source gives (naming it) and a period longer
than the caller's role may ask for.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, model_validator

from emms_reports.datasets import CATALOG, DataSet
from emms_runtime import Invalid

Format = Literal["text", "integer", "decimal1", "decimal2", "decimal3", "percent", "datetime", "date"]
Total = Literal["none", "sum", "count", "avg", "min", "max"]
PeriodKind = Literal["fixed", "previous_day", "current_day", "previous_month", "current_month", "last_days"]


class Column(BaseModel):
    model_config = ConfigDict(extra="forbid")

    field: str = Field(min_length=1, max_length=64)
    label: str | None = Field(default=None, max_length=80)
    format: Format = "text"
    total: Total = "none"
    width: float | None = Field(default=None, gt=0, le=100)


class Period(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: PeriodKind = "previous_day"
    start: datetime | None = Field(default=None, alias="from")
    end: datetime | None = Field(default=None, alias="to")
    days: int | None = Field(default=None, ge=1, le=3700)

    @model_validator(mode="after")
    def _complete(self) -> Period:
        if self.kind == "fixed" and (self.start is None or self.end is None):
            raise ValueError("a fixed period needs from and to")
        if self.kind == "last_days" and self.days is None:
            raise ValueError("a last_days period needs days")
        for t in (self.start, self.end):
            if t is not None and t.tzinfo is None:
                raise ValueError("from and to need a UTC offset")
        return self


class Layout(BaseModel):
    model_config = ConfigDict(extra="forbid")

    orientation: Literal["portrait", "landscape"] = "portrait"
    page_size: Literal["A4", "A3"] = "A4"
    font_size: float = Field(default=8.0, ge=5, le=16)


class ReportDefinition(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    title: str = Field(min_length=1, max_length=120)
    dataset: str
    dimensions: list[str] = Field(default_factory=list, max_length=4)
    interval: str | None = None
    period: Period = Field(default_factory=Period)
    filters: dict[str, list[str]] = Field(default_factory=dict)
    columns: list[Column] = Field(min_length=1, max_length=40)
    group_by: list[str] = Field(default_factory=list, max_length=3)
    """Fields whose groups get subtotal rows (each must be a column)."""
    layout: Layout = Field(default_factory=Layout)
    signature: list[str] = Field(default_factory=list, max_length=6)
    """The signature block's roles, e.g. 制表 / 审核 / 批准; each gets a line to sign on."""
    notes: str | None = Field(default=None, max_length=500)


@dataclass(frozen=True, slots=True)
class Span:
    start: datetime
    end: datetime

    @property
    def days(self) -> float:
        return (self.end - self.start).total_seconds() / 86_400


def check(definition: ReportDefinition, roles: tuple[str, ...], max_days: int, tz: ZoneInfo,
          now: datetime | None = None) -> DataSet:
    """The definition's data set once every name in it is known and its period is allowed; else ``Invalid``."""
    dataset = CATALOG.get(definition.dataset)
    if dataset is None:
        raise Invalid(f"unknown data set {definition.dataset!r}; data sets are {', '.join(CATALOG)}")
    _check_fields(definition, dataset)
    _check_options(definition, dataset)
    span = resolve(definition.period, tz, now)
    if span.end <= span.start:
        raise Invalid("the period is inverted: from must be before to")
    if span.days > max_days:
        raise Invalid(f"the period covers {span.days:.1f} days; your role {list(roles)} may ask for at most"
                      f" {max_days} days")
    return dataset


def _check_fields(definition: ReportDefinition, dataset: DataSet) -> None:
    names = set(dataset.field_names)
    for column in definition.columns:
        if column.field not in names:
            raise Invalid(f"unknown field {column.field!r} in columns: data set {dataset.name} has"
                          f" {', '.join(dataset.field_names)}")
    shown = {c.field for c in definition.columns}
    for name in definition.group_by:
        if name not in names:
            raise Invalid(f"unknown field {name!r} in group_by: data set {dataset.name} has"
                          f" {', '.join(dataset.field_names)}")
        if name not in shown:
            raise Invalid(f"group_by field {name!r} is not one of the columns")
    for column in definition.columns:
        kind = dataset.field(column.field)
        if column.total in ("sum", "avg") and kind is not None and kind.type not in ("number", "integer"):
            raise Invalid(f"column {column.field!r} is {kind.type}: it cannot have a {column.total} total")


def _check_options(definition: ReportDefinition, dataset: DataSet) -> None:
    for name in definition.filters:
        if name not in dataset.filters:
            raise Invalid(f"unknown filter {name!r}: data set {dataset.name} takes {', '.join(dataset.filters)}")
    for name in definition.dimensions:
        if name not in dataset.dimensions:
            raise Invalid(f"unknown dimension {name!r}: data set {dataset.name} has"
                          f" {', '.join(dataset.dimensions) or 'none'}")
    if definition.interval is not None and definition.interval not in dataset.intervals:
        raise Invalid(f"unknown interval {definition.interval!r}: data set {dataset.name} has"
                      f" {', '.join(dataset.intervals) or 'none'}")


def _midnight(d: date, tz: ZoneInfo) -> datetime:
    return datetime(d.year, d.month, d.day, tzinfo=tz)


def _month_start(d: date) -> date:
    return d.replace(day=1)


def _next_month(d: date) -> date:
    return (d.replace(day=28) + timedelta(days=4)).replace(day=1)


def resolve(period: Period, tz: ZoneInfo, now: datetime | None = None) -> Span:
    """The period's start and end (UTC) for a run at ``now``: relative periods in local whole days / months."""
    if period.kind == "fixed":
        assert period.start is not None and period.end is not None
        return Span(period.start.astimezone(UTC), period.end.astimezone(UTC))
    today = (now or datetime.now(UTC)).astimezone(tz).date()
    if period.kind == "previous_day":
        first, last = today - timedelta(days=1), today
    elif period.kind == "current_day":
        first, last = today, today + timedelta(days=1)
    elif period.kind == "previous_month":
        last = _month_start(today)
        first = _month_start(last - timedelta(days=1))
    elif period.kind == "current_month":
        first = _month_start(today)
        last = _next_month(first)
    else:
        assert period.days is not None
        first, last = today - timedelta(days=period.days), today
    return Span(_midnight(first, tz).astimezone(UTC), _midnight(last, tz).astimezone(UTC))
