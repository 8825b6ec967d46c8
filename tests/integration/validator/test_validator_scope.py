"""Company / region / customer scope on every company-scoped route of the validator (R-4.6.2), on the real
database and broker.

Two companies' master data reach the validator over the bus (regions with a sub-region, customers,
meters put on their points, a meter of company A on no point yet), then both companies' meters are
fed readings with a fault, so each has anomalies and a held reading. Every operation whose OpenAPI
document says ``x-emms-scope: company`` has a case below (a route without one fails
:func:`test_every_company_scoped_route_has_a_case`): a caller of company A is allowed on A's data
and refused (403, audited) or shown nothing of company B, and the other way round.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi import Request
from validator_harness import BusWatch, Service, batches_by_day, until

from emms_bus import BusProducer
from emms_messages.masterdata import ChangeKind, MasterDataChange
from emms_messages.readings import ValidationStatus
from emms_runtime import Principal
from emms_runtime.auth import issue_token
from emms_runtime.settings import AuthSettings
from emms_validator.app import create_app
from emms_validator.masterdata import installation_change
from emms_validator.repository import meters as meters_repo
from emms_validator.settings import ValidatorSettings
from emms_validator.synthetic import SyntheticMeter, readings

pytestmark = pytest.mark.integration
START = datetime(2026, 2, 1, tzinfo=UTC)
RUN = secrets.token_hex(3)
ITEM = "water.volume"


@dataclass(frozen=True)
class Ids:
    """Everything of one company in this module's data."""

    company: str
    region: str
    customer: str
    point: str
    meter: SyntheticMeter


A = Ids(f"SA{RUN}", f"RA{RUN}-sub", f"CA{RUN}", f"PA{RUN}",
        SyntheticMeter(f"MA{RUN}", "water", faults=frozenset({"transient"}), fault_day=31))
B = Ids(f"SB{RUN}", f"RB{RUN}", f"CB{RUN}", f"PB{RUN}",
        SyntheticMeter(f"MB{RUN}", "water", faults=frozenset({"transient"}), fault_day=31))
A_PARENT_REGION = f"RA{RUN}"
A_LOOSE_METER = f"MA{RUN}-loose"
"""A meter of company A on no customer's point: its own company owns it, no region does."""


def _token(role: str, **scope: tuple[str, ...]) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(AuthSettings(), f'scope-{role}', role, **scope)}"}


def _change(entity: str, entity_id: str, data: dict[str, Any], kind: ChangeKind = ChangeKind.CREATED,
            change_id: str | None = None) -> MasterDataChange:
    return MasterDataChange(change_id=change_id or f"{entity}-{entity_id}-{secrets.token_hex(4)}", entity=entity,
                            entity_id=entity_id, kind=kind, changed_at=START, changed_by="archive", data=data)


def _master_data() -> list[MasterDataChange]:
    changes = [_change("region", A_PARENT_REGION, {"id": A_PARENT_REGION, "parent_id": None}),
               _change("region", A.region, {"id": A.region, "parent_id": A_PARENT_REGION}),
               _change("region", B.region, {"id": B.region, "parent_id": None}),
               _change("meter", A_LOOSE_METER, {"id": A_LOOSE_METER, "utility": "water", "company_id": A.company})]
    for c in (A, B):
        changes += [
            _change("customer", c.customer, {"id": c.customer, "company_id": c.company, "region_id": c.region,
                                             "category": "residential", "utility": "water"}),
            _change("meter", c.meter.meter_id, {"id": c.meter.meter_id, "utility": "water",
                                                "company_id": c.company, "register_digits": 8}),
            _change("meter_installation", c.point, {
                "metering_point_id": c.point, "meter_id": c.meter.meter_id, "customer_id": c.customer,
                "customer_category": "residential", "company_id": c.company, "region_id": c.region,
                "utility": "water", "terminal_id": None, "valid_from": START.isoformat(), "valid_to": None}),
        ]
    return changes


async def _applied(service: Service, changes: list[MasterDataChange]) -> None:
    """Until the validator's inbox holds every change (the master-data consumer applied them)."""
    ids = [c.stable_id() for c in changes]
    for _ in range(300):
        async with service.vr.pool.acquire() as conn:
            done = await conn.fetchval("SELECT count(*) FROM validator.inbox WHERE consumer = 'masterdata'"
                                       " AND message_id = ANY($1::uuid[])", ids)
        if done == len(ids):
            return
        await asyncio.sleep(0.1)
    raise TimeoutError("master data changes not applied")


