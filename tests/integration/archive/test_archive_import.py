"""Batch import of master data: all or nothing with a per-row report, idempotent, audited and
published on the bus (R-4.6.4, R-4.2.4, R-4.6.10, R-4.6.5)."""

from __future__ import annotations

import asyncpg
import httpx
import pytest
from archive_harness import ADMIN, INTEGRATOR, VIEWER, ChangeWatch, customer_meter_rows, seed_reference

from emms_archive.backup.checksums import checksums
from emms_archive.backup.tables import BY_NAME

pytestmark = [pytest.mark.integration, pytest.mark.both_storage_modes]

MASTER = tuple(BY_NAME[n] for n in ("customer", "meter", "metering_point", "meter_period", "audit_log"))


async def _state(db: asyncpg.Connection) -> dict[str, object]:
    """Row checksums of the master tables and the audit log, and how many changes await the bus."""
    return {**await checksums(db, MASTER), "outbox": await db.fetchval("SELECT count(*) FROM archive.outbox")}


async def test_bad_rows_reject_the_whole_10000_row_import_with_a_report(
        api: httpx.AsyncClient, db: asyncpg.Connection, run_id: str) -> None:
    ids = await seed_reference(api, run_id)
    rows = customer_meter_rows(ids, run_id, 10_000)
    rows[17]["category"] = "w_residential"  # a water category on an electricity customer
    rows[4242]["region_id"] = "NO-SUCH-REGION"
    rows[5000]["installed_at"] = "2026-01-01T00:00:00"  # no UTC offset
    rows[7777]["pn"] = rows[7776]["pn"]  # two points on one terminal measurement point number
    rows[9999]["meter_address"] = ""  # empty cell → required field missing
    before = await _state(db)

    resp = await api.post("/api/v1/import/customer-meters", json=rows, headers=INTEGRATOR)

    assert resp.status_code == 422
    report = resp.json()
    assert report["accepted"] is False and report["rows"] == 10_000 and report["changes"] == 0
    assert "nothing was written" in report["detail"]
    by_row = {e["row"]: e for e in report["errors"]}
    assert set(by_row) == {18, 4243, 5001, 7778, 10_000}
    assert by_row[18]["field"] == "category" and "belongs to water" in by_row[18]["message"]
    assert "no such region" in by_row[4243]["message"]
    assert by_row[5001]["field"] == "installed_at"
    assert "pn" in by_row[7778]["field"] and "also given" in by_row[7778]["message"]
    assert by_row[10_000]["field"] == "meter_address"
    assert await _state(db) == before  # nothing half-written
    assert await db.fetchval("SELECT count(*) FROM archive.customer WHERE id LIKE $1", f"C-{run_id}-%") == 0


async def test_10000_rows_import_once_then_the_same_import_changes_nothing(
        api: httpx.AsyncClient, db: asyncpg.Connection, run_id: str, change_watch: ChangeWatch) -> None:
    ids = await seed_reference(api, run_id)
    rows = customer_meter_rows(ids, run_id, 10_000)

    first = await api.post("/api/v1/import/customer-meters", json=rows, headers=INTEGRATOR)
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["by_entity"] == {"customer": {"created": 10_000}, "meter": {"created": 10_000},
                                 "metering_point": {"created": 10_000}, "meter_installation": {"created": 10_000}}
    after_first = await _state(db)
    assert await db.fetchval("SELECT count(*) FROM archive.meter_period WHERE meter_id LIKE $1",
                             f"M-{run_id}-%") == 10_000

    second = await api.post("/api/v1/import/customer-meters", json=rows, headers=INTEGRATOR)
    assert second.status_code == 200, second.text
    assert second.json()["changes"] == 0 and second.json()["by_entity"] == {}
    assert await _state(db) == after_first  # same rows, same updated_at, no audit rows, no outbox rows

    # every change went to the audit log and onto the bus, with what the collector needs
    audited = await db.fetchval("SELECT count(*) FROM archive.audit_log WHERE actor = 'source-system'"
                                " AND entity_id LIKE ANY($1)", [f"C-{run_id}-%", f"M-{run_id}-%", f"MP-{run_id}-%"])
    assert audited == 40_000
    installs = await change_watch.wait_for(
        lambda c: c.entity == "meter_installation" and c.entity_id.startswith(f"MP-{run_id}-"), count=10_000)
    sample = next(c for c in installs if c.entity_id == f"MP-{run_id}-5")
    assert sample.kind == "created" and sample.changed_by == "source-system"
    assert sample.data["meter_id"] == f"M-{run_id}-5" and sample.data["pn"] == 6
    assert sample.data["terminal_address"] == ids["terminal_address"] + "00"
    assert sample.data["protocol"] == "dlt645-2007"


