"""A metering point's local communication scheme (R-4.6.7) through the archive's API and import: stored, refused
outside the vocabulary (422 naming the allowed values), and published with the port in the metering point's and
the installation's changes — what the collector breaks its success rates down by."""

from __future__ import annotations

import httpx
import pytest
from archive_harness import OPERATOR, VIEWER, ChangeWatch, customer_meter_rows, seed_reference

from emms_messages.masterdata import LOCAL_SCHEMES

pytestmark = [pytest.mark.integration, pytest.mark.both_storage_modes]


async def test_the_local_scheme_is_stored_validated_and_published(api: httpx.AsyncClient, run_id: str,
                                                                   change_watch: ChangeWatch) -> None:
    ids = await seed_reference(api, run_id)
    rows = customer_meter_rows(ids, run_id, 3)
    rows[0].update(port=31, local_scheme="hplc")
    rows[1].update(port=2, local_scheme="mbus")
    rows[2].update(port=31)  # master data does not say: the collector derives it from the port
    wrong = [{**rows[0], "local_scheme": "carrier"}]
    refused = await api.post("/api/v1/import/customer-meters", json=wrong, headers=OPERATOR)
    assert refused.status_code == 422 and "local_scheme" in refused.text
    assert all(f"'{s}'" in refused.text for s in LOCAL_SCHEMES), refused.text
    assert (await api.get(f"/api/v1/metering-points/{rows[0]['metering_point_id']}",
                          headers=VIEWER)).status_code == 404  # nothing was written
    loaded = await api.post("/api/v1/import/customer-meters", json=rows, headers=OPERATOR)
    assert loaded.status_code == 200, loaded.text

    points = [r["metering_point_id"] for r in rows]
    installed = await change_watch.wait_for(lambda c: c.entity == "meter_installation" and c.entity_id in points,
                                            count=3)
    assert {c.entity_id: (c.data["port"], c.data["local_scheme"]) for c in installed} == {
        points[0]: (31, "hplc"), points[1]: (2, "mbus"), points[2]: (31, None)}

    got = await api.get(f"/api/v1/metering-points/{points[2]}", headers=VIEWER)
    assert got.status_code == 200 and got.json()["local_scheme"] is None
    body = {"id": points[2], "customer_id": rows[2]["customer_id"], "utility": "electricity",
            "terminal_id": rows[2]["terminal_id"], "pn": rows[2]["pn"], "port": 31, "local_scheme": "rf"}
    changed = await api.put(f"/api/v1/metering-points/{points[2]}", json=body, headers=OPERATOR)
    assert changed.status_code == 200, changed.text
    assert (await api.get(f"/api/v1/metering-points/{points[2]}", headers=VIEWER)).json()["local_scheme"] == "rf"
    updated = await change_watch.wait_for(lambda c: c.entity == "metering_point" and c.entity_id == points[2]
                                          and c.kind == "updated")
    assert updated[0].data["local_scheme"] == "rf" and updated[0].data["port"] == 31

    bad = await api.put(f"/api/v1/metering-points/{points[2]}", json={**body, "local_scheme": "zigbee"},
                        headers=OPERATOR)
    assert bad.status_code == 422 and "local_scheme" in bad.text
    assert all(f"'{s}'" in bad.text for s in LOCAL_SCHEMES), bad.text
