"""The data sets a report can be built on: each is a query or analysis API of another service.

A data set names its source (service and path), how its answer is read (a streamed CSV, pages of
JSON rows with a cursor, or one JSON answer with ``rows``), its fields with their types and the
filters and dimensions it takes. Report definitions are checked against this catalog, so a field
that no source gives is refused before anything runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

FieldType = Literal["text", "number", "integer", "datetime"]
Reading = Literal["csv", "paged", "rows"]
Service = Literal["analytics", "archive"]


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    type: FieldType
    label: str


@dataclass(frozen=True, slots=True)
class DataSet:
    name: str
    title: str
    service: Service
    path: str
    reading: Reading
    fields: tuple[Field, ...]
    filters: tuple[str, ...]
    dimensions: tuple[str, ...] = ()
    """Values of the source's ``group_by``: one query per chosen dimension, its name in the ``dimension`` field."""
    intervals: tuple[str, ...] = ()
    default_dimension: str | None = None
    """The ``group_by`` sent when a definition chooses no dimension."""
    fixed_params: dict[str, str] = field(default_factory=dict)

    def field(self, name: str) -> Field | None:
        return next((f for f in self.fields if f.name == name), None)

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)


SELECTION = ("regions", "nodes", "groups", "customers", "parties", "companies", "industries", "categories",
             "utilities", "metering_points")
"""The analytics selection filters (every one a list of ids)."""

ARCHIVE_SELECTION = ("regions", "customers", "parties", "companies", "groups", "utilities", "categories",
                     "metering_points", "meters")

USAGE = DataSet(
    name="usage", title="用电/用水/用气/用热量 Usage by bucket and dimension", service="analytics",
    path="/api/v1/analytics/exports/usage.csv", reading="csv",
    fields=(Field("dimension", "text", "维度 Dimension"), Field("bucket", "datetime", "时段 Period"),
            Field("key", "text", "对象 Key"), Field("item", "text", "数据项 Item"),
            Field("usage", "number", "用量 Usage"), Field("intervals", "integer", "采集区间 Intervals"),
            Field("estimated", "integer", "估算区间 Estimated"),
            Field("metering_points", "integer", "计量点数 Points")),
    filters=(*SELECTION, "items"),
    dimensions=("metering_point", "customer", "party", "region", "industry", "category", "node", "group",
                "company", "utility", "total"),
    intervals=("hour", "day", "month", "quarter", "year", "period"),
    default_dimension="total",
)

READINGS = DataSet(
    name="readings", title="示值 Validated register values", service="analytics",
    path="/api/v1/analytics/exports/readings.csv", reading="csv",
    fields=(Field("metering_point_id", "text", "计量点 Point"), Field("meter_id", "text", "表计 Meter"),
            Field("item", "text", "数据项 Item"), Field("data_time", "datetime", "数据时间 Data time"),
            Field("value", "number", "示值 Value"), Field("status", "text", "状态 Status"),
            Field("multiplier", "number", "倍率 Multiplier")),
    filters=(*SELECTION, "items"),
)

EVENTS = DataSet(
    name="events", title="事件 Terminal and meter events", service="archive", path="/api/v1/events",
    reading="paged",
    fields=(Field("occurred_at", "datetime", "发生时间 Occurred"), Field("terminal", "text", "终端 Terminal"),
            Field("meter_id", "text", "表计 Meter"), Field("metering_point_id", "text", "计量点 Point"),
            Field("code", "text", "事件代码 Code"), Field("event_class", "text", "等级 Class"),
            Field("received_at", "datetime", "接收时间 Received"), Field("event_id", "text", "事件号 Event id")),
    filters=(*ARCHIVE_SELECTION, "terminals", "classes", "codes"),
)

ANOMALIES = DataSet(
    name="anomalies", title="异常 Findings of validation rules", service="archive", path="/api/v1/anomalies",
    reading="paged",
    fields=(Field("data_time", "datetime", "数据时间 Data time"), Field("meter_id", "text", "表计 Meter"),
            Field("metering_point_id", "text", "计量点 Point"), Field("rule", "text", "规则 Rule"),
            Field("item", "text", "数据项 Item"), Field("severity", "text", "严重程度 Severity"),
            Field("detected_at", "datetime", "发现时间 Detected"), Field("anomaly_id", "text", "异常号 Id")),
    filters=(*ARCHIVE_SELECTION, "severities", "rules"),
)

LOSS = DataSet(
    name="loss", title="线损/管损 Loss by model or dimension", service="analytics", path="/api/v1/analytics/loss",
    reading="rows",
    fields=(Field("dimension", "text", "维度 Dimension"), Field("bucket", "datetime", "时段 Period"),
            Field("key", "text", "模型/对象 Key"), Field("models", "integer", "模型数 Models"),
            Field("input", "number", "供入 Input"), Field("output", "number", "售出 Output"),
            Field("loss", "number", "损耗 Loss"), Field("rate", "number", "损耗率 Loss rate"),
            Field("complete", "text", "完整 Complete"), Field("reason", "text", "不完整原因 Reason")),
    filters=("models", "utilities", "model_classes", "regions", "companies", "lines", "voltage_levels"),
    dimensions=("model", "region", "line", "voltage_level", "company", "utility", "model_class"),
    intervals=("day", "month", "year", "period"),
    default_dimension="model",
)

CATALOG: dict[str, DataSet] = {d.name: d for d in (USAGE, READINGS, EVENTS, ANOMALIES, LOSS)}
