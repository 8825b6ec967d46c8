"""Master-data CRUD over HTTP: validation with clear 4xx reasons, idempotent upserts, soft
removal, composite keys, paging, audit and bus publication (R-4.6.4, R-4.6.10, R-4.2.4)."""

from __future__ import annotations

import httpx
import pytest
from archive_harness import ADMIN, OPERATOR, VIEWER, ChangeWatch, seed_reference, token

pytestmark = [pytest.mark.integration, pytest.mark.both_storage_modes]


async def test_categories_are_the_22_of_table_2(api: httpx.AsyncClient) -> None:
    cats = (await api.get("/api/v1/categories", headers=VIEWER)).json()
    assert len(cats) == 22
    per = {u: sum(c["utility"] == u for c in cats) for u in ("electricity", "water", "gas", "heat")}
    assert per == {"electricity": 6, "water": 5, "gas": 5, "heat": 6}


async def test_create_update_remove_a_customer(api: httpx.AsyncClient, run_id: str,
                                               change_watch: ChangeWatch) -> None:
    ids = await seed_reference(api, run_id)
    customer = {"id": f"K-{run_id}", "name": "Heating plant", "utility": "heat", "category": "h_source_plant",
                "industry": "energy", "company_id": ids["company"], "region_id": ids["district"]}
    made = await api.post("/api/v1/customers", json=customer, headers=OPERATOR)
    assert made.status_code == 201, made.text
    assert made.json()["record"]["party_id"] == customer["id"]  # a customer is its own party unless linked
    assert (await api.post("/api/v1/customers", json=customer, headers=OPERATOR)).status_code == 409

    same = await api.put(f"/api/v1/customers/{customer['id']}", json=customer, headers=OPERATOR)
    assert same.status_code == 200 and same.json()["changes"] == []  # nothing differs: nothing changes
    renamed = await api.put(f"/api/v1/customers/{customer['id']}", json={**customer, "name": "Plant 2"},
                            headers=OPERATOR)
    assert [c["action"] for c in renamed.json()["changes"]] == ["updated"]
    assert (await api.get(f"/api/v1/customers/{customer['id']}", headers=VIEWER)).json()["name"] == "Plant 2"

    gone = await api.delete(f"/api/v1/customers/{customer['id']}", headers=OPERATOR)
    assert gone.json()["removed"] is True
    assert (await api.get(f"/api/v1/customers/{customer['id']}", headers=VIEWER)).json()["status"] == "removed"
    kinds = [c.kind for c in await change_watch.wait_for(lambda c: c.entity_id == customer["id"], count=3)]
    assert kinds == ["created", "updated", "removed"]


@pytest.mark.parametrize(("change", "status", "reason"), [
    ({"category": "e_residential"}, 422, "belongs to electricity"),
    ({"category": "nonsense"}, 422, "unknown category"),
    ({"utility": "steam"}, 422, "utility"),
    ({"region_id": "NOWHERE"}, 422, "no such region"),
    ({"company_id": "NOBODY"}, 422, "no such company"),
    ({"id": "bad id with spaces"}, 422, "id"),
    ({"colour": "blue"}, 422, "colour"),
])
async def test_invalid_customers_are_422_with_the_reason(api: httpx.AsyncClient, run_id: str,
                                                         change: dict[str, str], status: int, reason: str) -> None:
    ids = await seed_reference(api, run_id)
    customer = {"id": f"X-{run_id}", "name": "x", "utility": "water", "category": "w_residential",
                "company_id": ids["company"], "region_id": ids["district"], **change}
    resp = await api.post("/api/v1/customers", json=customer, headers=OPERATOR)
    assert resp.status_code == status, resp.text
    assert reason in str(resp.json())  # FastAPI's body errors carry the reason in "errors"


