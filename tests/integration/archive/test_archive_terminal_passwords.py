"""Terminal passwords in the archive: write-only, sealed at rest and on the bus, audited as changed, and
rotations that switch master data only on the terminal's confirm (results fed through the real bus)."""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import pytest
from archive_harness import ADMIN, ChangeWatch, Service, eventually, token
from service_harness import FreshBearer

from emms_archive.passwords.rotation import REQUEST_PREFIX
from emms_bus import BusProducer
from emms_messages.terminal import DownlinkResult, RequestOutcome

pytestmark = pytest.mark.integration
ROTATOR = FreshBearer("operator-pw", "operator", step_up=True)


@pytest.fixture
async def terminals(api: httpx.AsyncClient, run_id: str) -> dict[str, Any]:
    """Two terminals of a company of their own (1376.1 addresses) and one whose address is no 1376.1 address."""
    company = f"CO-PW-{run_id}"
    area = 4000 + int(run_id, 16) % 1000  # A1 in BCD: decimal digits
    ids = {"company": company, "a": f"T-PWA-{run_id}", "b": f"T-PWB-{run_id}",
           "a_key": f"{area:04d}-00001", "b_key": f"{area:04d}-00002", "vendor": f"T-PWV-{run_id}"}
    for kind, rows in (("companies", [{"id": company, "name": "PW", "utilities": ["electricity"]}]),
                       ("terminals", [{"id": ids["a"], "kind": "concentrator", "address": ids["a_key"],
                                       "company_id": company},
                                      {"id": ids["b"], "kind": "concentrator", "address": ids["b_key"],
                                       "company_id": company},
                                      {"id": ids["vendor"], "kind": "concentrator", "address": f"ABCDEF{run_id}",
                                       "company_id": company}])):
        resp = await api.post(f"/api/v1/import/{kind}", json=rows, headers=ADMIN)
        assert resp.status_code == 200, resp.text
    return ids


async def _version(api: httpx.AsyncClient, terminal_id: str) -> int:
    resp = await api.get(f"/api/v1/terminal-passwords/{terminal_id}", headers=ADMIN)
    assert resp.status_code == 200, resp.text
    assert "sealed" not in resp.text
    return int(resp.json()["version"])


async def test_set_is_write_only_sealed_and_audited(archive_service: Service, api: httpx.AsyncClient,
                                                    change_watch: ChangeWatch, db: asyncpg.Connection,
                                                    terminals: dict[str, Any]) -> None:
    pw = secrets.token_hex(16)
    url = f"/api/v1/terminal-passwords/{terminals['a']}"
    bad = await api.put(url, json={"password_hex": pw[:-1] + "g"}, headers=ADMIN)
    assert bad.status_code == 422 and "32 hexadecimal digits" in bad.text and pw[:20] not in bad.text
    assert (await api.put("/api/v1/terminal-passwords/no-such", json={"password_hex": pw}, headers=ADMIN)
            ).status_code == 404
    other = token("operator", "op-elsewhere", companies=("CO-ELSEWHERE",))
    assert (await api.put(url, json={"password_hex": pw}, headers=other)).status_code == 403
    viewer = token("viewer", "viewer-pw")
    assert (await api.put(url, json={"password_hex": pw}, headers=viewer)).status_code == 403

    resp = await api.put(url, json={"password_hex": pw}, headers=ADMIN)
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"terminal_id": terminals["a"], "version": 1}
    status = (await api.get(url, headers=ADMIN)).json()
    assert status["has_password"] and status["how"] == "set" and pw not in json.dumps(status)

    change = (await change_watch.wait_for(lambda c: c.entity == "terminal_password"
                                          and c.entity_id == terminals["a"]))[0]
    assert pw not in change.model_dump_json() and change.data["address"] == terminals["a_key"]
    assert archive_service.archive.sealer.unseal(change.data["password_sealed"]) == bytes.fromhex(pw)

    sealed = await db.fetchval("SELECT sealed FROM archive.terminal_password WHERE terminal_id = $1", terminals["a"])
    assert pw not in sealed and archive_service.archive.sealer.unseal(sealed) == bytes.fromhex(pw)
    audit = await db.fetch("SELECT action, before, after FROM archive.audit_log WHERE entity = 'terminal_password'"
                           " AND entity_id = $1", terminals["a"])
    assert [r["action"] for r in audit] == ["created"]
    assert pw not in str(audit) and sealed not in str(audit) and '"changed"' in audit[0]["after"]
    assert await eventually(lambda: db.fetchval(
        "SELECT published_at IS NOT NULL AND sealed IS NULL FROM archive.outbox o JOIN archive.audit_log a"
        " USING (change_id) WHERE a.entity = 'terminal_password' AND a.entity_id = $1", terminals["a"]))


