"""A metering point's supply voltage level and a network node's rated capacity (R-4.5.3.1) through the archive's
API and import: stored, refused outside their bounds (a voltage level not nominal: 422 naming the levels), and
published in the master-data changes — what analytics groups electricity by (voltage level, transformer
capacity)."""

from __future__ import annotations

import httpx
import pytest
from archive_harness import OPERATOR, VIEWER, ChangeWatch, customer_meter_rows, seed_reference

pytestmark = [pytest.mark.integration, pytest.mark.both_storage_modes]


async def test_voltage_level_and_transformer_capacity_are_stored_checked_and_published(
        api: httpx.AsyncClient, run_id: str, change_watch: ChangeWatch) -> None:
    ids = await seed_reference(api, run_id)
    node = {"id": f"TX-{run_id}", "utility": "electricity", "kind": "transformer", "name": "Transformer 1",
            "company_id": ids["company"], "capacity_kva": 400}
    zero = await api.post("/api/v1/import/network-nodes", json=[{**node, "capacity_kva": 0}], headers=OPERATOR)
    assert zero.status_code == 422 and "capacity_kva" in zero.text
    made = await api.post("/api/v1/import/network-nodes", json=[node], headers=OPERATOR)
    assert made.status_code == 200, made.text
    published = await change_watch.wait_for(lambda c: c.entity == "network_node" and c.entity_id == node["id"])
    assert published[0].data["capacity_kva"] == 400

    rows = customer_meter_rows(ids, run_id, 2)
    rows[0].update(node_id=node["id"], voltage_level_kv=0.38)
    rows[1].update(node_id=node["id"], voltage_level_kv=0.4)  # not a nominal level
    refused = await api.post("/api/v1/import/customer-meters", json=rows, headers=OPERATOR)
    assert refused.status_code == 422 and "voltage_level_kv 0.4 is not a nominal level" in refused.text
    assert "0.22, 0.38, 6, 10" in refused.text
    rows[1]["voltage_level_kv"] = 10.0
    assert (await api.post("/api/v1/import/customer-meters", json=rows, headers=OPERATOR)).status_code == 200
    points = [r["metering_point_id"] for r in rows]
    changes = await change_watch.wait_for(lambda c: c.entity == "metering_point" and c.entity_id in points, count=2)
    assert {c.entity_id: c.data["voltage_level_kv"] for c in changes} == {points[0]: 0.38, points[1]: 10.0}
    got = await api.get(f"/api/v1/metering-points/{points[1]}", headers=VIEWER)
    assert got.status_code == 200 and got.json()["voltage_level_kv"] == 10.0
    body = {"id": points[1], "customer_id": rows[1]["customer_id"], "utility": "electricity",
            "terminal_id": rows[1]["terminal_id"], "pn": rows[1]["pn"], "voltage_level_kv": 35}
    assert (await api.put(f"/api/v1/metering-points/{points[1]}", json=body, headers=OPERATOR)).status_code == 200
    bad = await api.put(f"/api/v1/metering-points/{points[1]}", json={**body, "voltage_level_kv": 11},
                        headers=OPERATOR)
    assert bad.status_code == 422 and "voltage_level_kv 11" in bad.text
