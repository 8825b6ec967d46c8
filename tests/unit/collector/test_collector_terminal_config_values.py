"""Terminal parameters as values: canonical JSON form (the codec's checks), comparison of read-backs, F10 records."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from emms_collector.terminal_config import values
from emms_protocol.gdw1376.afn04_0a import UplinkCommParams
from emms_protocol.gdw1376.json_view import to_jsonable

F1 = st.builds(UplinkCommParams, st.integers(0, 255), st.integers(0, 255), st.integers(0, 4095), st.integers(0, 3),
               st.booleans(), st.booleans(), st.booleans(), st.integers(0, 255))


@given(F1)
def test_an_f1_value_is_kept_as_the_codec_would_send_it(value: UplinkCommParams) -> None:
    json = to_jsonable(value)
    untagged = {k: v for k, v in json.items() if k != "type"}
    assert values.canonical(1, untagged) == json  # the tag may be left out
    assert values.same(1, json, values.canonical(1, json))


@pytest.mark.parametrize(("fn", "value", "why"), [
    (7, {}, "not a managed parameter"),
    (1, {"type": "MasterAddress", "primary_ip": "1.2.3.4", "primary_port": 1, "backup_ip": "1.2.3.5",
         "backup_port": 2, "apn": "x"}, "takes a UplinkCommParams"),
    (1, {"rts_20ms": 0, "master_delay_min": 0, "response_timeout_s": 5000, "resend_count": 0,
         "confirm_class1": False, "confirm_class2": False, "confirm_class3": False, "heartbeat_min": 1},
     "out of range"),
    (3, {"primary_ip": "not-an-ip", "primary_port": 1, "backup_ip": "1.2.3.5", "backup_port": 2, "apn": "x"},
     "IPv4"),
])
def test_values_the_codec_refuses_are_bad_parameters(fn: int, value: dict[str, object], why: str) -> None:
    with pytest.raises(values.BadParameter, match=why):
        values.canonical(fn, value)


def test_a_table_push_is_in_place_when_each_record_is_held_and_each_deletion_gone() -> None:
    pushed = values.table([values.record(3, 3, 31, "dlt645-2007", "000000001234"), values.record(5, 0, 31, "", "")])
    held = values.table([values.record(3, 3, 31, "dlt645-2007", "000000001234"),
                         values.record(4, 4, 31, "dlt645-2007", "000000009999")])
    assert values.same(10, pushed, held)  # 4 is not the push's business; 5 is gone
    wrong_address = values.table([values.record(3, 3, 31, "dlt645-2007", "000000004321")])
    assert not values.same(10, pushed, wrong_address)
    still_there = values.table([*held["records"], values.record(5, 5, 31, "dlt645-2007", "000000000005")])
    assert not values.same(10, pushed, still_there)
    assert values.differences(10, pushed, wrong_address) == ["measurement-point table"]


def test_a_188_address_is_held_by_its_last_twelve_digits_and_the_protocol_coded() -> None:
    rec = values.record(2, 2, 2, "cjt188-2004", "10000000012345")
    assert rec["address"] == "000000012345" and rec["protocol"] == 32 and rec["port"] == 2
    assert values.records_of(values.table([rec]))[0]["address"] == "000000012345"


def test_differences_name_the_fields() -> None:
    a = values.canonical(1, to_jsonable(UplinkCommParams(0, 0, 30, 3, False, False, True, 5)))
    b = values.canonical(1, to_jsonable(UplinkCommParams(0, 0, 30, 3, False, False, True, 9)))
    assert values.differences(1, a, b) == ["heartbeat_min"]
    assert not values.same(1, a, b)
