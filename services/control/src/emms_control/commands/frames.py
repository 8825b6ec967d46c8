"""The downlink requests of each step of each action, built with the protocol library's codecs.

Electricity (relay): trip / allow close through the concentrator's AFN 05 F1 / F2 on the meter's
measurement point (the terminal executes; a protected terminal refuses); direct close as a DL/T 645
control frame (1CH, N1 = 1CH) forwarded in AFN 10 F1 (a meter with no pn is tripped the same way,
N1 1AH / 1BH). Valves (water / gas / heat): a CJ/T 188 valve command forwarded in AFN 10 F1.
Protect on / off: AFN 05 F25 (duration in half hours) / F33 to the terminal.
Verification reads the state back through AFN 10 F1: the 645 status word 3 (04000503, bit 4 relay
open) or the 188 current data (901F, its status word's valve bits).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from emms_control.commands.actions import Action
from emms_control.repository.devices import Device
from emms_messages.terminal import DataUnitRequest
from emms_protocol import cjt188, dlt645
from emms_protocol.gdw1376.afn10 import control_word

METER_TYPE_188 = {"water": cjt188.WATER_COLD, "gas": cjt188.GAS, "heat": cjt188.HEAT}
SERIAL = control_word(2400, "even")
FRAME_TIMEOUT = 0x80 | 5  # 5 s
BYTE_TIMEOUT = 10  # 100 ms
STATUS_WORD_3 = 0x04000503
CURRENT_DATA_188 = 0x901F
PASSWORD_645 = "02000000"  # level 02, the plaintext password (no ESAM here; docs/control.md)
OPERATOR_645 = "00000000"
CONTROL_VALIDITY = timedelta(minutes=10)


class NoFrame(ValueError):
    """The device's master data cannot make the frame (no address, no pn…)."""


def _forward(device: Device, payload: bytes) -> list[DataUnitRequest]:
    value = {"type": "ForwardRequest", "port": device.port or (31 if device.utility == "electricity" else 2),
             "control": SERIAL, "frame_timeout": FRAME_TIMEOUT, "byte_timeout": BYTE_TIMEOUT,
             "payload": payload.hex()}
    return [DataUnitRequest(pn=[0], fn=[1], data={"value": value})]


def _meter_type(device: Device) -> int:
    if device.utility not in METER_TYPE_188:
        raise NoFrame(f"meter {device.meter_id}: no CJ/T 188 meter type for utility {device.utility!r}")
    return METER_TYPE_188[device.utility]


def _address(device: Device) -> str:
    if not device.meter_address:
        raise NoFrame(f"meter {device.meter_id} has no meter address in master data")
    return device.meter_address


def command_units(action: Action, device: Device | None, params: dict[str, Any], now: datetime
                  ) -> tuple[int, list[DataUnitRequest]]:
    """(AFN, units) of the command step. ``device`` None for a terminal-wide action."""
    if action is Action.PROTECT_ON:
        half = int(params.get("duration_half_hours", 0))
        return 0x05, [DataUnitRequest(pn=[0], fn=[25], data={"value": {"type": "ProtectCommand",
                                                                          "duration_half_hours": half}})]
    if action is Action.PROTECT_OFF:
        return 0x05, [DataUnitRequest(pn=[0], fn=[33], data={})]
    if action is Action.OPERATION:
        return int(params["afn"]), [DataUnitRequest.model_validate(u) for u in params["units"]]
    if device is None:
        raise NoFrame(f"{action.value} needs a meter")
    if action in (Action.TRIP, Action.ALLOW_CLOSE) and device.pn:
        fn = 1 if action is Action.TRIP else 2
        data = {"value": {"type": "TripCommand", "limit_half_hours": 0, "alarm_delay_min": 0}} if fn == 1 else {}
        return 0x05, [DataUnitRequest(pn=[device.pn], fn=[fn], data=data)]
    if action in (Action.TRIP, Action.ALLOW_CLOSE, Action.DIRECT_CLOSE):
        code = {Action.TRIP: "trip", Action.ALLOW_CLOSE: "allow_close", Action.DIRECT_CLOSE: "close"}[action]
        valid = (now + CONTROL_VALIDITY).replace(tzinfo=None, microsecond=0)
        payload = dlt645.control_command(_address(device), code, PASSWORD_645, OPERATOR_645, valid, preamble=4)
        return 0x10, _forward(device, payload)
    if action in (Action.VALVE_CLOSE, Action.VALVE_OPEN):
        payload = cjt188.valve_command(_meter_type(device), _address(device),
                                       "close" if action is Action.VALVE_CLOSE else "open", preamble=2)
        return 0x10, _forward(device, payload)
    raise NoFrame(f"no frame for {action.value}")


def verify_units(action: Action, device: Device | None, params: dict[str, Any]
                 ) -> tuple[int, list[DataUnitRequest]] | None:
    """(AFN, units) of the read-back step; None when the action has none (the final state is ``confirmed``)."""
    if action is Action.OPERATION:
        verify = params.get("verify")
        if not verify:
            return None
        return int(verify["afn"]), [DataUnitRequest.model_validate(u) for u in verify["units"]]
    if action in (Action.PROTECT_ON, Action.PROTECT_OFF):  # the terminal's control settings state (AFN0C F5)
        return 0x0C, [DataUnitRequest(pn=[0], fn=[5])]
    if device is None:
        return None
    if action in (Action.TRIP, Action.ALLOW_CLOSE, Action.DIRECT_CLOSE):
        return 0x10, _forward(device, dlt645.read_request(_address(device), STATUS_WORD_3, preamble=4))
    return 0x10, _forward(device, cjt188.read_request(_meter_type(device), _address(device), CURRENT_DATA_188,
                                                      preamble=2))
