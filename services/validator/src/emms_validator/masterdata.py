"""What a master-data change means for VEE: meter attributes, replacements, key customers.

The archive publishes ``MasterDataChange`` for every archive entity. For a
``meter`` the validator keeps utility, type, customer and category (rule
scopes), the register width (roll-over) and the CT×VT multiplier, and records
a replacement (kind ``replaced``) so the register may restart. For a
``customer`` it follows the category and the key-customer mark. Field names
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


@dataclass(frozen=True, slots=True)
class CustomerChange:
    customer_id: str
    category: str | None
    key: bool | None


def customer_change(change: MasterDataChange) -> CustomerChange:
    data = change.data
    category = _first(data, _ALIASES["customer_category"])
    key = data.get("key_customer", data.get("key"))
    return CustomerChange(change.entity_id, None if category is None else str(category),
                          None if key is None else bool(key))
