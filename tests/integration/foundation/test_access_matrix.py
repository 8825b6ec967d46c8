"""The authorisation matrix: every route of every service × every built-in role × in / out of scope.

Routes are enumerated from each service's OpenAPI document, so a route added tomorrow is in the
matrix at once: it fails here unless it carries an access mark (``x-emms-permission`` written by
``emms_runtime.auth.require``, or ``x-emms-public``). For each marked route and each built-in role
the expected answer follows from the role's permissions: allowed → anything but 401/403 (the
request itself may be a 404 or a 422: the check came first and let it through); denied → 403
naming the missing permission. Step-up routes refuse an admin token without a fresh step-up.

Scope: two companies' master data are imported into the archive and reach the collector, the
validator and the FEP over the bus. Every company-scoped read is then called with path values of
company A by a caller of company B that holds every permission: the answer must be a refusal
(403 / 404) or carry nothing of company A.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import re
import secrets
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from emms_bus import KafkaSettings, ensure_topics
from emms_db import drop_database, ensure_database
from emms_db.settings import DatabaseSettings
from emms_runtime.auth import BUILTIN_ROLES, STEP_UP, Permission, issue_token
from emms_runtime.settings import AuthSettings

pytestmark = pytest.mark.integration

# (package, settings class, extra settings) of every service; identity joins when it exists.
SERVICES: dict[str, tuple[str, dict[str, Any]]] = {
    "archive": ("ArchiveSettings", {}),
    "fep": ("FepSettings", {"terminals": {"host": "127.0.0.1", "port": 0}}),
    "collector": ("CollectorSettings", {"install_default_templates": False}),
    "validator": ("ValidatorSettings", {}),
    "control": ("ControlSettings", {}),
    "analytics": ("AnalyticsSettings", {}),
    "identity": ("IdentitySettings", {}),
}
METHODS = ("get", "post", "put", "patch", "delete")
ROUTES_AT_ONCE = 8
A, B = "MXA", "MXB"
# Values of company A for path parameters, by name; others get a value that fits common patterns.
A_TERMINAL = "9000-00001"  # the FEP and the collector name terminals by address (A1 / A2 of 1376.1)
A_VALUES = {"meter_id": f"{A}-M1", "terminal": A_TERMINAL, "terminal_id": "T-MXA1", "point_id": f"{A}-P1",
            "customer_id": f"{A}-C1", "key": A, "kind": "customer-meters", "item": "energy_active_import_total",
            "entity": "meter", "scope": "meter", "scope_value": f"{A}-M1"}
A_MARKERS = (f"{A}-M1", f"{A}-P1", f"{A}-C1", "T-MXA1", A_TERMINAL)


@dataclass
class Service:
    name: str
    app: FastAPI
    client: httpx.AsyncClient

    def operations(self) -> list[tuple[str, str, dict[str, Any]]]:
        doc = self.app.openapi()
        return [(method.upper(), path, op) for path, item in doc["paths"].items()
                for method, op in item.items() if method in METHODS]


def _settings(name: str, db_url: str, kafka: KafkaSettings) -> Any:
    class_name, extra = SERVICES[name]
    module = importlib.import_module(f"emms_{name}.settings")
    cls = getattr(module, class_name)
    return cls(_env_file=None, environment="test", database=DatabaseSettings(url=db_url), kafka=kafka,
               shutdown_grace_s=5.0, **extra)


def _available() -> list[str]:
    names = []
    for name in SERVICES:
        try:
            importlib.import_module(f"emms_{name}.app")
        except ModuleNotFoundError:
            continue
        names.append(name)
    return names


@pytest.fixture(scope="module")
async def stack(database_url: str, kafka_settings: KafkaSettings) -> AsyncIterator[dict[str, Service]]:
    db_url = f"{database_url}_matrix_{secrets.token_hex(3)}"
    await ensure_database(db_url)
    kafka = kafka_settings.model_copy(update={"topic_prefix": f"{kafka_settings.topic_prefix}matrix."})
    await ensure_topics(kafka)
    services: dict[str, Service] = {}
    try:
        async with AsyncExitStack() as stack:
            for name in _available():
                app = importlib.import_module(f"emms_{name}.app").create_app(_settings(name, db_url, kafka))
                await stack.enter_async_context(app.router.lifespan_context(app))
                client = await stack.enter_async_context(httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=app), base_url=f"http://{name}", timeout=30))
                services[name] = Service(name, app, client)
            await _seed(services["archive"].client)
            await _wait_for_master_data(services)
            yield services
    finally:
        await drop_database(db_url)


def _h(role: str, **kw: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(AuthSettings(), f'matrix-{role}', role, **kw)}"}


async def _seed(archive: httpx.AsyncClient) -> None:
    admin = _h("admin")
    for kind, rows in [
        ("companies", [{"id": c, "name": c} for c in (A, B)]),
        ("regions", [{"id": f"{c}-R", "name": c} for c in (A, B)]),
        ("service-areas", [{"company_id": c, "region_id": f"{c}-R", "utility": "electricity"} for c in (A, B)]),
        ("terminals", [{"id": f"T-{c}1", "kind": "concentrator", "address": f"9{i}000001", "company_id": c,
                        "region_id": f"{c}-R"} for i, c in enumerate((A, B))]),
        ("customer-meters", [{"customer_id": f"{c}-C1", "customer_name": c, "utility": "electricity",
                              "category": "e_lv_single_phase", "company_id": c, "region_id": f"{c}-R",
                              "metering_point_id": f"{c}-P1", "terminal_id": f"T-{c}1", "pn": 1,
                              "meter_id": f"{c}-M1", "protocol": "dlt645-2007", "meter_address": f"77000{i}",
                              "installed_at": "2026-01-01T00:00:00Z"} for i, c in enumerate((A, B))]),
    ]:
        resp = await archive.post(f"/api/v1/import/{kind}", json=rows, headers=admin)
        assert resp.status_code == 200, resp.text


async def _wait_for_master_data(services: dict[str, Service]) -> None:
    """Until the collector lists both companies' points (the bus has delivered the installations)."""
    collector = services["collector"].client
    for _ in range(100):
        resp = await collector.get("/api/v1/points", headers=_h("admin"))
        if resp.status_code == 200 and f"{B}-M1" in resp.text and f"{A}-M1" in resp.text:
            await asyncio.sleep(1.0)  # the validator and the FEP consume the same messages
            return
        await asyncio.sleep(0.2)
    raise AssertionError("master data did not reach the collector")


