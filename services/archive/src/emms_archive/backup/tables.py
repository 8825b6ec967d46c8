"""Which archive tables a backup holds, in restore order, and how each is cut to a scope.

``order`` is the table's primary key: rows are exported and checksummed in that order, so a
checksum depends only on the rows, never on their physical order. ``scoped`` returns the
``WHERE`` condition (on alias ``t``) selecting a company's rows and / or a time range.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from emms_archive.schema import SCHEMA
from emms_db.where import Where

S = SCHEMA
_CUSTOMERS = f"SELECT id FROM {S}.customer WHERE company_id = ANY({{c}}::text[])"
_POINTS = f"SELECT mp.id FROM {S}.metering_point mp WHERE mp.customer_id IN ({_CUSTOMERS})"
_GROUPS = f"SELECT id FROM {S}.custom_group WHERE company_id = ANY({{c}}::text[])"

COMPANY_FILTERS: dict[str, str] = {
    "company": "t.id = ANY({c}::text[])",
    "service_area": "t.company_id = ANY({c}::text[])",
    "network_node": "t.company_id = ANY({c}::text[])",
    "terminal": "t.company_id = ANY({c}::text[])",
    "customer": "t.company_id = ANY({c}::text[])",
    "meter": f"t.company_id = ANY({{c}}::text[]) OR t.id IN (SELECT meter_id FROM {S}.meter_period"
             f" WHERE metering_point_id IN ({_POINTS}))",
    "metering_point": f"t.customer_id IN ({_CUSTOMERS})",
    "heating_season": f"t.customer_id IN ({_CUSTOMERS})",
    "meter_period": f"t.metering_point_id IN ({_POINTS})",
    "custom_group": "t.company_id = ANY({c}::text[])",
    "group_member": f"t.group_id IN ({_GROUPS})",
    "reading_raw": f"t.metering_point_id IN ({_POINTS})",
    "reading_validated": f"t.metering_point_id IN ({_POINTS})",
    "event": f"t.metering_point_id IN ({_POINTS}) OR t.terminal IN (SELECT address FROM {S}.terminal"
             " WHERE company_id = ANY({c}::text[]))",
    "anomaly": f"t.metering_point_id IN ({_POINTS})",
}


@dataclass(frozen=True, slots=True)
class Table:
    name: str
    order: tuple[str, ...]
    time_column: str | None = None
    application: bool = True
    sequence: str | None = None

    def scoped(self, companies: list[str] | None, start: datetime | None, end: datetime | None,
               where: Where) -> None:
        if companies and self.name in COMPANY_FILTERS:
            c = where.param(companies)
            where.parts.append(COMPANY_FILTERS[self.name].format(c=c))
        if self.time_column and start is not None:
            where.add(f"t.{self.time_column} >= {{}}", start)
        if self.time_column and end is not None:
            where.add(f"t.{self.time_column} < {{}}", end)

    def select(self, companies: list[str] | None = None, start: datetime | None = None,
               end: datetime | None = None) -> tuple[str, list[object]]:
        w = Where()
        self.scoped(companies, start, end, w)
        return f"SELECT t.* FROM {S}.{self.name} t WHERE {w.sql()} ORDER BY {', '.join(self.order)}", w.args


TABLES: tuple[Table, ...] = (
    Table("company", ("id",)),
    Table("region", ("id",)),
    Table("service_area", ("company_id", "region_id", "utility")),
    Table("network_node", ("id",)),
    Table("terminal", ("id",)),
    Table("customer", ("id",)),
    Table("heating_season", ("customer_id", "season")),
    Table("meter", ("id",)),
    Table("metering_point", ("id",)),
    Table("meter_period", ("id",), sequence="meter_period_id_seq"),
    Table("custom_group", ("id",)),
    Table("group_member", ("group_id", "member_kind", "member_id")),
    Table("reading_raw", ("metering_point_id", "item", "data_time", "source"), "data_time"),
    Table("reading_validated", ("metering_point_id", "item", "data_time", "validated_at", "status"), "data_time"),
    Table("event", ("occurred_at", "event_id"), "occurred_at"),
    Table("anomaly", ("data_time", "anomaly_id"), "data_time"),
    Table("reading_unmatched", ("layer", "meter_id", "item", "data_time", "variant"), application=False),
    Table("audit_log", ("seq",), application=False, sequence="audit_log_seq_seq"),
    Table("outbox", ("change_id",), application=False),
    Table("inbox", ("consumer", "message_id"), application=False),
)
"""Restore order: referenced tables first."""

BY_NAME = {t.name: t for t in TABLES}
APPLICATION_TABLES = tuple(t for t in TABLES if t.application)
TIME_PARTITIONED = ("reading_raw", "reading_validated", "event", "anomaly")
