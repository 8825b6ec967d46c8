"""A point's local communication scheme (R-4.6.7): master data's when it names one, else the port's by convention."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from emms_collector.intake.manifest import point_rows
from emms_collector.local_scheme import derived_scheme, scheme_of
from emms_messages.masterdata import LOCAL_SCHEMES


@pytest.mark.parametrize(("port", "protocol", "expected"), [
    (1, "ac-sampling", "ac-sampling"),
    (1, "dlt645-2007", "ac-sampling"),
    (2, "cjt188-2004", "rs485"),
    (17, "dlt645-2007", "rs485"),
    (30, "dlt645-2007", "rs485"),
    (31, "dlt645-2007", "plc"),
    ("31", "dlt645-2007", "plc"),
    (None, "ac-sampling", "ac-sampling"),
    (None, "dlt645-2007", None),
    (0, "dlt645-2007", None),
    (32, "dlt645-2007", None),
    (True, "dlt645-2007", None),
])
def test_the_port_gives_the_scheme_by_convention(port: object, protocol: str, expected: str | None) -> None:
    assert derived_scheme(port, protocol) == expected
    assert scheme_of(None, port, protocol) == expected


@pytest.mark.parametrize("declared", LOCAL_SCHEMES)
def test_what_master_data_declares_wins_over_the_port(declared: str) -> None:
    assert scheme_of(declared, 31, "dlt645-2007") == declared
    assert scheme_of(declared.upper(), None, "cjt188-2004") == declared


def test_a_scheme_outside_the_vocabulary_is_not_taken() -> None:
    assert scheme_of("carrier", 31, "dlt645-2007") == "plc"
    assert scheme_of("", 3, "cjt188-2004") == "rs485"
    assert scheme_of(7, None, "dlt645-2007") is None


def test_the_vocabulary_is_the_one_the_archive_stores() -> None:
    assert LOCAL_SCHEMES == ("plc", "hplc", "rf", "rs485", "mbus", "ac-sampling")


def test_manifest_points_carry_the_declared_scheme_and_leave_the_rest_to_the_port() -> None:
    doc = {"terminals": [{"key": "3701-00001", "meters": [
        {"pn": 1, "meter_id": "m-1", "utility": "electricity", "protocol": "dlt645-2007", "port": 31,
         "local_scheme": "hplc", "address": "000000000001", "installed_at": "2024-01-01T00:00:00+00:00"},
        {"pn": 2, "meter_id": "m-2", "utility": "water", "protocol": "cjt188-2004", "port": 2,
         "address": "00000000000002", "installed_at": "2024-01-01T00:00:00+00:00"},
    ]}]}
    rows = {r["meter_id"]: r for r in point_rows(doc, datetime(2026, 1, 1, tzinfo=UTC))}
    assert rows["m-1"]["local_scheme"] == "hplc"
    assert rows["m-2"]["local_scheme"] is None and rows["m-2"]["port"] == 2  # the point table derives rs485
