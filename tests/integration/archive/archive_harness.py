"""Helpers of the archive integration tests: tokens, the in-loop service, seeded reference
data, customer/meter rows, a watcher of master-data changes on the bus, polling."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import FastAPI

from emms_archive.runtime import ArchiveRuntime
from emms_archive.settings import ArchiveSettings
from emms_bus import Delivery
from emms_messages.masterdata import MasterDataChange
from emms_runtime.auth import issue_token
from emms_runtime.settings import AuthSettings


def token(role: str, subject: str = "tester", **scope: tuple[str, ...]) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(AuthSettings(), subject, role, **scope)}"}  # type: ignore[arg-type]


ADMIN = token("admin", "admin-1")
OPERATOR = token("operator", "operator-1")
VIEWER = token("viewer", "viewer-1")
INTEGRATOR = token("integrator", "source-system")


@dataclass
class Service:
    app: FastAPI
    client: httpx.AsyncClient
    settings: ArchiveSettings

    @property
    def archive(self) -> ArchiveRuntime:
        state = self.app.state.runtime.state
        assert isinstance(state, ArchiveRuntime)
        return state


UTILITIES = ("electricity", "water", "gas", "heat")
TERMINALS = 6
POINTS_PER_TERMINAL = 2000


def suffix(terminal: int) -> str:
    return f"-{terminal}" if terminal else ""


async def seed_reference(api: httpx.AsyncClient, run: str, *,
                         utilities: Sequence[str] = UTILITIES) -> dict[str, str]:
    """A company serving a two-level region for every utility, and a concentrator: ids by role."""
    ids = {"company": f"CO-{run}", "region": f"R-{run}", "district": f"R-{run}-1", "terminal": f"T-{run}",
           "terminal_address": f"{int(run, 16) % 100_000_000:08d}"}
    # the first terminal is ids["terminal"] (address ids["terminal_address"] + "00"); others get a suffix
    steps: list[tuple[str, list[dict[str, Any]]]] = [
        ("companies", [{"id": ids["company"], "name": f"Company {run}", "utilities": list(utilities)}]),
        ("regions", [{"id": ids["region"], "name": "City", "level": 1},
                     {"id": ids["district"], "name": "District", "parent_id": ids["region"], "level": 2}]),
        ("service-areas", [{"company_id": ids["company"], "region_id": ids["region"], "utility": u}
                           for u in utilities]),
        ("terminals", [{"id": f"{ids['terminal']}{suffix(t)}", "kind": "concentrator",
                        "address": f"{ids['terminal_address']}{t:02d}", "company_id": ids["company"],
                        "region_id": ids["district"]} for t in range(TERMINALS)]),
    ]
    for kind, rows in steps:
        resp = await api.post(f"/api/v1/import/{kind}", json=rows, headers=ADMIN)
        assert resp.status_code == 200, resp.text
    return ids


def customer_meter_rows(ids: dict[str, str], run: str, n: int, *, utility: str = "electricity",
                        category: str = "e_residential", installed_at: str = "2026-01-01T00:00:00Z",
                        start: int = 0) -> list[dict[str, Any]]:
    return [{"customer_id": f"C-{run}-{i}", "customer_name": f"Customer {i}", "utility": utility,
             "category": category, "company_id": ids["company"], "region_id": ids["district"],
             "metering_point_id": f"MP-{run}-{i}", "terminal_id": ids["terminal"] + suffix(i // POINTS_PER_TERMINAL),
             "pn": i % POINTS_PER_TERMINAL + 1,
             "meter_id": f"M-{run}-{i}", "protocol": "dlt645-2007", "meter_address": f"{run}{i:06d}",
             "installed_at": installed_at} for i in range(start, start + n)]


@dataclass
class ChangeWatch:
    """Master-data changes seen on the bus since the watch started."""

    seen: list[MasterDataChange] = field(default_factory=list)

    async def handle(self, batch: Sequence[Delivery]) -> None:
        self.seen.extend(d.payload for d in batch if isinstance(d.payload, MasterDataChange))

    async def wait_for(self, predicate: Any, count: int = 1, timeout_s: float = 30.0) -> list[MasterDataChange]:
        """The changes matching ``predicate`` once there are ``count`` of them (each seen once)."""
        found: list[MasterDataChange] = []
        checked = 0
        for _ in range(int(timeout_s * 10)):
            new, checked = self.seen[checked:], len(self.seen)
            found += [c for c in new if predicate(c)]
            if len(found) >= count:
                return found
            await asyncio.sleep(0.1)
        raise AssertionError(f"only {len(found)} of {count} changes on the bus")


async def eventually(check: Any, timeout_s: float = 30.0) -> Any:
    """Poll an async ``check`` until it returns something truthy."""
    last = None
    for _ in range(int(timeout_s * 10)):
        last = await check()
        if last:
            return last
        await asyncio.sleep(0.1)
    raise AssertionError(f"condition not met in {timeout_s} s (last: {last!r})")
