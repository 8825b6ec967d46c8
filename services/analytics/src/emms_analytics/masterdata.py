"""The master data analyses group by, kept from ``emms.masterdata.change.v1`` (R-4.6.5).

The archive publishes the after image of each changed row (the before image of a removed one).
Each entity maps onto one table of this service's copy; a change writes only the columns it
carries, so a partial update leaves the others. A ``meter_installation`` (keyed by the metering
point) opens the meter's period on the point and closes the point's previous open period at the
same instant (a replacement); removing it closes the period. A removed customer is kept
(inactive: its past usage still counts where it was); a removed group member is deleted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from emms_analytics.keycustomers.terminals import terminal_key
from emms_db.connection import Connection
from emms_messages.masterdata import ChangeKind, MasterDataChange


@dataclass(frozen=True, slots=True)
class Table:
    name: str
    key: tuple[str, ...]
    columns: Mapping[str, tuple[str, ...]]  # our column → the fields it is read from, first present wins


TABLES: dict[str, Table] = {
    "company": Table("company", ("company_id",), {"company_id": ("id",), "name": ("name",)}),
    "region": Table("region", ("region_id",), {"region_id": ("id",), "name": ("name",),
                                               "parent_id": ("parent_id", "parent")}),
    "customer": Table("customer", ("customer_id",), {
        "customer_id": ("id",), "name": ("name", "customer_name"), "party_id": ("party_id",),
        "utility": ("utility",), "category": ("category", "customer_category"), "industry": ("industry",),
        "company_id": ("company_id",), "region_id": ("region_id",), "node_id": ("node_id",),
        "contracted_capacity_kva": ("contracted_capacity_kva",), "heated_area_m2": ("heated_area_m2",)}),
    "network_node": Table("network_node", ("node_id",), {
        "node_id": ("id",), "name": ("name",), "kind": ("kind",), "utility": ("utility",),
        "parent_id": ("parent_id",), "company_id": ("company_id",), "region_id": ("region_id",),
        "capacity_kva": ("capacity_kva",)}),
    "metering_point": Table("metering_point", ("metering_point_id",), {
        "metering_point_id": ("id",), "customer_id": ("customer_id",), "utility": ("utility",),
        "node_id": ("node_id",), "voltage_level_kv": ("voltage_level_kv",)}),
    "meter": Table("meter", ("meter_id",), {"meter_id": ("id",), "utility": ("utility",),
                                            "register_digits": ("register_digits",)}),
    "custom_group": Table("custom_group", ("group_id",), {"group_id": ("id",), "name": ("name",),
                                                          "company_id": ("company_id",)}),
    "heating_season": Table("heating_season", ("customer_id", "season"), {
        "customer_id": ("customer_id",), "season": ("season",), "heating": ("heating",)}),
    "group_member": Table("group_member", ("group_id", "member_kind", "member_id"), {
        "group_id": ("group_id",), "member_kind": ("member_kind",), "member_id": ("member_id",)}),
}
NULLABLE_TEXT = {"parent_id", "node_id", "industry", "contracted_capacity_kva", "heated_area_m2", "capacity_kva",
                 "voltage_level_kv"}
NUMBERS = {"contracted_capacity_kva", "heated_area_m2", "capacity_kva", "voltage_level_kv"}


def _pick(data: Mapping[str, Any], names: tuple[str, ...]) -> tuple[bool, Any]:
    for name in names:
        if name in data:
            return True, data[name]
    return False, None


def row_of(table: Table, change: MasterDataChange) -> dict[str, Any]:
    """The columns this change carries (the key from the entity id where the data lacks it)."""
    row: dict[str, Any] = {}
    for column, names in table.columns.items():
        found, value = _pick(change.data, names)
        if found:
            row[column] = None if value in ("", None) and column in NULLABLE_TEXT else value
            if column in NUMBERS and row[column] is not None:
                row[column] = float(row[column])
            if column == "heating" and isinstance(row[column], str):
                row[column] = row[column].strip().lower() in ("true", "1", "yes", "on")
    if len(table.key) == 1 and row.get(table.key[0]) in (None, ""):
        row[table.key[0]] = change.entity_id
    return row


def multiplier_of(data: Mapping[str, Any]) -> float | None:
    if data.get("multiplier") is not None:
        return float(data["multiplier"])
    ct, pt = data.get("ct_ratio"), data.get("pt_ratio")
    if ct is None and pt is None:
        return None
    return float(ct or 1) * float(pt or 1)


async def upsert(conn: Connection, schema: str, table: Table, row: Mapping[str, Any]) -> None:
    if any(row.get(k) in (None, "") for k in table.key):
        raise ValueError(f"{table.name} change without {', '.join(table.key)}")
    cols = list(row)
    values = [str(v) if v is not None and c != "register_digits" and not isinstance(v, (int, float, bool))
              else v for c, v in row.items()]
    rest = [c for c in cols if c not in table.key]
    update = (f"DO UPDATE SET {', '.join(f'{c} = EXCLUDED.{c}' for c in rest)}" if rest else "DO NOTHING")
    await conn.execute(
        f"INSERT INTO {schema}.{table.name} ({', '.join(cols)}) VALUES "
        f"({', '.join(f'${i + 1}' for i in range(len(cols)))}) ON CONFLICT ({', '.join(table.key)}) {update}",
        *values)


def _instant(value: Any, default: datetime) -> datetime:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and value:
        return datetime.fromisoformat(value)
    return default


async def apply_installation(conn: Connection, schema: str, change: MasterDataChange) -> None:
    data = change.data
    point = str(data.get("metering_point_id") or change.entity_id)
    meter = data.get("meter_id")
    if meter in (None, ""):
        return
    meter = str(meter)
    if change.kind is ChangeKind.REMOVED:
        until = _instant(data.get("valid_to") or data.get("removed_at"), change.changed_at)
        await conn.execute(f"UPDATE {schema}.meter_period SET valid_to = $3 WHERE metering_point_id = $1"
                           f" AND meter_id = $2 AND valid_to IS NULL", point, meter, until)
        return
    start = _instant(data.get("valid_from") or data.get("installed_at"), change.changed_at)
    end = data.get("valid_to")
    await conn.execute(f"UPDATE {schema}.meter_period SET valid_to = $3 WHERE metering_point_id = $1"
                       f" AND meter_id <> $2 AND valid_to IS NULL AND valid_from < $3", point, meter, start)
    await conn.execute(
        f"INSERT INTO {schema}.meter_period (metering_point_id, meter_id, valid_from, valid_to) VALUES ($1, $2, $3, $4)"
        f" ON CONFLICT (meter_id, valid_from) DO UPDATE SET metering_point_id = EXCLUDED.metering_point_id,"
        f" valid_to = EXCLUDED.valid_to", point, meter, start, None if end in (None, "") else _instant(end, start))
    point_row = {"metering_point_id": point}
    for column in ("customer_id", "utility"):
        if data.get(column) not in (None, ""):
            point_row[column] = str(data[column])
    terminal = terminal_key(data.get("terminal_address"))
    if terminal is not None:  # the concentrator the point is read through (its online state: key customers)
        point_row["terminal"] = terminal
    await upsert(conn, schema, TABLES["metering_point"], point_row)
    await apply_meter_attributes(conn, schema, meter, data)


async def apply_meter_attributes(conn: Connection, schema: str, meter: str, data: Mapping[str, Any]) -> None:
    row: dict[str, Any] = {"meter_id": meter}
    multiplier = multiplier_of(data)
    if multiplier is not None:
        if not multiplier > 0:
            raise ValueError(f"meter {meter}: multiplier must be positive, got {multiplier}")
        row["multiplier"] = multiplier
    if data.get("register_digits") is not None:
        row["register_digits"] = int(data["register_digits"])
    if data.get("utility") not in (None, ""):
        row["utility"] = str(data["utility"])
    await upsert(conn, schema, TABLES["meter"], row)


def width_changed(change: MasterDataChange) -> str | None:
    """The meter whose register width this change gives (its roll-overs are then recomputed)."""
    if change.data.get("register_digits") is None:
        return None
    entity = change.entity.lower()
    if entity == "meter":
        return change.entity_id
    if entity == "meter_installation" and change.data.get("meter_id") not in (None, ""):
        return str(change.data["meter_id"])
    return None


async def apply_change(conn: Connection, schema: str, change: MasterDataChange) -> None:
    """One change onto the copy (in the caller's transaction)."""
    entity = change.entity.lower()
    if entity == "meter_installation":
        await apply_installation(conn, schema, change)
        return
    table = TABLES.get(entity)
    if table is None:
        return
    if entity == "heating_season" and change.kind is ChangeKind.REMOVED:
        row = row_of(table, change)
        await conn.execute(f"DELETE FROM {schema}.heating_season WHERE customer_id = $1 AND season = $2",
                           str(row.get("customer_id")), str(row.get("season")))
        return
    if entity == "group_member" and change.kind is ChangeKind.REMOVED:
        row = row_of(table, change)
        await conn.execute(f"DELETE FROM {schema}.group_member WHERE group_id = $1 AND member_kind = $2"
                           f" AND member_id = $3", str(row.get("group_id")), str(row.get("member_kind")),
                           str(row.get("member_id")))
        return
    if entity == "meter":
        await apply_meter_attributes(conn, schema, change.entity_id, change.data)
        return
    row = row_of(table, change)
    await upsert(conn, schema, table, row)
    if entity == "customer":
        active = change.kind is not ChangeKind.REMOVED and str(change.data.get("status", "active")) == "active"
        await conn.execute(f"UPDATE {schema}.customer SET active = $2 WHERE customer_id = $1", row["customer_id"],
                           active)
