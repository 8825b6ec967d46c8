"""The fleet manifest becomes archive imports that the archive's own row models accept."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from emms_archive.masterdata.models import Customer, CustomerMeterRow, NetworkNode, Terminal
from emms_collector.tasks.model import TaskBody
from emms_devstack.seed_masterdata import curve_task, plan_from_manifest, point_id


def _manifest(tmp_path: Path) -> dict[str, object]:
    path = tmp_path / "fleet.json"
    subprocess.run([sys.executable, "-m", "emms_sim.cli", "manifest", str(path), "--concentrators", "20",
                    "--meters-per", "50", "--seed", "1"], check=True, capture_output=True, timeout=120)
    data: dict[str, object] = json.loads(path.read_text())
    return data


def test_every_current_meter_becomes_a_valid_customer_meter_row(tmp_path: Path) -> None:
    manifest = _manifest(tmp_path)
    now = datetime(2026, 11, 25, tzinfo=UTC)
    plan = plan_from_manifest(manifest, now)
    imports = dict(plan.imports)
    terminals = [Terminal.model_validate(r) for r in imports["terminals"]]
    assert len(terminals) == 20 and terminals[0].address == "3701-00001"
    rows = [CustomerMeterRow.model_validate(r) for r in imports["customer-meters"]]
    meters = [m for t in manifest["terminals"] for m in t["meters"]]  # type: ignore[index, attr-defined]
    current = [m for m in meters if datetime.fromisoformat(m["installed_at"]) <= now
               and not (m["removed_at"] and datetime.fromisoformat(m["removed_at"]) <= now)]
    assert len(rows) == len(current) and plan.meters == len(current)
    assert {r.utility for r in rows} == {"electricity", "water", "gas", "heat"}
    assert len({(r.terminal_id, r.pn) for r in rows}) == len(rows)  # one point per measurement point number
    assert plan.replaced > 0 and sum(r.meter_id.endswith("-r1") for r in rows) == plan.replaced
    assert all(r.installed_at <= now for r in rows)


def test_every_row_carries_the_local_scheme_the_simulator_gives_its_meter(tmp_path: Path) -> None:
    """R-4.6.7: ``make up`` loads each point's local communication scheme: 645 meters through concentrator i's
    module (narrowband carrier, broadband carrier, wireless for i mod 3 = 0, 1, 2), 188 meters over M-Bus."""
    manifest = _manifest(tmp_path)
    plan = plan_from_manifest(manifest, datetime(2026, 11, 25, tzinfo=UTC))
    rows = [CustomerMeterRow.model_validate(r) for r in dict(plan.imports)["customer-meters"]]
    index = {t["key"]: t["index"] for t in manifest["terminals"]}  # type: ignore[attr-defined]
    for row in rows:
        _, point, _ = row.split()
        terminal = row.metering_point_id.removeprefix("MP-").rsplit("-", 1)[0]
        expected = ("plc", "hplc", "rf")[index[terminal] % 3] if row.protocol == "dlt645-2007" else "mbus"
        assert point.local_scheme == expected, row
    assert {r.local_scheme for r in rows} == {"plc", "hplc", "rf", "mbus"}


def test_the_row_names_the_meter_installed_now() -> None:
    manifest = {"terminals": [{"key": "3701-00001", "meters": [{
        "pn": 7, "meter_id": "m-1", "utility": "electricity", "kind": "commercial-3p", "protocol": "dlt645-2007",
        "port": 31, "address": "000000000700", "installed_at": "2024-01-01T00:00:00+00:00", "removed_at": None,
        "replacements": [{"at": "2025-01-01T00:00:00+00:00", "old_address": "000000000700",
                          "new_address": "000000000701"},
                         {"at": "2027-01-01T00:00:00+00:00", "old_address": "000000000701",
                          "new_address": "000000000702"}]}]}]}
    plan = plan_from_manifest(manifest, datetime(2026, 1, 1, tzinfo=UTC))
    (row,) = dict(plan.imports)["customer-meters"]
    assert (row["meter_id"], row["meter_address"], row["installed_at"]) == (
        "m-1-r1", "000000000701", "2025-01-01T00:00:00+00:00")  # the 2027 replacement is left to happen
    assert row["metering_point_id"] == point_id("3701-00001", 7) and plan.replaced == 1
    assert row["category"] == "e_lv_three_phase" and row["register_digits"] == 6


def test_heat_customers_are_placed_on_floors_and_a_curve_task_reads_electricity(tmp_path: Path) -> None:
    manifest = _manifest(tmp_path)
    imports = dict(plan_from_manifest(manifest, datetime(2026, 6, 1, tzinfo=UTC)).imports)
    nodes = [NetworkNode.model_validate(r) for r in imports["network-nodes"]]
    kinds = {n.id: n.kind for n in nodes}
    heat = [Customer.model_validate(r) for r in imports["customers"]]
    assert heat and all(c.utility == "heat" and kinds[str(c.node_id)] == "floor" and c.heated_area_m2 for c in heat)
    assert {"heat_exchange_station", "area", "building", "unit", "floor"} <= set(kinds.values())
    task = curve_task(manifest)
    assert task is not None and TaskBody.model_validate(task).type.value == "curve"
