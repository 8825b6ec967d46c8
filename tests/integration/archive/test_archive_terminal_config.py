"""The terminal's archive (R-4.6.3): model, vendor, serial number, firmware / hardware versions, uplink channel and
SIM, install place and date — kept with the terminal's master data, set through the API and the CSV import,
validated with reasons, and published on ``emms.masterdata.change.v1`` like every master-data change."""

from __future__ import annotations

import httpx
import pytest
from archive_harness import ADMIN, OPERATOR, VIEWER, ChangeWatch, seed_reference

pytestmark = [pytest.mark.integration, pytest.mark.both_storage_modes]

ARCHIVE = {"model": "DJGZ23", "vendor": "Acme Metering", "serial_number": "SN-0042", "firmware": "3.21",
           "hardware_version": "B1", "channel": "4g", "sim_iccid": "89860012345678901234",
           "sim_msisdn": "+8613800000000", "install_place": "Transformer room 3, Building 7",
           "installed_at": "2026-03-01T08:00:00+08:00"}


async def test_a_terminals_archive_is_kept_and_published(api: httpx.AsyncClient, run_id: str,
                                                          change_watch: ChangeWatch) -> None:
    ids = await seed_reference(api, run_id)
    terminal = {"id": f"TA-{run_id}", "kind": "concentrator", "address": f"{int(run_id, 16) % 10_000:04d}9999",
                "company_id": ids["company"], "region_id": ids["district"], **ARCHIVE}
    made = await api.post("/api/v1/terminals", json=terminal, headers=OPERATOR)
    assert made.status_code == 201, made.text
    got = (await api.get(f"/api/v1/terminals/{terminal['id']}", headers=VIEWER)).json()
    assert {k: got[k] for k in ARCHIVE if k != "installed_at"} == {k: v for k, v in ARCHIVE.items()
                                                                  if k != "installed_at"}
    assert got["installed_at"].startswith("2026-03-01T00:00:00")  # stored as an instant (UTC)
    created = await change_watch.wait_for(lambda c: c.entity_id == terminal["id"])
    assert created[0].data["firmware"] == "3.21" and created[0].data["sim_iccid"] == ARCHIVE["sim_iccid"]

    upgraded = await api.put(f"/api/v1/terminals/{terminal['id']}", json={**terminal, "firmware": "3.22"},
                             headers=OPERATOR)
    assert upgraded.status_code == 200, upgraded.text
    changes = await change_watch.wait_for(lambda c: c.entity_id == terminal["id"] and c.kind == "updated")
    assert changes[0].data["changed_fields"] == ["firmware"] and changes[0].data["firmware"] == "3.22"


async def test_the_archive_comes_in_by_csv_import(api: httpx.AsyncClient, run_id: str) -> None:
    ids = await seed_reference(api, run_id)
    header = "id,kind,address,company_id,region_id,vendor,firmware,channel,sim_iccid,install_place"
    line = (f"TI-{run_id},concentrator,{int(run_id, 16) % 10_000:04d}8888,{ids['company']},{ids['district']},"
            "Acme,2.0,gprs,8986001234567890123,Pole 12")
    resp = await api.post("/api/v1/import/terminals", content=f"{header}\n{line}".encode(),
                          headers={**ADMIN, "Content-Type": "text/csv"})
    assert resp.status_code == 200, resp.text
    got = (await api.get(f"/api/v1/terminals/TI-{run_id}", headers=VIEWER)).json()
    assert (got["vendor"], got["firmware"], got["channel"], got["install_place"]) == ("Acme", "2.0", "gprs", "Pole 12")


@pytest.mark.parametrize(("change", "reason"), [
    ({"channel": "carrier-pigeon"}, "channel"),
    ({"sim_iccid": "12ab"}, "sim_iccid"),
    ({"sim_msisdn": "call me"}, "sim_msisdn"),
    ({"installed_at": "2026-03-01T08:00:00"}, "installed_at"),  # an instant needs its zone
    ({"firmware": "x" * 65}, "firmware"),
])
async def test_a_bad_archive_field_is_422_with_the_reason(api: httpx.AsyncClient, run_id: str,
                                                           change: dict[str, str], reason: str) -> None:
    ids = await seed_reference(api, run_id)
    terminal = {"id": f"TB-{run_id}", "kind": "concentrator", "address": f"{int(run_id, 16) % 10_000:04d}7777",
                "company_id": ids["company"], "region_id": ids["district"], **ARCHIVE, **change}
    resp = await api.post("/api/v1/terminals", json=terminal, headers=OPERATOR)
    assert resp.status_code == 422, resp.text
    assert reason in resp.text
