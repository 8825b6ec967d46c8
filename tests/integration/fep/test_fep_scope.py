"""Company / region / customer scope of the FEP's terminal routes (R-4.6.2), on the real database and broker.

Master data of two companies reaches the FEP over the bus: terminal records (one address in the
``AAAA-TTTTT`` form, one in the vendor's 8-hex-digit form, one record without a region whose owners
come from the points read through it), a terminal with no record at all but an installation naming
it, and the region tree. Real terminals log in over TCP, so each has a session row and daily
traffic. Every operation whose OpenAPI document says ``x-emms-scope: company`` has a case below (a
route without one fails :func:`test_every_company_scoped_route_has_a_case`).
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from channel_scope_cases import channel_cases
from fastapi import Request
from fep_harness import BusWatch, Replica, until
from fep_terminal import FakeTerminal

from emms_bus import BusProducer
from emms_fep.app import create_app
from emms_fep.masterdata import terminal_key
from emms_fep.settings import FepSettings
from emms_messages.masterdata import ChangeKind, MasterDataChange
from emms_runtime import Principal
from emms_runtime.auth import issue_token
from emms_runtime.settings import AuthSettings

pytestmark = pytest.mark.integration
AREA = "0770"
RUN = secrets.token_hex(3)
CA, CB = f"FA{RUN}", f"FB{RUN}"
RA, RA_SUB, RB = f"FRA{RUN}", f"FRA{RUN}-sub", f"FRB{RUN}"
CUST_A, CUST_B = f"FCA{RUN}", f"FCB{RUN}"


def _address(n: int) -> str:
    return f"{AREA}-{n:05d}"


T_A = _address(1)
"""Company A, region RA, its record's address in the AAAA-TTTTT form."""
T_B = _address(2)
"""Company B, region RB, its record's address in the vendor's hex form."""
T_A_DERIVED = _address(3)
"""Company A's record without a region: its region comes from its point (a customer in RA's sub-region)."""
T_NO_RECORD = _address(4)
"""No terminal record: company B, region RB and customer B come from the installation read through it."""
T_UNKNOWN = _address(5)
"""Logs in, but no master data names it."""
T_A_NEVER = _address(6)
"""Company A's record; never connected."""
CONNECTED = (T_A, T_B, T_A_DERIVED, T_NO_RECORD, T_UNKNOWN)


def _token(role: str = "viewer", **scope: tuple[str, ...]) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(AuthSettings(), 'scope-viewer', role, **scope)}"}


A_VIEW = _token(companies=(CA,))
B_VIEW = _token(companies=(CB,))
ANYONE = _token()


def _change(entity: str, entity_id: str, data: dict[str, Any],
            kind: ChangeKind = ChangeKind.CREATED) -> MasterDataChange:
    return MasterDataChange(change_id=f"{entity}-{entity_id}-{secrets.token_hex(4)}", entity=entity,
                            entity_id=entity_id, kind=kind, changed_at=datetime.now(UTC), changed_by="archive",
                            data=data)


def _terminal(terminal_id: str, address: str, company: str, region: str | None) -> MasterDataChange:
    return _change("terminal", terminal_id, {"id": terminal_id, "kind": "concentrator", "address": address,
                                             "company_id": company, "region_id": region, "status": "active"})


def _installation(point: str, terminal_id: str, address: str, customer: str, company: str,
                  region: str) -> MasterDataChange:
    return _change("meter_installation", point, {
        "metering_point_id": point, "meter_id": f"M{point}", "customer_id": customer, "company_id": company,
        "region_id": region, "terminal_id": terminal_id, "terminal_address": address, "pn": 1,
        "utility": "electricity"})


def _master_data() -> list[MasterDataChange]:
    return [
        _change("region", RA, {"id": RA, "parent_id": None}),
        _change("region", RA_SUB, {"id": RA_SUB, "parent_id": RA}),
        _change("region", RB, {"id": RB, "parent_id": None}),
        _terminal(f"TA{RUN}", T_A, CA, RA),
        _terminal(f"TB{RUN}", f"{AREA}0002", CB, RB),
        _terminal(f"TD{RUN}", T_A_DERIVED, CA, None),
        _terminal(f"TN{RUN}", T_A_NEVER, CA, RA),
        _installation(f"PD{RUN}", f"TD{RUN}", T_A_DERIVED, CUST_A, CA, RA_SUB),
        _installation(f"PN{RUN}", f"TX{RUN}", T_NO_RECORD, CUST_B, CB, RB),
    ]


