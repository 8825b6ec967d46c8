"""DL/T 645-2007 (and basic 645-1997) electricity-meter frames: decode, encode, build.

``decode_frame(raw) -> Frame645`` / ``encode_frame(frame) -> bytes``; builders for
the master's requests and the meter's replies; the DI registry in
:mod:`emms_protocol.dlt645.di_registry`.
"""

from emms_protocol.dlt645.bodies import (
    AddressBody,
    Body645,
    ControlCommand,
    ErrorReply,
    FreezeCommand,
    ReadReply,
    ReadRequest,
    TimeSync,
    WriteRequest,
)
from emms_protocol.dlt645.builders import (
    ack_reply,
    address_reply,
    broadcast_time_sync,
    control_command,
    error_reply,
    freeze,
    read_address,
    read_follow_up,
    read_reply,
    read_reply_1997,
    read_request,
    read_request_1997,
    write_request,
)
from emms_protocol.dlt645.di_registry import DataItem645, lookup
from emms_protocol.dlt645.frame import BROADCAST, WILDCARD, Frame645, decode_frame, encode_frame, split_frame

__all__ = [
    "BROADCAST",
    "WILDCARD",
    "AddressBody",
    "Body645",
    "ControlCommand",
    "DataItem645",
    "ErrorReply",
    "Frame645",
    "FreezeCommand",
    "ReadReply",
    "ReadRequest",
    "TimeSync",
    "WriteRequest",
    "ack_reply",
    "address_reply",
    "broadcast_time_sync",
    "control_command",
    "decode_frame",
    "encode_frame",
    "error_reply",
    "freeze",
    "lookup",
    "read_address",
    "read_follow_up",
    "read_reply",
    "read_reply_1997",
    "read_request",
    "read_request_1997",
    "split_frame",
    "write_request",
]
