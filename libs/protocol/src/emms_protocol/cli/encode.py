"""``emms-proto encode``: the master's downlink frames from JSON requests.

One JSON object (or a list of them) in, one hex line per frame out. The
schema is documented in :data:`SCHEMA_HELP` (shown by ``emms-proto encode --help``)
and in docs/protocol-dlt645-cjt188.md.
"""

from __future__ import annotations

from typing import Any

from emms_protocol import cjt188, dlt645
from emms_protocol.cli.encode_1376 import encode_1376
from emms_protocol.cli.values import int_field, moment, optional_int, require, string_field, value_for_di
from emms_protocol.errors import ProtocolError

SCHEMA_HELP = """\
JSON request schema (one object, or a list of objects → one hex line each).
Common keys: "protocol" ("1376.1" | "645" | "645-1997" | "188"), "op" (default "read"),
"preamble" (number of FE wake-up bytes, 645/188 only, default 0). Integers may be given
as JSON numbers or hex strings ("0C", "901F"); times as ISO 8601 ("2024-05-01T12:00:00+08:00";
naive = meter/terminal wall clock, CST) or "now".

DL/T 645-2007  {"protocol":"645", "address":"151230011061", ...}  (address: 12 digits A5..A0)
  read            "di":"00010000"
  read_follow_up  "di", "seq"
  write           "di", "value" (number | list for blocks | ISO time | digits) or "raw":"hex",
                  "password":"02000000" (PA P2 P1 P0), "operator":"00000000"
  control         "action": trip | allow_close | close | alarm | alarm_release | keep_power |
                  keep_power_release, "password", "operator", "valid_until" (default 2099-12-30)
  time_sync       "time" (address defaults to 999999999999, broadcast)
  freeze          "minute", "hour", "day", "month" (omitted = 99 wildcard; none = freeze now)
  read_address    (no address: sent to AAAAAAAAAAAA)
DL/T 645-1997  {"protocol":"645-1997", "op":"read", "address", "di":"9010"}
CJ/T 188  {"protocol":"188", "meter_type":"10", "address":"00000805000001", "seq":0,
           "di_order":"auto" | "le" | "be"}
  read            "di" (default "901F")
  valve           "action": open | close
  write_time      "time", "time_layout": ss_first | year_first
  read_address    (wildcard type and address)
  write_address   "new_address"
Q/GDW 1376.1  {"protocol":"1376.1", "terminal":"3701-00012", "seq":0, "master":0, ...}
  read (default)  "afn":12, "units":[{"pn":1, "fn":129}], optional "pw" (hex, 16 bytes),
                  "tp":true (add a time label). A unit may carry "value": a typed object
                  {"type":"ClassName", ...fields} as `decode` prints it, {"raw":"hex"},
                  an ISO time or a number — this is how sets (AFN 04) are written.
  time_sync       "time" (AFN 05 F31)
  trip            "pn" (round, default 1), "limit_half_hours", "alarm_delay_min" (AFN 05 F1)
  allow_close     "pn" (AFN 05 F2)
  forward         "port" (default 1), "frame": {a 645 / 188 request as above} or "frame_hex",
                  "control_word" (default "6B" = 2400 8E1), "frame_timeout" (default "BC"),
                  "byte_timeout" (default "0A")  (AFN 10 F1)
Examples:
  {"protocol":"645","address":"151230011061","di":"00010000"}
  {"protocol":"1376.1","terminal":"3701-00012","afn":12,"units":[{"pn":1,"fn":129}]}
  {"protocol":"1376.1","terminal":"3701-00012","op":"forward","port":31,
   "frame":{"protocol":"645","address":"151230011061","di":"00010000"}}
"""

def _di(spec: dict[str, Any], width: int, default: int | None = None) -> int:
    if "di" not in spec and default is not None:
        return default
    di = int_field(spec, "di")
    if not 0 <= di < 256**width:
        raise ProtocolError("value", detail=f"di must fit {width} bytes")
    return di


