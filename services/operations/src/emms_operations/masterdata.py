"""What the operations service reads from the archive's changes: a terminal's session key and make."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_KEY = re.compile(r"^[0-9A-Fa-f]{4}-\d{5}$")
_HEX = re.compile(r"^[0-9A-Fa-f]{8}$")


def terminal_key(address: Any) -> str | None:
    """The bus key of a terminal from the archive's address: ``"3701-00012"`` as it is, or the 8-hex-digit
    vendor form ``"3701000C"`` (A1 then A2 in hex); None for any other form."""
    if not isinstance(address, str):
        return None
    text = address.strip()
    if _KEY.match(text):
        return text.upper()
    if _HEX.match(text):
        return f"{text[:4].upper()}-{int(text[4:], 16):05d}"
    return None


def terminal_fields(data: Mapping[str, Any]) -> dict[str, Any]:
    """The terminal's kind, model, vendor, firmware, company, region, status — those the change carries."""
    names = {"kind": ("kind", "terminal_type", "type"), "model": ("model",), "vendor": ("vendor", "manufacturer"),
             "firmware": ("firmware", "firmware_version", "software_version"), "company_id": ("company_id", "company"),
             "region_id": ("region_id", "region"), "status": ("status",)}
    out: dict[str, Any] = {}
    for column, keys in names.items():
        for key in keys:
            if data.get(key) not in (None, ""):
                out[column] = str(data[key])
                break
    return out
