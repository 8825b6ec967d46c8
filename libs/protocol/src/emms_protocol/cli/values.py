"""JSON request fields → typed arguments for the builders (``emms-proto encode``).

Integers may be JSON numbers or hex strings ("0C", "901F"); times ISO 8601 or
"now"; a 645 write value follows the DI's registry format (numbers, lists for
blocks, ISO dates / times, digit strings) or is given as ``"raw": "hex"``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time
from typing import Any

from emms_protocol.dlt645.bodies import spec_for
from emms_protocol.dlt645.formats import AnyFormat, Block, Clock, Composite
from emms_protocol.errors import ProtocolError


def require(spec: dict[str, Any], key: str) -> Any:
    if key not in spec:
        raise ProtocolError("value", detail=f"missing key {key!r}")
    return spec[key]


def int_field(spec: dict[str, Any], key: str, default: int | None = None) -> int:
    """A number, or a hex string ("0C", "0x0C"); ``default`` when the key is absent (required if None)."""
    if key not in spec and default is not None:
        return default
    value = require(spec, key)
    if isinstance(value, bool):
        raise ProtocolError("value", detail=f"{key} must be an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value, 16)
        except ValueError:
            pass
    raise ProtocolError("value", detail=f"{key} must be an integer or a hex string, got {value!r}")


def optional_int(spec: dict[str, Any], key: str) -> int | None:
    return None if spec.get(key) is None else int_field(spec, key)


def string_field(spec: dict[str, Any], key: str, default: str | None = None) -> str:
    if key not in spec and default is not None:
        return default
    value = require(spec, key)
    if not isinstance(value, str):
        raise ProtocolError("value", detail=f"{key} must be a string, got {value!r}")
    return value


def parse_time(text: Any, key: str = "time") -> datetime:
    """ISO 8601 or "now" (UTC)."""
    if text == "now":
        return datetime.now(UTC).replace(microsecond=0)
    if not isinstance(text, str):
        raise ProtocolError("value", detail=f"{key} must be an ISO 8601 string")
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise ProtocolError("value", detail=f"{key} {text!r} is not ISO 8601") from None


def moment(spec: dict[str, Any], key: str) -> datetime:
    return parse_time(require(spec, key), key)


def _convert(fmt: AnyFormat, value: Any) -> object:
    if value is None:
        return None
    if isinstance(fmt, Clock) and isinstance(value, str):
        try:
            if "Y" not in fmt.layout:
                return time.fromisoformat(value)
            if "h" not in fmt.layout:
                return date.fromisoformat(value)
            return datetime.fromisoformat(value)
        except ValueError:
            raise ProtocolError("value", detail=f"{value!r} is not an ISO date / time") from None
    if isinstance(fmt, Composite | Block) and isinstance(value, Sequence) and not isinstance(value, str):
        parts = fmt.parts if isinstance(fmt, Composite) else [fmt.element] * len(value)
        if len(parts) != len(value):
            raise ProtocolError("value", detail=f"expected {len(parts)} values, got {len(value)}")
        return tuple(_convert(p, v) for p, v in zip(parts, value, strict=True))
    return value


def value_for_di(spec: dict[str, Any], di: int, edition: int = 2007) -> object:
    """The write value of ``di``: ``"raw"`` hex bytes, or ``"value"`` in the DI's format."""
    if "raw" in spec:
        try:
            return bytes.fromhex(string_field(spec, "raw"))
        except ValueError:
            raise ProtocolError("value", detail="raw must be hex") from None
    item = spec_for(di, edition)
    if item is None:
        raise ProtocolError("unsupported", detail=f"DI {di:08X} is not in the registry; give \"raw\"")
    return _convert(item.fmt, require(spec, "value"))