@dataclass
class World:
    service: Service
    anomalies: dict[str, list[str]] = field(default_factory=dict)
    """Anomaly ids per meter."""
    held_time: dict[str, str] = field(default_factory=dict)
    """The data time of each meter's held reading."""
    refusals: list[tuple[int, str]] = field(default_factory=list)
    """(status, reason) of every refusal the access layer handed to the audit hooks."""

    @property
    def client(self) -> Any:
        return self.service.client

    async def get(self, url: str, headers: dict[str, str], **params: Any) -> Any:
        return await self.client.get(url, params=params or None, headers=headers)


@pytest.fixture(scope="module")
async def world(service: Service, bus: tuple[BusWatch, BusProducer]) -> World:
    watch, producer = bus
    changes = _master_data()
    await producer.publish_many(changes)
    await _applied(service, changes)
    for c in (A, B):
        series = readings(c.meter, START, 33)
        await producer.publish_many(batches_by_day(series, c.meter.meter_id))
    for c in (A, B):
        meter = c.meter.meter_id
        await until(lambda m=meter: any(v.status is ValidationStatus.HELD for v in watch.of_meter(m)[0]), 90)
        await until(lambda m=meter: bool(watch.of_meter(m)[1]), 30)
    w = World(service)
    async with service.vr.pool.acquire() as conn:
        for c in (A, B):
            meter = c.meter.meter_id
            w.anomalies[meter] = [r["anomaly_id"] for r in await conn.fetch(
                "SELECT anomaly_id FROM validator.anomalies WHERE meter_id = $1 ORDER BY anomaly_id", meter)]
            held = await conn.fetchval("SELECT data_time FROM validator.held WHERE meter_id = $1 AND item = $2",
                                       meter, ITEM)
            assert held is not None and w.anomalies[meter], f"{meter} should have a held reading and anomalies"
            w.held_time[meter] = held.isoformat()

    def hook(request: Request, code: int, reason: str, principal: Principal | None) -> None:
        w.refusals.append((code, reason))

    service.app.state.access_audit.append(hook)
    return w


A_VIEW = _token("viewer", companies=(A.company,))
B_VIEW = _token("viewer", companies=(B.company,))
A_OP = _token("operator", companies=(A.company,))
B_OP = _token("operator", companies=(B.company,))
ALL_OP = _token("operator")


def _meters_in(body: Any) -> set[str]:
    items = body["items"] if isinstance(body, dict) else body
    return {i["meter_id"] for i in items}


def _refused(resp: Any, what: str) -> None:
    assert resp.status_code == 403, resp.text
    assert what in resp.json()["detail"] and "outside your data scope" in resp.json()["detail"]


# One case per company-scoped operation: allowed in scope, refused (403) or filtered outside it.

async def case_list_anomalies(w: World) -> None:
    a, b = A.meter.meter_id, B.meter.meter_id
    mine = (await w.get("/api/v1/anomalies", A_VIEW, limit=1000)).json()
    assert a in _meters_in(mine) and b not in _meters_in(mine)
    assert (await w.get("/api/v1/anomalies", A_VIEW, meter_id=a)).json()["total"] == len(w.anomalies[a])
    other = (await w.get("/api/v1/anomalies", A_VIEW, meter_id=b)).json()
    assert other["total"] == 0 and other["items"] == []
    theirs = (await w.get("/api/v1/anomalies", B_VIEW, limit=1000)).json()
    assert b in _meters_in(theirs) and a not in _meters_in(theirs)


async def case_anomaly_detail(w: World) -> None:
    anomaly = w.anomalies[A.meter.meter_id][0]
    own = await w.get(f"/api/v1/anomalies/{anomaly}", A_VIEW)
    assert own.status_code == 200 and own.json()["meter_id"] == A.meter.meter_id
    _refused(await w.get(f"/api/v1/anomalies/{anomaly}", B_VIEW), f"anomaly {anomaly}")
    assert (await w.get("/api/v1/anomalies/no|such|anomaly", B_VIEW)).status_code == 404


