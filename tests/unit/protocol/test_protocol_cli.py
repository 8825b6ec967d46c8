"""``emms-proto`` as installed in .venv: JSON Lines out, exit codes 0 / 1 / 2, never a traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emms_protocol import ProtocolError, cjt188, dlt645
from emms_protocol.detect import detect, parse_hex, scan

EMMS_PROTO = Path(sys.prefix) / "bin" / "emms-proto"
if not EMMS_PROTO.exists():  # running outside the project venv
    EMMS_PROTO = Path(__file__).resolve().parents[3] / ".venv" / "bin" / "emms-proto"

READ_REPLY_645 = "68 61 10 01 30 12 15 68 91 08 33 33 34 33 AB 39 33 33 49 16"
REPLY_188 = ("FE FE FE 68 10 01 00 00 05 08 00 00 81 16 90 1F 00 00 23 01 00 2C 00 00 00 00 2C 00 00 00 00 00 "
             "00 00 00 00 48 16")
AFN10_REPLY = ("68 AE 00 AE 00 68 A8 00 02 34 12 04 10 E0 00 00 01 00 1F 14 00 68 61 10 01 30 12 15 68 91 08 33 33 "
               "34 33 AB 39 33 33 49 16 4F 00 00 06 50 23 21 05 AE 16")
LOGIN_1376 = "68 32 00 32 00 68 C9 71 01 22 08 00 02 78 00 00 01 00 E0 16"


def run(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    result = subprocess.run([str(EMMS_PROTO), *args], input=stdin, capture_output=True, text=True, timeout=60,
                            check=False)
    assert "Traceback" not in result.stderr
    return result


def lines(result: subprocess.CompletedProcess[str]) -> list[dict[str, object]]:
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_decode_several_frames_with_garbage_and_preambles() -> None:
    result = run("decode", "00 68 11 FE FE " + READ_REPLY_645.replace(" ", ""), "AA 16 " + REPLY_188 + " 99")
    assert result.returncode == 0, result.stderr
    first, second = lines(result)
    assert (first["protocol"], first["offset"], first["preamble"], first["address"]) == ("645", 5, 2, "151230011061")
    body = first["body"]
    assert isinstance(body, dict)
    assert (body["di_code"], body["value"], body["unit"]) == ("00010000", 6.78, "kWh")
    assert first["items"] == [{"code": "energy.active.import.total", "value": 6.78, "unit": "kWh"}]
    assert (second["protocol"], second["preamble"], second["di_code"], second["di_order"]) == ("188", 3, "901F", "be")
    assert {"code": "water.volume", "value": 123.0, "unit": "m³"} in second["items"]  # type: ignore[operator]
    assert '"value": 6.78' in result.stdout  # a JSON number, not a string


def test_decode_1376_with_nested_645() -> None:
    result = run("decode", AFN10_REPLY, LOGIN_1376)
    assert result.returncode == 0, result.stderr
    forward, login = lines(result)
    assert (forward["protocol"], forward["afn"], login["protocol"], login["afn"]) == ("1376.1", 16, "1376.1", 2)
    units = forward["units"]
    assert isinstance(units, list)
    inner = units[0]["value"]["inner"]
    assert inner["body"]["value"] == 6.78
    assert inner["items"] == [{"code": "energy.active.import.total", "value": 6.78, "unit": "kWh"}]


def test_decode_reads_stdin() -> None:
    result = run("decode", "-", stdin=READ_REPLY_645 + "\n")
    assert result.returncode == 0
    assert len(lines(result)) == 1


def test_decode_nothing_found_exits_1_with_one_line() -> None:
    result = run("decode", "00 11 22 68 16")
    assert result.returncode == 1
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1
    assert "no 1376.1, 645 or 188 frame" in result.stderr


def test_decode_checksum_valid_but_malformed_exits_1() -> None:
    bad = dlt645.encode_frame(dlt645.Frame645("151230011061", 0x91, bytes.fromhex("00000100") + b"\x01"))
    result = run("decode", bad.hex())
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1
    assert "not decoded" in result.stderr


@pytest.mark.parametrize("args", [(), ("decode",), ("decode", "zz"), ("decode", "123"), ("frobnicate",),
                                  ("encode", "{not json")])
def test_usage_errors_exit_2(args: tuple[str, ...]) -> None:
    assert run(*args).returncode == 2


def test_encode_645_188_and_1376_requests() -> None:
    requests = [
        {"protocol": "645", "address": "151230011061", "di": "00010000"},
        {"protocol": "645", "op": "control", "address": "151230011061", "action": "allow_close",
         "password": "02020637", "operator": "00000001", "valid_until": "2099-12-30T00:00:00"},
        {"protocol": "645-1997", "address": "000000000414", "di": "9010", "preamble": 3},
        {"protocol": "188", "meter_type": "10", "address": "00000805000001"},
        {"protocol": "188", "op": "valve", "meter_type": 16, "address": "00000805000001", "action": "close"},
        {"protocol": "645", "op": "time_sync", "time": "2024-05-01T04:00:00+00:00"},
        {"protocol": "1376.1", "terminal": "3701-00012", "afn": 12, "units": [{"pn": 1, "fn": 129}]},
        {"protocol": "1376.1", "terminal": "3701-00012", "op": "forward", "port": 31,
         "frame": {"protocol": "645", "address": "151230011061", "di": "00010000"}},
    ]
    result = run("encode", json.dumps(requests))
    assert result.returncode == 0, result.stderr
    out = [bytes.fromhex(line) for line in result.stdout.splitlines()]
    assert out[0] == parse_hex("68 61 10 01 30 12 15 68 11 04 33 33 34 33 7B 16")
    assert out[1] == parse_hex("68 61 10 01 30 12 15 68 1C 10 35 6A 39 35 34 33 33 33 4E 33 33 33 33 63 45 CC 2D 16")
    assert out[2] == parse_hex("FE FE FE 68 14 04 00 00 00 00 68 01 02 43 C3 F1 16")
    assert out[3] == parse_hex("68 10 01 00 00 05 08 00 00 01 03 1F 90 00 39 16")
    valve = cjt188.decode_frame(out[4])
    assert isinstance(valve.body, cjt188.ValveCommand)
    assert valve.body.action == "close"
    sync = dlt645.decode_frame(out[5])
    assert isinstance(sync.body, dlt645.TimeSync) and sync.body.time is not None
    assert (sync.address, sync.body.time.hour) == (dlt645.BROADCAST, 12)
    assert [f.protocol for f in scan(out[6] + out[7])] == ["1376.1", "1376.1"]
    assert parse_hex("68 61 10 01 30 12 15 68 11 04 33 33 34 33 7B 16") in out[7]


def test_encode_then_decode_round_trip_through_the_cli() -> None:
    encoded = run("encode", json.dumps({"protocol": "645", "op": "write", "address": "151230011061",
                                        "di": "04000101", "value": "2024-05-01", "password": "02000000"}))
    assert encoded.returncode == 0
    decoded = lines(run("decode", encoded.stdout))
    body = decoded[0]["body"]
    assert isinstance(body, dict)
    assert (decoded[0]["function"], body["value"]) == ("write", "2024-05-01")


@pytest.mark.parametrize("request_json", [
    '{"protocol":"645"}', '{"protocol":"645","address":"1512","di":"00010000"}', '{"protocol":"x"}',
    '{"protocol":"645","op":"control","address":"151230011061","action":"boom","password":"02000000"}',
    '{"protocol":"188","op":"valve","meter_type":"10","address":"00000805000001","action":"ajar"}', "[]", "7"])
def test_encode_bad_request_exits_1_with_one_line(request_json: str) -> None:
    result = run("encode", request_json)
    assert result.returncode == 1
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1


def test_encode_help_documents_the_schema() -> None:
    result = run("encode", "--help")
    assert result.returncode == 0
    for word in ("read_follow_up", "valve", "write_time", "forward", "time_sync", "di_order", "1376.1"):
        assert word in result.stdout


# ---- detect: the scanner behind `decode` --------------------------------------------------------

_FRAMES = [parse_hex(READ_REPLY_645), parse_hex(REPLY_188).lstrip(b"\xfe"), parse_hex(AFN10_REPLY),
           parse_hex(LOGIN_1376), dlt645.read_request_1997("000000000414", 0x9010),
           cjt188.valve_command(0x10, "00000805000001", "open")]
_PROTOCOLS = ["645", "188", "1376.1", "1376.1", "645", "188"]


@settings(max_examples=200, deadline=None)
@given(order=st.permutations(list(range(len(_FRAMES)))),
       noise=st.lists(st.binary(max_size=12).map(lambda b: b.replace(b"\x68", b"\x69")), min_size=7, max_size=7),
       preambles=st.lists(st.integers(0, 4), min_size=6, max_size=6))
def test_scan_finds_every_frame_between_noise(order: list[int], noise: list[bytes], preambles: list[int]) -> None:
    blob = b"".join(noise[i] + b"\xfe" * preambles[i] + _FRAMES[k] for i, k in enumerate(order)) + noise[6]
    found = scan(blob)
    assert [f.raw for f in found] == [_FRAMES[k] for k in order]
    assert [f.protocol for f in found] == [_PROTOCOLS[k] for k in order]
    for f in found:
        assert blob[f.start : f.end] == f.raw


def test_detect_single_frames_and_hex_parsing() -> None:
    for raw, protocol in zip(_FRAMES, _PROTOCOLS, strict=True):
        assert detect(b"\xfe\xfe" + raw) == protocol
    assert detect(_FRAMES[0] + b"\x00") is None
    assert detect(b"") is None
    assert parse_hex("0x68,0x16; fe-FE\n00") == bytes.fromhex("6816FEFE00")
    with pytest.raises(ProtocolError):
        parse_hex("68 1")
    with pytest.raises(ProtocolError):
        parse_hex("68 GG")


def test_1376_units_printed_by_decode_encode_back_to_the_same_frame() -> None:
    first = run("encode", json.dumps({"protocol": "1376.1", "terminal": "3701-00012", "afn": 5, "units": [
        {"pn": 1, "fn": 1, "value": {"type": "TripCommand", "limit_half_hours": 2, "alarm_delay_min": 1}}]}))
    assert first.returncode == 0, first.stderr
    decoded = lines(run("decode", first.stdout))[0]
    again = run("encode", json.dumps({"protocol": "1376.1", "terminal": "3701-00012", "afn": 5,
                                      "units": decoded["units"]}))
    assert again.returncode == 0, again.stderr
    assert again.stdout == first.stdout
    unknown = run("encode", json.dumps({"protocol": "1376.1", "terminal": "3701-00012", "afn": 5,
                                        "units": [{"pn": 1, "fn": 1, "value": {"type": "NoSuchType"}}]}))
    assert unknown.returncode == 1
    assert "NoSuchType" in unknown.stderr


def test_encode_daily_frozen_request_carries_its_date_and_refuses_unknown_keys() -> None:
    spec = {"protocol": "1376.1", "terminal": "3701-00012", "afn": 13,
            "units": [{"pn": 3, "fn": 161, "date": "2026-11-24"}]}
    encoded = run("encode", json.dumps(spec))
    assert encoded.returncode == 0, encoded.stderr
    (frame,) = lines(run("decode", encoded.stdout.strip()))
    units = frame["units"]
    assert isinstance(units, list) and units[0]["value"] == "2026-11-24" and units[0]["pn"] == 3
    spec["units"] = [{"pn": 3, "fn": 161, "dat": "2026-11-24"}]
    refused = run("encode", json.dumps(spec))
    assert refused.returncode == 1 and "dat" in refused.stderr and "Traceback" not in refused.stderr
