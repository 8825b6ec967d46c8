"""A customer's contracted capacity through the archive's API, stored and published with the customer's change
(R-4.5.4.2: key customers are chosen by it in analytics)."""

from __future__ import annotations

import httpx
import pytest
from archive_harness import OPERATOR, VIEWER, ChangeWatch, seed_reference

pytestmark = [pytest.mark.integration, pytest.mark.both_storage_modes]


async def test_contracted_capacity_is_stored_and_published(api: httpx.AsyncClient, run_id: str,
                                                           change_watch: ChangeWatch) -> None:
    ids = await seed_reference(api, run_id)
    customer = {"id": f"CC-{run_id}", "name": "Foundry", "utility": "electricity", "category": "e_large_dedicated",
                "company_id": ids["company"], "region_id": ids["district"], "contracted_capacity_kva": 2500}
    made = await api.post("/api/v1/customers", json=customer, headers=OPERATOR)
    assert made.status_code == 201, made.text
    raised = await api.put(f"/api/v1/customers/{customer['id']}", json={**customer, "contracted_capacity_kva": 3150},
                           headers=OPERATOR)
    assert raised.status_code == 200 and [c["action"] for c in raised.json()["changes"]] == ["updated"]
    got = await api.get(f"/api/v1/customers/{customer['id']}", headers=VIEWER)
    assert got.json()["contracted_capacity_kva"] == 3150
    changes = await change_watch.wait_for(lambda c: c.entity_id == customer["id"], count=2)
    assert [c.data.get("contracted_capacity_kva") for c in changes] == [2500, 3150]
    bad = await api.post("/api/v1/customers", json={**customer, "id": f"CD-{run_id}", "contracted_capacity_kva": -5},
                         headers=OPERATOR)
    assert bad.status_code == 422 and "contracted_capacity_kva" in bad.text