async def test_csv_import_and_an_update_publishes_the_changed_fields(
        api: httpx.AsyncClient, db: asyncpg.Connection, run_id: str, change_watch: ChangeWatch) -> None:
    ids = await seed_reference(api, run_id)
    header = "id,name,utility,category,company_id,region_id,industry"
    lines = [header, f"W-{run_id}-1,Water works,water,w_plant,{ids['company']},{ids['district']},utilities",
             f"W-{run_id}-2,Flat 2,water,w_residential,{ids['company']},{ids['district']},"]
    resp = await api.post("/api/v1/import/customers", content="\n".join(lines).encode(),
                          headers={**ADMIN, "Content-Type": "text/csv"})
    assert resp.status_code == 200, resp.text
    assert resp.json()["by_entity"] == {"customer": {"created": 2}}

    lines[2] = f"W-{run_id}-2,Flat 2 (renamed),water,w_residential,{ids['company']},{ids['district']},"
    resp = await api.post("/api/v1/import/customers", content="\n".join(lines).encode(),
                          headers={**ADMIN, "Content-Type": "text/csv"})
    assert resp.json()["by_entity"] == {"customer": {"updated": 1}}
    changes = await change_watch.wait_for(lambda c: c.entity_id == f"W-{run_id}-2" and c.kind == "updated")
    assert changes[0].data["name"] == "Flat 2 (renamed)" and changes[0].data["changed_fields"] == ["name"]
    audit = await api.get("/api/v1/audit", params={"entity": "customer", "entity_id": f"W-{run_id}-2"},
                          headers=ADMIN)
    assert [e["action"] for e in audit.json()] == ["created", "updated"]
    assert audit.json()[1]["before"]["name"] == "Flat 2" and audit.json()[1]["after"]["name"] == "Flat 2 (renamed)"


async def test_dry_run_counts_without_writing_and_sync_removes(
        api: httpx.AsyncClient, db: asyncpg.Connection, run_id: str) -> None:
    ids = await seed_reference(api, run_id)
    rows = [{"id": f"N-{run_id}-{i}", "utility": "heat", "kind": "heat_exchange_station", "name": f"Station {i}",
             "company_id": ids["company"]} for i in range(3)]
    dry = await api.post("/api/v1/import/network-nodes", json=rows, params={"dry_run": "true"}, headers=ADMIN)
    assert dry.status_code == 200 and dry.json()["dry_run"] is True and dry.json()["changes"] == 3
    assert await db.fetchval("SELECT count(*) FROM archive.network_node WHERE id LIKE $1", f"N-{run_id}-%") == 0

    sync = await api.post("/api/v1/sync/network-nodes", json={"upserts": rows}, headers=INTEGRATOR)
    assert sync.json()["by_entity"] == {"network_node": {"created": 3}}
    removal = await api.post("/api/v1/sync/network-nodes", json={"removals": [f"N-{run_id}-0"]}, headers=INTEGRATOR)
    assert removal.json()["by_entity"] == {"network_node": {"removed": 1}}
    again = await api.post("/api/v1/sync/network-nodes", json={"removals": [f"N-{run_id}-0"]}, headers=INTEGRATOR)
    assert again.json()["changes"] == 0
    assert await db.fetchval("SELECT status FROM archive.network_node WHERE id = $1", f"N-{run_id}-0") == "removed"


@pytest.mark.parametrize(("kind", "body", "content_type", "status", "reason"), [
    ("customers", b"", "text/csv", 400, "empty"),
    ("customers", b"{not json", "application/json", 400, "not valid JSON"),
    ("customers", b'{"rows": 5}', "application/json", 400, "list of objects"),
    ("unicorns", b"[]", "application/json", 404, "unknown import kind"),
    ("customers", b"\xff\xfe\x00", "text/csv", 400, "UTF-8"),
])
async def test_unreadable_imports_are_4xx_with_a_reason(api: httpx.AsyncClient, kind: str, body: bytes,
                                                        content_type: str, status: int, reason: str) -> None:
    resp = await api.post(f"/api/v1/import/{kind}", content=body, headers={**ADMIN, "Content-Type": content_type})
    assert resp.status_code == status
    assert reason in resp.json()["detail"]


async def test_viewers_cannot_import_and_scoped_callers_only_inside_their_company(
        api: httpx.AsyncClient, run_id: str) -> None:
    ids = await seed_reference(api, run_id)
    rows = customer_meter_rows(ids, run_id, 2)
    resp = await api.post("/api/v1/import/customer-meters", json=rows, headers=VIEWER)
    assert resp.status_code == 403
    from archive_harness import token

    other = token("integrator", "other-source", companies=("SOMEONE-ELSE",))
    resp = await api.post("/api/v1/import/customer-meters", json=rows, headers=other)
    assert resp.status_code == 422
    assert any("outside your data scope" in e["message"] for e in resp.json()["errors"])