async def test_import_is_all_or_nothing(api: httpx.AsyncClient, terminals: dict[str, Any]) -> None:
    pw_a, pw_b = secrets.token_hex(16), secrets.token_hex(16)
    rows = [{"terminal_id": terminals["a"], "password_hex": pw_a}, {"terminal_id": "no-such", "password_hex": pw_b},
            {"terminal_id": terminals["b"], "password_hex": "00"},
            {"terminal_id": terminals["a"], "password_hex": pw_b}]
    refused = await api.post("/api/v1/terminal-passwords/import", json=rows, headers=ADMIN)
    assert refused.status_code == 422, refused.text
    assert "row 2: no terminal no-such" in refused.text and "row 3" in refused.text and "row 4" in refused.text
    assert pw_a not in refused.text and pw_b not in refused.text
    assert await _version(api, terminals["a"]) == 0
    assert (await api.post("/api/v1/terminal-passwords/import", json={"rows": 1}, headers=ADMIN)).status_code == 400
    both = [rows[0], {"terminal_id": terminals["b"], "password_hex": pw_b}]
    ok = await api.post("/api/v1/terminal-passwords/import", json=both, headers=ADMIN)
    assert ok.status_code == 200, ok.text
    assert ok.json() == {"count": 2, "versions": {terminals["a"]: 1, terminals["b"]: 1}}
    again = await api.post("/api/v1/terminal-passwords/import", json=both, headers=ADMIN)  # changes nothing
    assert again.status_code == 200 and again.json()["versions"] == ok.json()["versions"]


async def _result(producer: BusProducer, request_id: str, terminal: str, outcome: RequestOutcome) -> None:
    await producer.publish(DownlinkResult(request_id=request_id, terminal=terminal, outcome=outcome, attempts=1,
                                          completed_at=datetime.now(UTC), detail=f"test: {outcome.value}"))


async def _rotation(api: httpx.AsyncClient, terminal_id: str) -> dict[str, Any]:
    rotations = (await api.get(f"/api/v1/terminal-passwords/{terminal_id}", headers=ADMIN)).json()["rotations"]
    return rotations[0] if rotations else {}


async def test_rotation_switches_only_on_the_terminals_confirm(archive_service: Service, api: httpx.AsyncClient,
                                                               producer: BusProducer, db: asyncpg.Connection,
                                                               terminals: dict[str, Any]) -> None:
    a, b = terminals["a"], terminals["b"]
    for t in (a, b):
        assert (await api.put(f"/api/v1/terminal-passwords/{t}", json={"password_hex": secrets.token_hex(16)},
                              headers=ADMIN)).status_code == 200
    assert (await api.post(f"/api/v1/terminal-passwords/{terminals['vendor']}/rotations", json={},
                           headers=ROTATOR)).status_code == 422
    assert (await api.post(f"/api/v1/terminal-passwords/{a}/rotations", json={"password_hex": "xyz"},
                           headers=ROTATOR)).status_code == 422

    # a: the terminal denies → failed, the old PW stays; a second rotation meanwhile is a conflict
    started = await api.post(f"/api/v1/terminal-passwords/{a}/rotations", json={}, headers=ROTATOR)
    assert started.status_code == 202, started.text
    request_id = started.json()["request_id"]
    assert request_id.startswith(REQUEST_PREFIX) and started.json()["terminal"] == terminals["a_key"]
    assert (await api.post(f"/api/v1/terminal-passwords/{a}/rotations", json={}, headers=ROTATOR)
            ).status_code == 409
    await _result(producer, request_id, terminals["a_key"], RequestOutcome.DENIED)
    assert await eventually(lambda: _failed(api, a))
    assert await _version(api, a) == 1

    # b: no result in time → failed (old PW); the terminal's late confirm still switches master data
    new = secrets.token_hex(16)
    started = await api.post(f"/api/v1/terminal-passwords/{b}/rotations", json={"password_hex": new},
                             headers=ROTATOR)
    assert started.status_code == 202 and new not in started.text
    request_id = started.json()["request_id"]
    await db.execute("UPDATE archive.terminal_password_rotation SET expires_at = now() - interval '1 second'"
                     " WHERE request_id = $1", request_id)
    assert await archive_service.archive.rotations.expire() >= 1
    rotation = await _rotation(api, b)
    assert rotation["state"] == "failed" and rotation["outcome"] == "timed_out" and await _version(api, b) == 1
    await _result(producer, request_id, terminals["b_key"], RequestOutcome.ANSWERED)
    assert await eventually(lambda: _confirmed(api, b))
    assert await _version(api, b) == 2
    sealed = await db.fetchval("SELECT sealed FROM archive.terminal_password WHERE terminal_id = $1", b)
    assert archive_service.archive.sealer.unseal(sealed) == bytes.fromhex(new)
    actions = [r["action"] for r in await db.fetch(
        "SELECT action FROM archive.audit_log WHERE entity = 'terminal_password' AND entity_id = $1 ORDER BY seq", b)]
    assert actions == ["created", "rotation_requested", "rotation_failed", "updated"]
    # the same result delivered again changes nothing
    await _result(producer, request_id, terminals["b_key"], RequestOutcome.ANSWERED)
    await _result(producer, "pwrot-unknown", terminals["b_key"], RequestOutcome.ANSWERED)
    assert await _version(api, b) == 2


async def _failed(api: httpx.AsyncClient, terminal_id: str) -> bool:
    rotation = await _rotation(api, terminal_id)
    return rotation.get("state") == "failed" and rotation.get("outcome") == "denied"


async def _confirmed(api: httpx.AsyncClient, terminal_id: str) -> bool:
    return (await _rotation(api, terminal_id)).get("state") == "confirmed"
