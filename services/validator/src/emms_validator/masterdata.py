"""What a master-data change means for VEE: meter attributes, replacements, key customers, owners.

The archive publishes ``MasterDataChange`` for every archive entity. For a
``meter`` the validator keeps utility, type, customer and category (rule
scopes), the register width (roll-over), the CT×VT multiplier and its company,
and records a replacement (kind ``replaced``) so the register may restart. For a
``customer`` it follows the category, the key-customer mark, and the company
and region that own it. A ``meter_installation`` (a meter put on a metering
point) names the meter's customer with that customer's company and region; a
``region`` its parent (scope covers every region below a token's). Field names
are read liberally (several spellings), and a partial update changes only
what it carries.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from emms_messages.masterdata import ChangeKind, MasterDataChange

_ALIASES = {
    "utility": ("utility", "energy_type", "medium"),
    "meter_type": ("meter_type", "type", "model"),
    "customer_id": ("customer_id", "customer"),
    "customer_category": ("customer_category", "category"),
    "company_id": ("company_id", "company"),
    "region_id": ("region_id", "region"),
}


def _first(data: Mapping[str, Any], names: tuple[str, ...]) -> Any:
    return next((data[n] for n in names if data.get(n) not in (None, "")), None)


def register_modulus_of(data: Mapping[str, Any]) -> float | None:
    """The value a register wraps at: given directly, or 10 ** integer digits."""
    if data.get("register_modulus") is not None:
        return float(data["register_modulus"])
    digits = _first(data, ("register_digits", "register_width", "integer_digits"))
    if digits is None:
        return None
    digits = int(digits)
    if not 1 <= digits <= 15:
        raise ValueError(f"register width {digits} digits is out of range")
    return float(10**digits)


def multiplier_of(data: Mapping[str, Any]) -> float | None:
    if data.get("multiplier") is not None:
        return float(data["multiplier"])
    ct, pt = data.get("ct_ratio"), data.get("pt_ratio", data.get("vt_ratio"))
    if ct is None and pt is None:
        return None
    return float(ct or 1) * float(pt or 1)


@dataclass(frozen=True, slots=True)
class MeterChange:
    meter_id: str
    fields: dict[str, Any]  # only the attributes this change carries
    replaced_at: datetime | None = None
    start_value: float = 0.0


def meter_change(change: MasterDataChange) -> MeterChange:
    data = change.data
    fields: dict[str, Any] = {}
    for name, aliases in _ALIASES.items():
        if name == "region_id":  # a meter's region is its customer's
            continue
        value = _first(data, aliases)
        if value is not None:
            fields[name] = str(value)
    modulus = register_modulus_of(data)
    if modulus is not None:
        fields["register_modulus"] = modulus
    multiplier = multiplier_of(data)
    if multiplier is not None:
        if multiplier <= 0:
            raise ValueError(f"multiplier must be positive, got {multiplier}")
        fields["multiplier"] = multiplier
    status = str(data.get("status", "")).lower()
    if change.kind is ChangeKind.REMOVED or status in ("removed", "inactive", "dismantled"):
        fields["active"] = False
    elif change.kind in (ChangeKind.CREATED, ChangeKind.REPLACED) or status == "active":
        fields["active"] = True
    if change.kind is not ChangeKind.REPLACED:
        return MeterChange(change.entity_id, fields)
    at = data.get("replaced_at") or data.get("installed_at")
    when = datetime.fromisoformat(at) if isinstance(at, str) else change.changed_at
    start = _first(data, ("start_value", "initial_reading", "new_start_value"))
    return MeterChange(change.entity_id, fields, when, float(start) if start is not None else 0.0)


def _text(data: Mapping[str, Any], name: str) -> str | None:
    value = _first(data, _ALIASES[name])
    return None if value is None else str(value)


@dataclass(frozen=True, slots=True)
class CustomerChange:
    customer_id: str
    category: str | None
    key: bool | None
    company_id: str | None = None
    region_id: str | None = None


def customer_change(change: MasterDataChange) -> CustomerChange:
    data = change.data
    key = data.get("key_customer", data.get("key"))
    return CustomerChange(change.entity_id, _text(data, "customer_category"), None if key is None else bool(key),
                          _text(data, "company_id"), _text(data, "region_id"))


@dataclass(frozen=True, slots=True)
class InstallationChange:
    """A meter put on (or taken off) a customer's metering point: who owns the meter's readings."""

    meter_id: str
    customer: CustomerChange | None
    utility: str | None
    removed: bool


def installation_change(change: MasterDataChange) -> InstallationChange | None:
    """The meter and customer of a ``meter_installation`` change (keyed by metering point); None when the
    message names no meter."""
    data = change.data
    meter = data.get("meter_id")
    if meter in (None, ""):
        return None
    customer_id = _text(data, "customer_id")
    customer = None if customer_id is None else CustomerChange(
        customer_id, _text(data, "customer_category"), None, _text(data, "company_id"), _text(data, "region_id"))
    removed = change.kind is ChangeKind.REMOVED or data.get("removed_at") is not None
    return InstallationChange(str(meter), customer, _text(data, "utility"), removed)


@dataclass(frozen=True, slots=True)
class RegionChange:
    region_id: str
    parent_id: str | None
    has_parent: bool
    """Whether the change carries the parent at all (a partial update may not)."""


def region_change(change: MasterDataChange) -> RegionChange:
    data = change.data
    has_parent = "parent_id" in data or "parent" in data
    parent = data.get("parent_id", data.get("parent"))
    return RegionChange(change.entity_id, None if parent in (None, "") else str(parent), has_parent)