async def test_company_must_serve_the_region_for_the_utility(api: httpx.AsyncClient, run_id: str) -> None:
    ids = await seed_reference(api, run_id, utilities=("electricity",))
    customer = {"id": f"G-{run_id}", "name": "x", "utility": "gas", "category": "g_residential",
                "company_id": ids["company"], "region_id": ids["district"]}
    resp = await api.post("/api/v1/customers", json=customer, headers=OPERATOR)
    assert resp.status_code == 422 and "does not serve region" in resp.json()["detail"]
    area = {"company_id": ids["company"], "region_id": ids["region"], "utility": "gas"}
    assert (await api.post("/api/v1/service-areas", json=area, headers=OPERATOR)).status_code == 201
    assert (await api.post("/api/v1/customers", json=customer, headers=OPERATOR)).status_code == 201
    key = f"{ids['company']}/{ids['region']}/gas"
    assert (await api.get(f"/api/v1/service-areas/{key}", headers=VIEWER)).json()["utility"] == "gas"
    assert (await api.delete(f"/api/v1/service-areas/{key}", headers=OPERATOR)).json()["removed"] is True
    assert (await api.get(f"/api/v1/service-areas/{key}", headers=VIEWER)).status_code == 404


async def test_regions_in_levels_and_network_topology(api: httpx.AsyncClient, run_id: str) -> None:
    ids = await seed_reference(api, run_id)
    wrong = {"id": f"R-{run_id}-9", "name": "x", "parent_id": ids["district"], "level": 2}
    resp = await api.post("/api/v1/regions", json=wrong, headers=OPERATOR)
    assert resp.status_code == 422 and "should be 3" in resp.json()["detail"]
    nodes = [{"id": f"L-{run_id}", "utility": "electricity", "kind": "line", "name": "10 kV line 1",
              "company_id": ids["company"]},
             {"id": f"TR-{run_id}", "utility": "electricity", "kind": "transformer", "name": "T1",
              "parent_id": f"L-{run_id}", "company_id": ids["company"]},
             {"id": f"B-{run_id}", "utility": "electricity", "kind": "building", "name": "Block 3",
              "parent_id": f"TR-{run_id}", "company_id": ids["company"]}]
    assert (await api.post("/api/v1/import/network-nodes", json=nodes, headers=OPERATOR)).status_code == 200
    bad = {**nodes[0], "id": f"H-{run_id}", "kind": "heat_exchange_station"}
    resp = await api.post("/api/v1/network-nodes", json=bad, headers=OPERATOR)
    assert resp.status_code == 422 and "not a electricity network element" in str(resp.json()["errors"])
    page = await api.get("/api/v1/network-nodes", params={"company_id": ids["company"], "limit": 2}, headers=VIEWER)
    assert page.json()["count"] == 2 and page.json()["next_after"]
    rest = await api.get("/api/v1/network-nodes", headers=VIEWER,
                         params={"company_id": ids["company"], "limit": 2, "after": page.json()["next_after"]})
    assert rest.json()["count"] == 1
    unknown = await api.get("/api/v1/network-nodes", params={"colour": "red"}, headers=VIEWER)
    assert unknown.status_code == 422 and "unknown filter" in unknown.json()["detail"]


async def test_groups_and_scope_of_lists(api: httpx.AsyncClient, run_id: str) -> None:
    ids = await seed_reference(api, run_id)
    customer = {"id": f"GC-{run_id}", "name": "x", "utility": "water", "category": "w_residential",
                "company_id": ids["company"], "region_id": ids["district"]}
    assert (await api.post("/api/v1/customers", json=customer, headers=ADMIN)).status_code == 201
    group = {"id": f"GR-{run_id}", "name": "key customers", "company_id": ids["company"]}
    assert (await api.post("/api/v1/groups", json=group, headers=OPERATOR)).status_code == 201
    member = {"group_id": group["id"], "member_kind": "customer", "member_id": customer["id"]}
    assert (await api.post("/api/v1/group-members", json=member, headers=OPERATOR)).status_code == 201
    ghost = {**member, "member_id": "NOBODY"}
    resp = await api.post("/api/v1/group-members", json=ghost, headers=OPERATOR)
    assert resp.status_code == 422 and "no such customer" in resp.json()["detail"]
    outsider = token("viewer", "elsewhere", companies=("ELSEWHERE",))
    assert (await api.get("/api/v1/customers", params={"id": customer["id"]}, headers=outsider)).json()["rows"] == []
    assert (await api.get(f"/api/v1/groups/{group['id']}", headers=outsider)).status_code == 403
    assert (await api.post("/api/v1/groups", json={**group, "id": f"GX-{run_id}"}, headers=VIEWER)).status_code == 403