async def case_transition(w: World) -> None:
    anomaly = w.anomalies[B.meter.meter_id][0]
    url = f"/api/v1/anomalies/{anomaly}/transitions"
    _refused(await w.client.post(url, json={"to": "acknowledged", "note": "not mine"}, headers=A_OP),
             f"anomaly {anomaly}")
    assert (await w.get(f"/api/v1/anomalies/{anomaly}", B_VIEW)).json()["status"] == "new"
    done = await w.client.post(url, json={"to": "acknowledged", "note": "crew sent"}, headers=B_OP)
    assert done.status_code == 200 and done.json()["status"] == "acknowledged", done.text


async def case_statistics(w: World) -> None:
    for token, own in ((A_VIEW, A), (B_VIEW, B)):
        stats = (await w.get("/api/v1/statistics/rules", token)).json()["rules"]
        visible = (await w.get("/api/v1/anomalies", token, limit=1000)).json()
        assert sum(r["total"] for r in stats) == visible["total"] == len(w.anomalies[own.meter.meter_id])
        assert {r["meters"] for r in stats} == {1}
    everything = (await w.get("/api/v1/statistics/rules", ALL_OP)).json()["rules"]
    assert sum(r["total"] for r in everything) >= sum(len(v) for v in w.anomalies.values())


async def case_meter_validation(w: World) -> None:
    a = A.meter.meter_id
    own = await w.get(f"/api/v1/meters/{a}/validation", A_VIEW)
    assert own.status_code == 200 and own.json()["versions"], own.text
    _refused(await w.get(f"/api/v1/meters/{a}/validation", B_VIEW), f"meter {a}")
    loose = await w.get(f"/api/v1/meters/{A_LOOSE_METER}/validation", A_VIEW)
    assert loose.status_code == 200, "a meter on no point belongs to its own company"
    _refused(await w.get(f"/api/v1/meters/{A_LOOSE_METER}/validation", B_VIEW), f"meter {A_LOOSE_METER}")


async def case_point_audit(w: World) -> None:
    a = A.meter.meter_id
    url = f"/api/v1/meters/{a}/items/{ITEM}/audit"
    own = await w.get(url, A_VIEW, data_time=w.held_time[a])
    assert own.status_code == 200 and own.json()["held"] is not None, own.text
    _refused(await w.get(url, B_VIEW, data_time=w.held_time[a]), f"meter {a}")


async def case_edit(w: World) -> None:
    b = B.meter.meter_id
    url = f"/api/v1/meters/{b}/items/{ITEM}/edits"
    body = {"data_time": w.held_time[b], "value": 4321.0, "reason": "read on site"}
    _refused(await w.client.post(url, json=body, headers=A_OP), f"meter {b}")
    audit = (await w.get(f"/api/v1/meters/{b}/items/{ITEM}/audit", B_VIEW, data_time=w.held_time[b])).json()
    assert audit["held"]["status"] == "awaiting_backfill" and all(v["actor"] != "scope-operator"
                                                                   for v in audit["versions"])
    done = await w.client.post(url, json=body, headers=B_OP)
    assert done.status_code == 201, done.text


async def case_review(w: World) -> None:
    a, b = A.meter.meter_id, B.meter.meter_id
    mine = (await w.get("/api/v1/review", A_VIEW, status="awaiting_backfill", limit=1000)).json()
    assert a in _meters_in(mine) and b not in _meters_in(mine)
    assert (await w.get("/api/v1/review", A_VIEW, meter_id=b)).json()["total"] == 0
    theirs = (await w.get("/api/v1/review", B_VIEW, limit=1000)).json()
    assert a not in _meters_in(theirs)


async def case_list_key_customers(w: World) -> None:
    for c in (A, B):
        assert (await w.client.put(f"/api/v1/key-customers/{c.customer}", json={"reason": "hospital"},
                                   headers=ALL_OP)).status_code == 200
    mine = {k["customer_id"] for k in (await w.get("/api/v1/key-customers", A_VIEW)).json()}
    assert A.customer in mine and B.customer not in mine
    theirs = {k["customer_id"] for k in (await w.get("/api/v1/key-customers", B_VIEW)).json()}
    assert B.customer in theirs and A.customer not in theirs


