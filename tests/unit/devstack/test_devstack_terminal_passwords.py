"""``make up`` loads the simulated terminals' own passwords into master data, right after the terminals."""

from __future__ import annotations

import json
from pathlib import Path

from emms_devstack.seed_masterdata import plan_from_manifest, terminal_id
from emms_sim.fleet import FieldRates, Fleet, FleetConfig
from emms_sim.manifest import write_manifest


def test_the_plan_carries_every_terminals_password(tmp_path: Path) -> None:
    fleet = Fleet(FleetConfig(seed=3, concentrators=4, meters_per=2, rates=FieldRates.quiet(), own_passwords=True))
    write_manifest(fleet, tmp_path / "fleet.json")
    manifest = json.loads((tmp_path / "fleet.json").read_text())
    plan = plan_from_manifest(manifest)
    assert plan.passwords == [{"terminal_id": terminal_id(t["key"]), "password_hex": fleet.password(i).hex()}
                              for i, t in enumerate(manifest["terminals"])]
    assert {r["id"] for r in dict(plan.imports)["terminals"]} == {r["terminal_id"] for r in plan.passwords}


def test_a_fleet_with_the_factory_password_loads_none(tmp_path: Path) -> None:
    write_manifest(Fleet(FleetConfig(seed=3, concentrators=2, meters_per=2)), tmp_path / "fleet.json")
    assert plan_from_manifest(json.loads((tmp_path / "fleet.json").read_text())).passwords == []