def _645(spec: dict[str, Any], op: str, preamble: int) -> bytes:
    if op == "read_address":
        return dlt645.read_address(preamble=preamble)
    if op == "time_sync":
        return dlt645.broadcast_time_sync(moment(spec, "time"), address=string_field(spec, "address",
                                                                                       dlt645.BROADCAST),
                                          preamble=preamble)
    if op == "freeze":
        return dlt645.freeze(string_field(spec, "address", dlt645.BROADCAST), minute=optional_int(spec, "minute"),
                             hour=optional_int(spec, "hour"), day=optional_int(spec, "day"),
                             month=optional_int(spec, "month"), preamble=preamble)
    address = string_field(spec, "address")
    if op == "read":
        return dlt645.read_request(address, _di(spec, 4), preamble=preamble)
    if op == "read_follow_up":
        return dlt645.read_follow_up(address, _di(spec, 4), int_field(spec, "seq"), preamble=preamble)
    if op == "write":
        di = _di(spec, 4)
        return dlt645.write_request(address, di, value_for_di(spec, di), password=string_field(spec, "password"),
                                    operator=string_field(spec, "operator", "00000000"), preamble=preamble)
    if op == "control":
        until = moment(spec, "valid_until") if "valid_until" in spec else dlt645.builders.FOREVER
        return dlt645.control_command(address, string_field(spec, "action"), string_field(spec, "password"),
                                      string_field(spec, "operator", "00000000"), until, preamble=preamble)
    raise ProtocolError("value", detail=f"645 op {op!r} is not one of read, read_follow_up, write, control, "
                                        "time_sync, freeze, read_address")


def _188(spec: dict[str, Any], op: str, preamble: int) -> bytes:
    seq = int_field(spec, "seq", 0)
    order = string_field(spec, "di_order", "auto")
    if op == "read_address":
        return cjt188.read_address(seq=seq, di_order=order, preamble=preamble)
    meter_type = int_field(spec, "meter_type")
    address = string_field(spec, "address")
    if op == "read":
        return cjt188.read_request(meter_type, address, _di(spec, 2, 0x901F), seq=seq, di_order=order,
                                   preamble=preamble)
    if op == "valve":
        return cjt188.valve_command(meter_type, address, string_field(spec, "action"), seq=seq, di_order=order,
                                    preamble=preamble)
    if op == "write_time":
        return cjt188.write_time(meter_type, address, moment(spec, "time"), seq=seq, di_order=order,
                                 time_layout=string_field(spec, "time_layout", "ss_first"), preamble=preamble)
    if op == "write_address":
        return cjt188.write_address(meter_type, address, string_field(spec, "new_address"), seq=seq,
                                    di_order=order, preamble=preamble)
    raise ProtocolError("value", detail=f"188 op {op!r} is not one of read, valve, write_time, read_address, "
                                        "write_address")


def encode_request(spec: Any) -> bytes:
    """The wire bytes of one JSON request; ProtocolError with a clear detail when it is malformed."""
    if not isinstance(spec, dict):
        raise ProtocolError("value", detail="each request must be a JSON object")
    protocol = str(require(spec, "protocol"))
    op = string_field(spec, "op", "read")
    preamble = int_field(spec, "preamble", 0)
    if not 0 <= preamble <= 16:
        raise ProtocolError("value", detail="preamble must be 0..16")
    if protocol in ("645", "645-2007", "dlt645"):
        return _645(spec, op, preamble)
    if protocol in ("645-1997", "dlt645-1997"):
        if op != "read":
            raise ProtocolError("value", detail="645-1997 supports op read only")
        return dlt645.read_request_1997(string_field(spec, "address"), _di(spec, 2), preamble=preamble)
    if protocol in ("188", "cjt188"):
        return _188(spec, op, preamble)
    if protocol in ("1376.1", "1376", "gdw1376"):
        return encode_1376(spec, op, encode_request)
    raise ProtocolError("value", detail=f"protocol {protocol!r} is not 1376.1, 645, 645-1997 or 188")