async def case_mark_key(w: World) -> None:
    _refused(await w.client.put(f"/api/v1/key-customers/{B.customer}", json={"reason": "x"}, headers=A_OP),
             f"customer {B.customer}")
    own = await w.client.put(f"/api/v1/key-customers/{A.customer}", json={"reason": "school"}, headers=A_OP)
    assert own.status_code == 200 and own.json()["marked_by"] == "scope-operator"


async def case_unmark_key(w: World) -> None:
    await w.client.put(f"/api/v1/key-customers/{B.customer}", json={"reason": "x"}, headers=ALL_OP)
    _refused(await w.client.delete(f"/api/v1/key-customers/{B.customer}", headers=A_OP), f"customer {B.customer}")
    theirs = {k["customer_id"] for k in (await w.get("/api/v1/key-customers", B_VIEW)).json()}
    assert B.customer in theirs, "a refused unmark must leave the mark"
    assert (await w.client.delete(f"/api/v1/key-customers/{B.customer}", headers=B_OP)).status_code == 204


async def case_effective_rules(w: World) -> None:
    a = A.meter.meter_id
    own = await w.get("/api/v1/rules/effective", A_VIEW, meter_id=a)
    assert own.status_code == 200 and own.json()["scope"]["meter_id"] == a
    assert own.json()["scope"]["customer_category"] == "residential"
    _refused(await w.get("/api/v1/rules/effective", B_VIEW, meter_id=a), f"meter {a}")
    generic = await w.get("/api/v1/rules/effective", B_VIEW, utility="water")
    assert generic.status_code == 200, "the rules of a utility are no company's data"


CASES: dict[str, Callable[[World], Awaitable[None]]] = {
    "GET /api/v1/anomalies": case_list_anomalies,
    "GET /api/v1/anomalies/{anomaly_id}": case_anomaly_detail,
    "POST /api/v1/anomalies/{anomaly_id}/transitions": case_transition,
    "GET /api/v1/statistics/rules": case_statistics,
    "GET /api/v1/meters/{meter_id}/validation": case_meter_validation,
    "GET /api/v1/meters/{meter_id}/items/{item}/audit": case_point_audit,
    "POST /api/v1/meters/{meter_id}/items/{item}/edits": case_edit,
    "GET /api/v1/review": case_review,
    "GET /api/v1/key-customers": case_list_key_customers,
    "PUT /api/v1/key-customers/{customer_id}": case_mark_key,
    "DELETE /api/v1/key-customers/{customer_id}": case_unmark_key,
    "GET /api/v1/rules/effective": case_effective_rules,
}


def _company_scoped_operations() -> list[str]:
    doc = create_app(ValidatorSettings(_env_file=None)).openapi()  # type: ignore[call-arg]
    return sorted(f"{method.upper()} {path}" for path, item in doc["paths"].items()
                  for method, op in item.items() if isinstance(op, dict) and op.get("x-emms-scope") == "company")


OPERATIONS = _company_scoped_operations()


def test_every_company_scoped_route_has_a_case() -> None:
    assert len(OPERATIONS) >= 12
    assert [op for op in OPERATIONS if op not in CASES] == [], "a company-scoped route without a scope case"
    assert [op for op in CASES if op not in OPERATIONS] == [], "a case for a route that is gone or not company-scoped"


@pytest.mark.parametrize("operation", OPERATIONS)
async def test_company_scope(world: World, operation: str) -> None:
    before = len(world.refusals)
    await CASES[operation](world)
    assert all(code == 403 for code, _ in world.refusals[before:])


async def test_refusals_outside_the_scope_are_audited(world: World) -> None:
    before = len(world.refusals)
    meter = A.meter.meter_id
    assert (await world.get(f"/api/v1/meters/{meter}/validation", B_VIEW)).status_code == 403
    assert world.refusals[before:] == [(403, f"meter {meter} is outside your data scope (your token allows"
                                              f" companies ['{B.company}'])")]


async def test_a_region_covers_every_region_below_it(world: World) -> None:
    a, b = A.meter.meter_id, B.meter.meter_id
    for regions, sees in (((A_PARENT_REGION,), {a}), ((A.region,), {a}), ((B.region,), {b})):
        token = _token("viewer", regions=regions)
        body = (await world.get("/api/v1/anomalies", token, limit=1000)).json()
        assert _meters_in(body) & {a, b} == sees, regions
        other = next(iter({a, b} - sees))
        assert (await world.get(f"/api/v1/meters/{other}/validation", token)).status_code == 403
    both = _token("viewer", companies=(A.company,), regions=(B.region,))
    assert _meters_in((await world.get("/api/v1/anomalies", both, limit=1000)).json()) & {a, b} == set(), \
        "company and region restrictions both apply"