def _path(path: str, op: dict[str, Any]) -> str:
    def fill(match: re.Match[str]) -> str:
        name = match.group(1).split(":")[0]
        schema = next((p.get("schema", {}) for p in op.get("parameters", ()) if p["name"] == name), {})
        if schema.get("type") == "integer":
            return "1"
        return A_VALUES.get(name, "zz9999")
    return re.sub(r"\{([^}]+)\}", fill, path)


async def _call(client: httpx.AsyncClient, method: str, path: str, headers: dict[str, str]) -> httpx.Response:
    return await client.request(method, path, headers=headers)


def test_every_route_carries_an_access_mark(stack: dict[str, Service]) -> None:
    missing = [f"{s.name} {m} {p}" for s in stack.values() for m, p, op in s.operations()
               if "x-emms-permission" not in op and not op.get("x-emms-public")]
    assert missing == []
    assert set(stack) >= {"archive", "fep", "collector", "validator", "control", "analytics"}


async def test_matrix_of_routes_and_roles(stack: dict[str, Service]) -> None:
    """Routes run side by side (``ROUTES_AT_ONCE``), each route's roles one after another: a route that asks a
    terminal waits for the FEP's answer over the bus (about 2 s), and there are dozens of them × roles."""
    wrong: list[str] = []
    checked = 0
    gate = asyncio.Semaphore(ROUTES_AT_ONCE)

    async def route(service: Service, method: str, path: str, op: dict[str, Any]) -> None:
        nonlocal checked
        permission = op["x-emms-permission"]
        url = _path(path, op)
        async with gate:
            for role, perms in BUILTIN_ROLES.items():
                allowed = permission is None or Permission(permission) in perms
                resp = await _call(service.client, method, url, _h(role, step_up=True, customers=(
                    (f"{A}-C1",) if role == "customer" else ())))
                checked += 1
                if allowed and resp.status_code in (401, 403):
                    wrong.append(f"{service.name} {method} {path} as {role}: {resp.status_code} {resp.text[:200]}")
                if not allowed and not (resp.status_code == 403 and "is needed" in resp.text):
                    wrong.append(f"{service.name} {method} {path} as {role}: expected 403, got {resp.status_code}")
                if resp.status_code >= 500 and resp.status_code != 504:  # 504: the terminal did not answer
                    wrong.append(f"{service.name} {method} {path} as {role}: {resp.status_code}")

    await asyncio.gather(*(route(service, method, path, op) for service in stack.values()
                           for method, path, op in service.operations() if not op.get("x-emms-public")))
    assert wrong == [], "\n".join(sorted(wrong))
    assert checked >= 5 * 100


async def test_step_up_routes_refuse_a_plain_admin_token(stack: dict[str, Service]) -> None:
    step_up_ops = [(s, m, p, op) for s in stack.values() for m, p, op in s.operations()
                   if op.get("x-emms-step-up")]
    for service, method, path, op in step_up_ops:
        assert Permission(op["x-emms-permission"]) in STEP_UP
        resp = await _call(service.client, method, _path(path, op), _h("admin"))
        assert resp.status_code == 403 and "step-up" in resp.text, f"{service.name} {method} {path}: {resp.text}"


async def test_a_caller_of_another_company_sees_nothing_of_company_a(stack: dict[str, Service]) -> None:
    leaks: list[str] = []
    seen_by_a = 0
    for service in stack.values():
        for method, path, op in service.operations():
            if method != "GET" or op.get("x-emms-scope") != "company":
                continue
            url = _path(path, op)
            other = await _call(service.client, "GET", url, _h("admin", companies=(B,)))
            if other.status_code >= 500:
                leaks.append(f"{service.name} GET {path}: {other.status_code}")
            elif other.status_code < 300 and any(m in other.text for m in A_MARKERS):
                leaks.append(f"{service.name} GET {url} as company {B}: {other.text[:300]}")
            own = await _call(service.client, "GET", url, _h("admin", companies=(A,)))
            assert own.status_code not in (401, 500), f"{service.name} GET {url}: {own.text[:300]}"
            seen_by_a += own.status_code < 300 and any(m in own.text for m in A_MARKERS)
    assert leaks == [], "\n".join(leaks)
    assert seen_by_a >= 5, "the seeded data of company A should be visible to company A on several routes"


async def test_a_customer_sees_only_its_own_records(stack: dict[str, Service]) -> None:
    archive = stack["archive"].client
    own = await archive.get("/api/v1/readings/latest", params={"meters": f"{A}-M1"},
                            headers=_h("customer", customers=(f"{A}-C1",)))
    other = await archive.get("/api/v1/readings/latest", params={"meters": f"{B}-M1"},
                              headers=_h("customer", customers=(f"{A}-C1",)))
    assert own.status_code == other.status_code == 200, (own.text, other.text)
    assert f"{B}-M1" not in json.dumps(other.json())
