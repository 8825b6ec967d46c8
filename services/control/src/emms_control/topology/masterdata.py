"""What a master-data change means for remote control: which terminal and pn reach a meter, by which
protocol, whose meter it is, and whether its customer is protected.

* ``meter_installation`` (a meter on a metering point: meter, terminal address, pn, port, protocol,
  meter address, utility, customer) → the device row; removed → the device inactive;
* ``meter`` → utility, protocol, address, company, protection class when given;
* ``customer`` → company, region, category, protection class (``protection_class`` /
  ``protected_class``; ``key_customer`` true = class ``key``);
* ``region`` → the region tree (targets by region include the regions below);
* ``group_member`` of kind meter → membership of a control group with that id, when the group exists.

Field names are read liberally (the spellings the other consumers accept); a partial update changes
only what it carries. Applied with the inbox claim in one transaction (a redelivery does nothing).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from emms_control.repository import devices as device_sql
from emms_db.connection import Connection
from emms_messages.masterdata import ChangeKind, MasterDataChange

_KEY = re.compile(r"^[0-9A-Fa-f]{4}-\d{5}$")


def terminal_key(address: Any) -> str | None:
    """``AAAA-TTTTT`` from the archive's address (that form, or 8 hex digits A1 A2)."""
    if not address:
        return None
    text = str(address).strip()
    if _KEY.match(text):
        return text.upper()
    if len(text) == 8 and all(ch in "0123456789abcdefABCDEF" for ch in text):
        return f"{text[:4].upper()}-{int(text[4:], 16):05d}"
    return None


def _first(data: Mapping[str, Any], *names: str) -> Any:
    return next((data[n] for n in names if data.get(n) not in (None, "")), None)


def protection_of(data: Mapping[str, Any]) -> tuple[bool, str | None]:
    """(whether the change says anything about protection, the class or None)."""
    for name in ("protection_class", "protected_class", "protection"):
        if name in data:
            value = data[name]
            return True, None if value in (None, "", False) else str(value)
    for name in ("key_customer", "key"):
        if name in data and isinstance(data[name], bool):
            return True, "key" if data[name] else None
    return False, None


async def apply(conn: Connection, change: MasterDataChange) -> None:
    data = change.data
    if change.entity == "meter_installation":
        await _installation(conn, change)
    elif change.entity == "meter":
        await _meter(conn, change)
    elif change.entity == "customer":
        fields = _columns(data, (("company_id", ("company_id", "company")), ("region_id", ("region_id", "region")),
                                 ("category", ("customer_category", "category"))))
        said, cls = protection_of(data)
        if said:
            fields["protection"] = cls
        await device_sql.upsert_customer(conn, change.entity_id, fields)
    elif change.entity == "region":
        has_parent = "parent_id" in data or "parent" in data
        parent = data.get("parent_id", data.get("parent"))
        await device_sql.set_region(conn, change.entity_id, None if parent in (None, "") else str(parent), has_parent)
    elif change.entity == "group_member" and data.get("member_kind") == "meter":
        await device_sql.group_member_from_masterdata(conn, str(data.get("group_id") or ""),
                                                      str(data.get("member_id") or ""),
                                                      change.kind is not ChangeKind.REMOVED)


def _columns(data: Mapping[str, Any], spec: tuple[tuple[str, tuple[str, ...]], ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for col, names in spec:
        value = _first(data, *names)
        if value is not None:
            out[col] = str(value)
    return out


async def _meter(conn: Connection, change: MasterDataChange) -> None:
    data = change.data
    fields = _columns(data, (("utility", ("utility", "energy_type", "medium")), ("protocol", ("protocol",)),
                             ("meter_address", ("meter_address", "address")), ("company_id", ("company_id", "company")),
                             ("customer_id", ("customer_id",)), ("category", ("customer_category", "category"))))
    said, cls = protection_of(data)
    if said:
        fields["protection"] = cls
    status = str(data.get("status", "")).lower()
    if change.kind is ChangeKind.REMOVED or status in ("removed", "inactive", "dismantled"):
        fields["active"] = False
    await device_sql.upsert_device(conn, change.entity_id, fields)


async def _installation(conn: Connection, change: MasterDataChange) -> None:
    data = change.data
    meter_id = data.get("meter_id")
    if not meter_id:
        return
    if change.kind is ChangeKind.REMOVED or data.get("removed_at"):
        await device_sql.upsert_device(conn, str(meter_id), {"active": False})
        return
    fields: dict[str, Any] = {"active": True}
    key = terminal_key(_first(data, "terminal_address", "terminal"))
    if key is not None:
        fields["terminal"] = key
    if data.get("pn") is not None:
        fields["pn"] = int(data["pn"])
    if data.get("port") is not None:
        fields["port"] = int(data["port"])
    for col, names in (("protocol", ("protocol",)), ("meter_address", ("meter_address",)),
                       ("utility", ("utility",)), ("customer_id", ("customer_id", "customer")),
                       ("company_id", ("company_id",)), ("category", ("customer_category", "category"))):
        value = _first(data, *names)
        if value is not None:
            fields[col] = str(value)
    if data.get("customer_id") and (data.get("region_id") or data.get("company_id")):
        await device_sql.upsert_customer(conn, str(data["customer_id"]), {
            k: str(data[k]) for k in ("company_id", "region_id") if data.get(k)})
    await device_sql.upsert_device(conn, str(meter_id), fields)
