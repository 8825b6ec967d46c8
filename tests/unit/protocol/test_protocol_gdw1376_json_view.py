"""The one JSON view of decoded values, both ways: round trips, one tagging rule, lower-case hex, a closed registry."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
from datetime import date, datetime
from pathlib import Path

import pytest

import emms_protocol
from emms_protocol import ProtocolError
from emms_protocol.gdw1376 import (
    DEVICE_TZ,
    Address,
    DataUnit,
    RawData,
    afn0c,
    afn0c_harmonics,
    afn0d_curves,
    afn0d_voltage_stats,
    afn0e,
    afn00,
    afn04_0a,
    afn05,
    afn09,
    afn10,
    builders,
    control_state,
    decode_frame,
    decode_units,
    encode_frame,
    energy_blocks,
    purchase,
    tariff,
)
from emms_protocol.gdw1376.json_view import (
    VALUE_TYPES,
    frame_view,
    from_jsonable,
    to_jsonable,
    unit_from_json,
    units_from_view,
)

TM = datetime(2026, 3, 2, 9, 15, tzinfo=DEVICE_TZ)
REPLY_645 = bytes.fromhex("68 61 10 01 30 12 15 68 91 08 33 33 34 33 AB 39 33 33 49 16")
REPLY = afn10.ForwardReply(31, REPLY_645, *afn10.decode_inner(REPLY_645))
REG = energy_blocks.Register(10.5, (1.0, None, 3.0, 6.5))
RECORDS = (afn0e.EventRecord.build(12, TM, bytes((0x01, 0x80))), afn0e.EventRecord.build(3, TM, bytes(3)),
           afn0e.EventRecord(14, TM, afn0e.PowerEvent(TM, None), bytes.fromhex("AB") * 10))
VALUES: list[object] = [
    energy_blocks.EnergyReading(TM, 12.34, (1.0, 2.0, None), date(2026, 3, 1)),
    energy_blocks.ForwardEnergies(TM, REG, REG, REG, REG, date(2026, 3, 1)),
    energy_blocks.ReverseEnergies(None, REG, REG, REG, REG),
    afn0e.EventBatch(2, 0, 0, 3, RECORDS),
    afn0e.EventRequest(0, 5),
    afn10.ForwardReply(31, REPLY_645),
    afn10.ForwardRequest(31, 0x6B, 0xBC, 0x0A, REPLY_645),
    afn00.PerUnitAck(0x0C, (afn00.UnitAck(1, 129, True), afn00.UnitAck(2, 129, False))),
    afn04_0a.MeterConfig((afn04_0a.MeterRecord(1, 1, 2, 2400, 30, "000000000001", "000000", 4, 6, 2, "", 0, 0),)),
    afn05.TripCommand(3, 4),
    afn05.ProtectCommand(48),
    afn09.VersionInfo("ABCD", "00000001", "V1.0", date(2024, 1, 2), "0001", "V2", "H1", None),
    afn0c.SettlementInfo(TM, 1.0, (0.5, 0.5), None, ()),
    TM, date(2026, 3, 1), 42, None,
]


@pytest.mark.parametrize("value", VALUES, ids=lambda v: type(v).__name__)
def test_every_value_survives_the_json_round_trip(value: object) -> None:
    text = json.dumps(to_jsonable(value))
    back = from_jsonable(json.loads(text))
    assert back == value and type(back) is type(value)


def test_forwarded_frames_are_recomputed_from_the_bytes_not_trusted_from_json() -> None:
    view = to_jsonable(REPLY)
    assert view["inner"]["type"] == "Frame645" and view["inner_protocol"] == "dlt645"
    view["inner"] = {"forged": True}
    back = from_jsonable(view)
    assert isinstance(back, afn10.ForwardReply) and back.inner.address == "151230011061"


def test_one_tagging_rule_and_lower_case_hex_at_every_depth() -> None:
    view = to_jsonable(afn0e.EventBatch(2, 0, 0, 3, RECORDS))
    assert view["type"] == "EventBatch" and [r["type"] for r in view["records"]] == ["EventRecord"] * 3
    assert view["records"][0]["detail"] == {"type": "PointEvent", "pn": 1, "started": True}
    assert view["records"][2]["data"] == "ab" * 10
    inner = to_jsonable(REPLY)["inner"]
    assert inner["data"] == inner["data"].lower() and inner["body"]["type"] == "ReadReply"


def test_units_and_frames_read_back_to_what_the_codec_decoded() -> None:
    request = builders.request(Address(0x3701, 1), 0x0D, [], 5)
    units = [DataUnit(1, 161, VALUES[0]), DataUnit(2, 1, VALUES[1])]
    frame = decode_frame(encode_frame(builders.response(request, units)))
    view = json.loads(json.dumps(frame_view(frame)))
    assert view["units"][0]["type"] == "EnergyReading" and view["units"][0]["value"]["type"] == "EnergyReading"
    assert units_from_view(view) == (0x0D, decode_units(frame), 0)
    raw = {"pn": 3, "fn": 250, "type": "RawData", "raw": "0a0b"}
    assert unit_from_json(raw, 0x0C) == DataUnit(3, 250, RawData(0x0C, 250, 3, b"\x0a\x0b"))
    # The unit's tag may stand beside an untagged value (requests written by hand, older views).
    hand = {"pn": 1, "fn": 1, "type": "TripCommand", "value": {"limit_half_hours": 1, "alarm_delay_min": 2}}
    assert unit_from_json(hand, 0x05).value == afn05.TripCommand(1, 2)


@pytest.mark.parametrize(("raw", "why"), [
    ({"type": "NoSuchType"}, "no 1376.1 value type"),
    ({"type": "TripCommand", "bogus": 1}, "has no field"),
    ({"type": "UnitAck", "pn": 1}, "UnitAck"),
    ({"type": "ForwardReply", "port": 1, "payload": "zz"}, "not hex"),
])
def test_what_does_not_fit_a_class_is_a_protocol_error(raw: dict[str, object], why: str) -> None:
    with pytest.raises(ProtocolError, match=why):
        from_jsonable(raw)
    view = {"afn": 5, "units": [{"pn": 0, "fn": 1, "value": raw}]}
    assert units_from_view(view) == (5, [], 1)


def test_now_only_in_request_data() -> None:
    now = datetime(2026, 3, 2, 1, 2, 3, 456, tzinfo=DEVICE_TZ)
    assert from_jsonable("now", now=now) == now.replace(microsecond=0)
    assert from_jsonable("now") == "now"


def test_the_registry_holds_every_value_class_of_the_codec_under_a_stable_tag() -> None:
    modules = (afn00, afn04_0a, afn05, afn09, afn0c, afn0d_curves, afn0e, afn10, energy_blocks, purchase,
               control_state, afn0c_harmonics, afn0d_voltage_stats, tariff)
    defined = {cls for m in modules for cls in vars(m).values()
               if isinstance(cls, type) and dataclasses.is_dataclass(cls) and cls.__module__ == m.__name__}
    assert set(VALUE_TYPES.values()) == defined | {RawData}
    # The tags are the bus format: changing one is a format change (and this list with it).
    assert sorted(VALUE_TYPES) == sorted([
        "UnitAck", "PerUnitAck", "UplinkCommParams", "MasterAddress", "MeterRecord", "MeterConfig",
        "MeterConfigQuery", "PointBasicParams", "TerminalAddress", "EventConfig", "TripCommand", "ProtectCommand",
        "VersionInfo",
        "PowerQuality",
        "PurchaseInfo", "SettlementInfo", "EventRequest", "EventBatch", "EventRecord", "VersionChange", "PowerEvent",
        "PointEvent", "SerialSettings", "ForwardRequest", "ForwardReply", "Register", "EnergyReading",
        "ForwardEnergies", "ReverseEnergies", "CurveTag", "Curve", "EnergyRates", "PurchaseControl", "RemainingAmount",
        "ControlState", "GroupControlState", "RawData",
        "HarmonicRms", "HarmonicContent", "DailyVoltageStats", "PhaseVoltageStats", "TariffPeriods"])


def _import_consumers_against(package: Path) -> subprocess.CompletedProcess[str]:
    code = ("import emms_protocol, emms_fep.wire, emms_collector.reading.answers, emms_collector.intake.events; "
            "print(emms_protocol.__file__)")
    env = {**os.environ, "PYTHONPATH": str(package.parent)}
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)


def test_renaming_a_protocol_class_fails_at_import_not_when_a_frame_arrives(tmp_path: Path) -> None:
    """Issue #21: a rename inside emms_protocol.gdw1376 used to surface in the collector only at run time."""
    copy = tmp_path / "src" / "emms_protocol"
    shutil.copytree(Path(emms_protocol.__file__).parent, copy, ignore=shutil.ignore_patterns("__pycache__"))
    untouched = _import_consumers_against(copy)
    assert untouched.returncode == 0, untouched.stderr
    assert untouched.stdout.strip().startswith(str(copy))  # the copy, not the installed package, was imported
    module = copy / "gdw1376" / "afn0e.py"
    module.write_text(module.read_text().replace("PointEvent", "PointRecord"))  # a consistent rename in its module
    renamed = _import_consumers_against(copy)
    assert renamed.returncode != 0
    assert "ImportError" in renamed.stderr and "PointEvent" in renamed.stderr