async def _applied(replica: Replica, changes: list[MasterDataChange]) -> None:
    ids = [c.stable_id() for c in changes]
    for _ in range(300):
        done = await replica.fep.pool.fetchval(
            "SELECT count(*) FROM fep.inbox WHERE consumer = 'masterdata' AND message_id = ANY($1::uuid[])", ids)
        if done == len(ids):
            return
        await asyncio.sleep(0.1)
    raise TimeoutError("master data changes not applied by the FEP")


@dataclass
class Fleet:
    replica: Replica
    refusals: list[tuple[int, str]] = field(default_factory=list)

    async def get(self, url: str, headers: dict[str, str], **params: Any) -> Any:
        return await self.replica.client.get(url, params=params or None, headers=headers)

    async def listed(self, headers: dict[str, str]) -> set[str]:
        resp = await self.get("/api/v1/terminals", headers, state="any", prefix=AREA, limit=1000)
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert body["total"] == len(body["items"])
        return {i["terminal"] for i in body["items"]}


@pytest.fixture(scope="module")
async def fleet(replica: Replica, bus: tuple[BusWatch, BusProducer]) -> Fleet:
    _, producer = bus
    changes = _master_data()
    await producer.publish_many(changes)
    await _applied(replica, changes)
    terminals = [FakeTerminal(a) for a in CONNECTED]
    for t in terminals:
        await t.connect(replica.port)
        await t.login()
        await t.heartbeat()
    await until(lambda: len(replica.fep.writer) == 0)

    async def traffic_stored() -> bool:
        n = await replica.fep.pool.fetchval("SELECT count(DISTINCT terminal) FROM fep.traffic_daily"
                                            " WHERE terminal = ANY($1::text[])", list(CONNECTED))
        return n == len(CONNECTED)

    for _ in range(100):
        if await traffic_stored():
            break
        await asyncio.sleep(0.1)
    for t in terminals:
        await t.close()
    f = Fleet(replica)

    def hook(request: Request, code: int, reason: str, principal: Principal | None) -> None:
        f.refusals.append((code, reason))

    replica.app.state.access_audit.append(hook)
    return f


def _refused(resp: Any, terminal: str) -> None:
    assert resp.status_code == 403, resp.text
    assert resp.json()["detail"].startswith(f"terminal {terminal} is outside your data scope")


async def case_list(f: Fleet) -> None:
    assert await f.listed(A_VIEW) == {T_A, T_A_DERIVED}
    assert await f.listed(B_VIEW) == {T_B, T_NO_RECORD}
    assert await f.listed(ANYONE) >= set(CONNECTED)
    page = (await f.get("/api/v1/terminals", A_VIEW, state="any", prefix=AREA, limit=1, offset=1)).json()
    assert page["total"] == 2 and [i["terminal"] for i in page["items"]] == [T_A_DERIVED]


async def case_detail(f: Fleet) -> None:
    own = await f.get(f"/api/v1/terminals/{T_A}", A_VIEW)
    assert own.status_code == 200 and own.json()["session"]["terminal"] == T_A, own.text
    assert own.json()["traffic_daily"], "the terminal's traffic of today"
    _refused(await f.get(f"/api/v1/terminals/{T_A}", B_VIEW), T_A)
    _refused(await f.get(f"/api/v1/terminals/{T_NO_RECORD}", A_VIEW), T_NO_RECORD)
    assert (await f.get(f"/api/v1/terminals/{T_NO_RECORD}", B_VIEW)).status_code == 200
    assert (await f.get(f"/api/v1/terminals/{T_A_NEVER}", A_VIEW)).status_code == 404, "in scope, never connected"
    _refused(await f.get(f"/api/v1/terminals/{T_A_NEVER}", B_VIEW), T_A_NEVER)


async def case_traffic(f: Fleet) -> None:
    own = await f.get(f"/api/v1/terminals/{T_B}/traffic", B_VIEW)
    assert own.status_code == 200 and own.json()["totals"]["frames_in"] >= 2, own.text
    _refused(await f.get(f"/api/v1/terminals/{T_B}/traffic", A_VIEW), T_B)


