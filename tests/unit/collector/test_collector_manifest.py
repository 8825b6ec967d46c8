"""The simulator's manifest as points, and terminal addresses from the archive."""

from __future__ import annotations

from datetime import UTC, datetime

from emms_collector.intake.manifest import point_rows
from emms_collector.intake.masterdata import terminal_key

DOC = {"terminals": [{"key": "3701-00001", "a1": "3701", "meters": [
    {"pn": 1, "meter_id": "m-000000-0001", "utility": "electricity", "protocol": "dlt645-2007", "port": 31,
     "address": "000000000100", "installed_at": "2024-01-01T00:00:00+00:00", "removed_at": None,
     "replacements": [{"at": "2026-01-01T00:00:00+00:00", "old_address": "000000000100",
                       "new_address": "000000000101"}]},
    {"pn": 2, "meter_id": "m-000000-0002", "utility": "water", "protocol": "cjt188-2004", "port": 2,
     "address": "00000000000200", "installed_at": "2024-01-01T00:00:00+00:00",
     "removed_at": "2025-06-01T00:00:00+00:00", "replacements": []},
    {"pn": 3, "meter_id": "m-000000-0003", "utility": "gas", "protocol": "cjt188-2004", "port": 2,
     "address": "00000000000300", "installed_at": "2027-01-01T00:00:00+00:00", "removed_at": None,
     "replacements": []},
]}]}


def test_manifest_rows_follow_installs_removals_and_replacements() -> None:
    rows = {r["meter_id"]: r for r in point_rows(DOC, datetime(2026, 6, 1, tzinfo=UTC))}
    assert rows["m-000000-0001"]["active"] and rows["m-000000-0001"]["meter_address"] == "000000000101"
    assert rows["m-000000-0001"]["terminal"] == "3701-00001" and rows["m-000000-0001"]["port"] == 31
    assert not rows["m-000000-0002"]["active"]  # removed
    assert not rows["m-000000-0003"]["active"]  # not installed yet
    before = {r["meter_id"]: r for r in point_rows(DOC, datetime(2025, 1, 1, tzinfo=UTC))}
    assert before["m-000000-0001"]["meter_address"] == "000000000100" and before["m-000000-0002"]["active"]


def test_terminal_addresses_of_the_archive_become_bus_addresses() -> None:
    assert terminal_key("3701-00012") == "3701-00012"
    assert terminal_key("3701000C") == "3701-00012"
    assert terminal_key("370100") is None and terminal_key(None) is None
