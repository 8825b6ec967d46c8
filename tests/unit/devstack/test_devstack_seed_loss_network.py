"""``make up`` with the simulator's network: areas become archive nodes, rows sit on the area master data lists
them under, total / inlet meters are ``network`` customers with their CT ratio (what loss models are generated
from); the archive's own row models accept every import."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from emms_archive.masterdata.models import CustomerMeterRow, NetworkNode
from emms_devstack.seed_masterdata import plan_from_manifest


def test_the_network_manifest_seeds_nodes_heads_and_placements(tmp_path: Path) -> None:
    path = tmp_path / "fleet.json"
    subprocess.run([sys.executable, "-m", "emms_sim.cli", "manifest", str(path), "--concentrators", "10",
                    "--meters-per", "20", "--seed", "1", "--network"], check=True, capture_output=True, timeout=120)
    manifest = json.loads(path.read_text())
    plan = plan_from_manifest(manifest, datetime(2026, 11, 25, tzinfo=UTC))
    kinds = [k for k, _ in plan.imports]
    assert kinds.index("network-nodes") < kinds.index("customer-meters")
    nodes = [NetworkNode.model_validate(r) for k, rows in plan.imports if k == "network-nodes" for r in rows]
    rows = {r["customer_id"]: CustomerMeterRow.model_validate(r) for r in dict(plan.imports)["customer-meters"]}
    areas = [a for a in manifest["network"]["areas"] if a["utility"] != "heat"]
    assert {n.id for n in nodes} >= {a["id"] for a in areas}
    assert {n.kind for n in nodes if n.id.startswith(("WZ", "GZ"))} == {"pipe_network"}
    for area in areas:
        head = rows[f"C-{area['head_meter']}"]
        assert (head.category, head.multiplier, head.node_id) == ("network", area["ct_ratio"], area["id"])
        placed = {r.customer_id for r in rows.values() if r.node_id == area["id"]} - {head.customer_id}
        present = {f"C-{m}" for m in area["members"]} & set(rows)
        assert placed == present and placed  # the wrong assignments as listed