CASES: dict[str, Callable[[Fleet], Awaitable[None]]] = {
    "GET /api/v1/terminals": case_list,
    "GET /api/v1/terminals/{terminal}": case_detail,
    "GET /api/v1/terminals/{terminal}/traffic": case_traffic,
}
CASES.update(channel_cases(T_A, T_B, A_VIEW, B_VIEW, _token("operator", companies=(CA,)),
                           _token("operator", companies=(CB,))))


def _company_scoped_operations() -> list[str]:
    doc = create_app(FepSettings(_env_file=None)).openapi()  # type: ignore[call-arg]
    return sorted(f"{method.upper()} {path}" for path, item in doc["paths"].items()
                  for method, op in item.items() if isinstance(op, dict) and op.get("x-emms-scope") == "company")


OPERATIONS = _company_scoped_operations()


def test_every_company_scoped_route_has_a_case() -> None:
    assert len(OPERATIONS) >= 3
    assert [op for op in OPERATIONS if op not in CASES] == [], "a company-scoped route without a scope case"
    assert [op for op in CASES if op not in OPERATIONS] == [], "a case for a route that is gone or not company-scoped"


@pytest.mark.parametrize("operation", OPERATIONS)
async def test_company_scope(fleet: Fleet, operation: str) -> None:
    before = len(fleet.refusals)
    await CASES[operation](fleet)
    assert all(code == 403 for code, _ in fleet.refusals[before:])
    if operation != "GET /api/v1/terminals":  # a list filters; a named terminal outside the scope is refused
        assert fleet.refusals[before:], "every refusal is handed to the audit"


async def test_regions_cover_their_sub_regions_and_derive_from_points(fleet: Fleet) -> None:
    assert await fleet.listed(_token(regions=(RA,))) == {T_A, T_A_DERIVED}
    assert await fleet.listed(_token(regions=(RA_SUB,))) == {T_A_DERIVED}, "only the point's region is below"
    assert await fleet.listed(_token(regions=(RB,))) == {T_B, T_NO_RECORD}
    assert await fleet.listed(_token(companies=(CA,), regions=(RB,))) == set(), "both restrictions apply"


async def test_a_customer_token_sees_the_terminals_reading_its_points(fleet: Fleet) -> None:
    token = _token(customers=(CUST_B,))
    assert await fleet.listed(token) == {T_NO_RECORD}
    _refused(await fleet.get(f"/api/v1/terminals/{T_B}", token), T_B)


async def test_a_terminal_no_master_data_names_is_seen_only_unrestricted(fleet: Fleet) -> None:
    for token in (A_VIEW, B_VIEW, _token(regions=(RA,))):
        _refused(await fleet.get(f"/api/v1/terminals/{T_UNKNOWN}", token), T_UNKNOWN)
    assert (await fleet.get(f"/api/v1/terminals/{T_UNKNOWN}", ANYONE)).status_code == 200


async def test_a_terminal_moved_to_another_company_and_redelivered_changes(
        fleet: Fleet, bus: tuple[BusWatch, BusProducer]) -> None:
    _, producer = bus
    moved = [_terminal(f"TN{RUN}", T_A_NEVER, CB, RB)]
    await producer.publish_many(moved)
    await producer.publish_many(moved)  # redelivered: applied once, and setting values twice changes nothing
    await _applied(fleet.replica, moved)
    _refused(await fleet.get(f"/api/v1/terminals/{T_A_NEVER}", A_VIEW), T_A_NEVER)
    assert (await fleet.get(f"/api/v1/terminals/{T_A_NEVER}", B_VIEW)).status_code == 404
    rows = await fleet.replica.fep.pool.fetch("SELECT terminal, company_id, region_id FROM fep.terminals"
                                              " WHERE terminal_id = $1", f"TN{RUN}")
    assert [tuple(r) for r in rows] == [(T_A_NEVER, CB, RB)]


def test_archive_addresses_become_session_keys() -> None:
    assert terminal_key("0770-00012") == "0770-00012"
    assert terminal_key("0770-12") == "0770-00012"
    assert terminal_key("0770000C") == "0770-00012"
    assert terminal_key("3701abcd") == "3701-43981"
    for odd in (None, "", "07", "0770-999999", "not-an-address", 7700012):
        assert terminal_key(odd) is None