async def test_a_meter_without_a_known_region_is_outside_every_region(world: World) -> None:
    token = _token("viewer", companies=(A.company,), regions=(A_PARENT_REGION,))
    resp = await world.get(f"/api/v1/meters/{A_LOOSE_METER}/validation", token)
    _refused(resp, f"meter {A_LOOSE_METER}")


async def test_a_customer_token_sees_its_own_meters_only(world: World) -> None:
    token = _token("viewer", customers=(A.customer,))
    assert _meters_in((await world.get("/api/v1/anomalies", token, limit=1000)).json()) == {A.meter.meter_id}
    assert {k["customer_id"] for k in (await world.get("/api/v1/key-customers", token)).json()} <= {A.customer}
    _refused(await world.get(f"/api/v1/meters/{B.meter.meter_id}/validation", token),
             f"meter {B.meter.meter_id}")


async def test_unknown_meters_are_outside_every_restricted_scope(world: World) -> None:
    unknown = f"MX{RUN}-unknown"
    _refused(await world.get(f"/api/v1/meters/{unknown}/validation", A_VIEW), f"meter {unknown}")
    anyone = await world.get(f"/api/v1/meters/{unknown}/validation", _token("viewer"))
    assert anyone.status_code == 200 and anyone.json()["versions"] == []


async def test_a_customer_moved_to_another_company_takes_its_meters_along(
        world: World, bus: tuple[BusWatch, BusProducer]) -> None:
    _, producer = bus
    customer, meter = f"CM{RUN}", f"MM{RUN}"
    first = [_change("customer", customer, {"id": customer, "company_id": A.company, "region_id": A.region}),
             _change("meter_installation", f"PM{RUN}", {"metering_point_id": f"PM{RUN}", "meter_id": meter,
                                                        "customer_id": customer, "company_id": A.company,
                                                        "region_id": A.region})]
    await producer.publish_many(first)
    await _applied(world.service, first)
    assert (await world.get(f"/api/v1/meters/{meter}/validation", A_VIEW)).status_code == 200
    moved = [_change("customer", customer, {"id": customer, "company_id": B.company, "region_id": B.region},
                     ChangeKind.UPDATED)]
    await producer.publish_many(moved)
    await producer.publish_many(moved)  # redelivered: the inbox applies it once
    await _applied(world.service, moved)
    assert (await world.get(f"/api/v1/meters/{meter}/validation", A_VIEW)).status_code == 403
    assert (await world.get(f"/api/v1/meters/{meter}/validation", B_VIEW)).status_code == 200
    removed = [_change("meter_installation", f"PM{RUN}", {"metering_point_id": f"PM{RUN}", "meter_id": meter,
                                                          "customer_id": customer, "removed_at": START.isoformat()},
                       ChangeKind.REMOVED)]
    await producer.publish_many(removed)
    await _applied(world.service, removed)
    assert (await world.get(f"/api/v1/meters/{meter}/validation", B_VIEW)).status_code == 200, \
        "a meter taken off its point stays with its last customer"


async def test_applying_an_installation_twice_is_the_same_as_once(world: World) -> None:
    change = installation_change(_change("meter_installation", f"PI{RUN}", {
        "metering_point_id": f"PI{RUN}", "meter_id": f"MI{RUN}", "customer_id": f"CI{RUN}",
        "company_id": A.company, "region_id": A.region, "utility": "water"}))
    assert change is not None
    async with world.service.vr.pool.acquire() as conn:
        rows = []
        for _ in range(2):
            async with conn.transaction():
                await meters_repo.apply_installation_change(conn, "validator", change)
            rows.append(await conn.fetchrow(
                "SELECT o.*, c.updated_at IS NOT NULL AS known FROM validator.meter_owner o"
                " JOIN validator.customers c USING (customer_id) WHERE o.meter_id = $1", f"MI{RUN}"))
    assert rows[0] == rows[1]
    assert (rows[0]["customer_id"], rows[0]["company_id"], rows[0]["region_id"]) == (
        f"CI{RUN}", A.company, A.region)
