"""CJ/T 188-2004 water / gas / heat meter frames: decode, encode, build.

``decode_frame(raw) -> Frame188`` / ``encode_frame(frame) -> bytes``; builders for
reads, valve control and time writing (and the meter's replies, for the simulator).
"""

from emms_protocol.cjt188.bodies import AddressBody, Body188, StatusReply, TimeWrite, ValveCommand
from emms_protocol.cjt188.builders import (
    address_reply,
    error_reply,
    read_address,
    read_reply,
    read_request,
    valve_command,
    write_address,
    write_reply,
    write_time,
)
from emms_protocol.cjt188.frame import WILDCARD, Frame188, decode_frame, encode_frame, split_frame
from emms_protocol.cjt188.layouts import HeatData, Quantity, Status188, WaterGasData, status_word
from emms_protocol.cjt188.meter_types import ELECTRICITY, GAS, HEAT, WATER_COLD, utility

__all__ = [
    "ELECTRICITY",
    "GAS",
    "HEAT",
    "WATER_COLD",
    "WILDCARD",
    "AddressBody",
    "Body188",
    "Frame188",
    "HeatData",
    "Quantity",
    "Status188",
    "StatusReply",
    "TimeWrite",
    "ValveCommand",
    "WaterGasData",
    "address_reply",
    "decode_frame",
    "encode_frame",
    "error_reply",
    "read_address",
    "read_reply",
    "read_request",
    "split_frame",
    "status_word",
    "utility",
    "valve_command",
    "write_address",
    "write_reply",
    "write_time",
]
