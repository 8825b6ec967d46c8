"""Terminal parameters as values: which Fn may be set, their JSON form, comparison, and the answers' units.

A parameter is kept in the JSON view of ``emms_protocol.gdw1376.json_view`` (tagged:
``{"type": "UplinkCommParams", "heartbeat_min": 5, …}``) — the form the FEP encodes a
downlink unit from and the form the read-back decodes to, so desired and reported compare
as JSON. The measurement-point table (F10) is compared per record: a pushed record is in
place when the read-back holds the same measurement point, port, protocol and address
under its serial number; a deletion (pn 0) when the serial is gone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from emms_collector.reading.answers import TypedFrame
from emms_protocol.errors import ProtocolError
from emms_protocol.gdw1376.afn04_0a import (
    MasterAddress,
    MeterConfig,
    MeterRecord,
    PointBasicParams,
    TerminalAddress,
    UplinkCommParams,
)
from emms_protocol.gdw1376.codec import DEFAULT_OPTIONS
from emms_protocol.gdw1376.json_view import from_jsonable, to_jsonable
from emms_protocol.gdw1376.purchase import EnergyRates
from emms_protocol.gdw1376.registry import lookup
from emms_protocol.gdw1376.tariff import TariffPeriods

SETTABLE: Mapping[int, type] = {1: UplinkCommParams, 3: MasterAddress, 10: MeterConfig, 21: TariffPeriods,
                                22: EnergyRates, 25: PointBasicParams, 89: TerminalAddress}
"""Fn of AFN04 / AFN0A the master manages (p0), with the value class each takes (F21 / F22: the tariff in
force, :mod:`emms_collector.terminal_config.tariff`)."""
READ_ON_FIRST_CONNECT = (1, 3, 10, 21, 22)
"""What is read from a new terminal that logs in for the first time (with its version, AFN09 F1); every
terminal's F21 / F22 are also read at its first login (``tariff_read``)."""

#: AFN04 F10 protocol codes (30 = DL/T 645-2007; 32 the regional code the fleet uses for CJ/T 188).
PROTOCOL_CODE = {"dlt645-2007": 30, "dlt645-1997": 1, "cjt188-2004": 32}
PROTOCOL_OF_CODE = {30: "dlt645-2007", 1: "dlt645-1997", 32: "cjt188-2004"}
NO_ADDRESS = "000000000000"


class BadParameter(ValueError):
    """A value the master refuses to send (wrong Fn, wrong type, out of range)."""


def canonical(fn: int, value: Any) -> dict[str, Any]:
    """The JSON form of a parameter after the codec's own checks (so the stored value is what is sent)."""
    kind = SETTABLE.get(fn)
    if kind is None:
        raise BadParameter(f"F{fn} is not a managed parameter; managed: {sorted(SETTABLE)}")
    if isinstance(value, dict) and "type" not in value:
        value = {"type": kind.__name__, **value}
    try:
        decoded = from_jsonable(value)
    except (ProtocolError, ValueError, TypeError, KeyError, AttributeError, OverflowError) as exc:
        raise BadParameter(f"F{fn}: {exc}") from None
    if not isinstance(decoded, kind):
        raise BadParameter(f"F{fn} takes a {kind.__name__}, not {type(decoded).__name__}")
    codec = lookup(0x04, 0, fn)
    assert codec is not None, f"no AFN04 codec for managed F{fn}"
    try:
        codec.encode(decoded, DEFAULT_OPTIONS)
    except (ProtocolError, ValueError, TypeError, OverflowError) as exc:
        raise BadParameter(f"F{fn}: {exc}") from None
    out = to_jsonable(decoded)
    assert isinstance(out, dict)
    return out


def record(serial: int, pn: int, port: int, protocol: str, address: str) -> dict[str, Any]:
    """One F10 record in JSON form (pn 0: delete the record with this serial number)."""
    code = PROTOCOL_CODE.get(protocol, 30)
    addr = (address or NO_ADDRESS)[-12:].rjust(12, "0")
    value = to_jsonable(MeterRecord(serial, pn, port if 1 <= port <= 31 else 31, 0, code, addr, NO_ADDRESS, 4, 6, 2,
                                    NO_ADDRESS, 0, 0))
    assert isinstance(value, dict)
    return value


def table(records: Iterable[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "MeterConfig", "records": list(records)}


def reported_units(frames: Iterable[TypedFrame], afn: int) -> dict[int, Any]:
    """The values of an answer's data units by Fn (JSON form)."""
    out: dict[int, Any] = {}
    for frame in frames:
        if frame.afn != afn:
            continue
        for unit in frame.units:
            out[unit.fn] = to_jsonable(unit.value)
    return out


def records_of(value: Any) -> list[dict[str, Any]]:
    """F10 records (JSON) → plain dicts ``serial, pn, port, protocol, address``."""
    if not isinstance(value, dict):
        return []
    return [{"serial": r["serial"], "pn": r["pn"], "port": r["port"], "protocol": r["protocol"],
             "address": str(r["address"]).lower()} for r in value.get("records", [])]


def same(fn: int, desired: Any, reported: Any) -> bool:
    """Whether the read-back shows the desired value in place."""
    if fn != 10:
        return bool(desired == reported)
    held = {r["serial"]: r for r in records_of(reported)}
    for want in records_of(desired):
        got = held.get(want["serial"])
        if want["pn"] == 0:
            if got is not None:
                return False
        elif got is None or any(got[k] != want[k] for k in ("pn", "port", "protocol", "address")):
            return False
    return True


def differences(fn: int, desired: Any, reported: Any) -> list[str]:
    """What differs, for people (field names of the parameter, or F10 serials)."""
    if fn == 10:
        return [] if same(fn, desired, reported) else ["measurement-point table"]
    if not isinstance(desired, dict) or not isinstance(reported, dict):
        return ["value"]
    return sorted(k for k in set(desired) | set(reported) if desired.get(k) != reported.get(k))
