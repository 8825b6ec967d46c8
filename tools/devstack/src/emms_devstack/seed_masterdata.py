"""Load the simulated fleet's manifest into the archive, as a utility's source system would.

``make up`` starts the simulator, which writes a manifest of its concentrators and
the meters behind them. This module turns it into the archive's batch imports
(company, regions, service areas, terminals, then one ``customer-meters`` row per
metering point with the meter installed there now — after a replacement that
already happened, the new meter, installed at the replacement time — so loading
the same manifest again changes nothing). The archive then
publishes ``MasterDataChange`` for every installation, which is how the collector
learns what to read — the same path a real integration takes.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

COMPANY = "SIM-UTIL"
REGION = "SIM-CITY"
UTILITIES = ("electricity", "water", "gas", "heat")
PROTOCOLS = {"dlt645-2007": "dlt645-2007", "dlt645-1997": "dlt645-1997", "cjt188-2004": "cjt188-2004"}
CATEGORIES = {  # (utility, simulator meter kind) → Table-2 customer category
    ("electricity", "residential-1p"): "e_residential",
    ("electricity", "commercial-3p"): "e_lv_three_phase",
    ("water", "residential"): "w_residential",
    ("gas", "residential"): "g_residential",
    ("heat", "residential"): "h_residential",
}
REGISTER_DIGITS = 6  # the simulator's registers are XXXXXX.XX (emms_sim.fleet.REGISTER_WIDTH = 10**6)
FALLBACK_CATEGORY = {"electricity": "e_lv_single_phase", "water": "w_commercial_industrial",
                     "gas": "g_commercial_industrial", "heat": "h_commercial_industrial"}


@dataclass
class SeedPlan:
    """The imports, in order, and the replacements to replay after them."""

    imports: list[tuple[str, list[dict[str, Any]]]] = field(default_factory=list)
    replaced: int = 0
    """Points whose meter was already replaced in the field (their row names the new meter)."""
    passwords: list[dict[str, Any]] = field(default_factory=list)
    """Each terminal's own PW (a fleet run with ``--terminal-passwords``), for the archive's password import."""

    @property
    def meters(self) -> int:
        return sum(len(rows) for kind, rows in self.imports if kind == "customer-meters")


def terminal_id(key: str) -> str:
    return f"T-{key}"


def point_id(key: str, pn: int) -> str:
    return f"MP-{key}-{pn:04d}"


def plan_from_manifest(manifest: dict[str, Any], now: datetime | None = None) -> SeedPlan:
    """The archive imports for a simulator manifest; replacements later than ``now`` are left to happen."""
    now = now or datetime.now(UTC)
    plan = SeedPlan()
    plan.imports.append(("companies", [{"id": COMPANY, "name": "Simulated utility", "utilities": list(UTILITIES)}]))
    plan.imports.append(("regions", [{"id": REGION, "name": "Simulated city", "level": 1}]))
    plan.imports.append(("service-areas", [{"company_id": COMPANY, "region_id": REGION, "utility": u}
                                           for u in UTILITIES]))
    plan.imports.append(("terminals", [{"id": terminal_id(t["key"]), "kind": "concentrator", "address": t["key"],
                                        "company_id": COMPANY, "region_id": REGION}
                                       for t in manifest["terminals"]]))
    plan.passwords = [{"terminal_id": terminal_id(t["key"]), "password_hex": t["password_hex"]}
                      for t in manifest["terminals"] if t.get("password_hex")]
    rows: list[dict[str, Any]] = []
    for t in manifest["terminals"]:
        for m in t["meters"]:
            if m.get("removed_at") and datetime.fromisoformat(m["removed_at"]) <= now:
                continue
            if datetime.fromisoformat(m["installed_at"]) > now:
                continue  # added later: the concentrator reports it when it happens
            row = _customer_meter(t, m)
            past = [r for r in m.get("replacements") or [] if datetime.fromisoformat(r["at"]) <= now]
            if past:
                row.update(meter_id=f"{m['meter_id']}-r{len(past)}", meter_address=past[-1]["new_address"],
                           installed_at=past[-1]["at"])
                plan.replaced += 1
            rows.append(row)
    plan.imports.append(("customer-meters", rows))
    areas = _network_areas(manifest, rows)
    if areas:
        plan.imports.insert(len(plan.imports) - 1, ("network-nodes", areas))
    nodes, heat_customers = _heat_places([r for r in rows if r["utility"] == "heat"])
    if heat_customers:
        plan.imports.insert(len(plan.imports) - 1, ("network-nodes", nodes))
        plan.imports.append(("customers", heat_customers))
    return plan


TRANSFORMER_KVA = (200.0, 315.0, 400.0, 630.0)  # rated capacities given to the simulator's transformer areas
VOLTAGE_KV = {"residential-1p": 0.22, "commercial-3p": 0.38}  # supply voltage level by electricity meter kind
ARCHIVE_NODE_KIND = {"transformer": "transformer", "dma": "pipe_network", "pressure_zone": "pipe_network"}


def _network_areas(manifest: dict[str, Any], rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The simulator's network (``--network``): a node per transformer area / water or gas zone (the archive's
    kinds), each row placed on the area master data lists it under (the wrong assignments included), the total /
    inlet meters as customers of category ``network`` with their CT ratio: what analytics generates loss models
    from. Heat stations are left to the heat topology below."""
    by_meter = {r["customer_id"].removeprefix("C-"): r for r in rows}
    nodes: list[dict[str, Any]] = []
    for area in (manifest.get("network") or {}).get("areas", []):
        kind = ARCHIVE_NODE_KIND.get(area["node_kind"])
        if kind is None:
            continue
        nodes.append({"id": area["id"], "utility": area["utility"], "kind": kind, "name": area["id"],
                      "company_id": COMPANY, "region_id": REGION,
                      **({"capacity_kva": TRANSFORMER_KVA[len(nodes) % len(TRANSFORMER_KVA)]}
                         if kind == "transformer" else {})})
        head = by_meter.get(area["head_meter"])
        if head is not None:
            head.update(category="network", multiplier=area["ct_ratio"], node_id=area["id"])
        for meter in area["members"]:
            if meter in by_meter:
                by_meter[meter]["node_id"] = area["id"]
    return nodes


HEAT_STATIONS = 2
BUILDINGS_PER_STATION = 3
UNITS_PER_BUILDING = 2
FLOORS_PER_UNIT = 6


def _heat_places(rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Heat topology for the heat analyses: heat-exchange stations, a community per station, buildings,
    units and floors; each heat customer on a floor (round robin) with a heated area of 60 … 139 m²."""
    if not rows:
        return [], []
    nodes: list[dict[str, Any]] = []
    floors: list[str] = []

    def node(node_id: str, kind: str, parent: str | None) -> None:
        nodes.append({"id": node_id, "utility": "heat", "kind": kind, "name": node_id, "parent_id": parent,
                      "company_id": COMPANY, "region_id": REGION})

    for s in range(1, HEAT_STATIONS + 1):
        station, community = f"HX-{s}", f"HX-{s}-A"
        node(station, "heat_exchange_station", None)
        node(community, "area", station)
        for b in range(1, BUILDINGS_PER_STATION + 1):
            building = f"{community}-B{b}"
            node(building, "building", community)
            for u in range(1, UNITS_PER_BUILDING + 1):
                unit = f"{building}-U{u}"
                node(unit, "unit", building)
                for f in range(1, FLOORS_PER_UNIT + 1):
                    node(f"{unit}-F{f}", "floor", unit)
                    floors.append(f"{unit}-F{f}")
    customers = [{"id": r["customer_id"], "name": r["customer_name"], "utility": "heat", "category": r["category"],
                  "company_id": COMPANY, "region_id": REGION, "node_id": floors[i * 7 % len(floors)],
                  "heated_area_m2": 60.0 + (i * 37) % 80} for i, r in enumerate(rows)]
    return nodes, customers


CURVE_METERS = 50
CURVE_ITEMS = ["power.active.total", "power.reactive.total", "voltage.a", "current.a", "current.b", "current.c",
               "power_factor.total"]
HEAT_METERS = 50
HEAT_ITEMS = ["heat.power", "temperature.supply", "temperature.return", "flow.rate"]


def curve_task(manifest: dict[str, Any]) -> dict[str, Any] | None:
    """A daily task reading the 15-minute load curves of the fleet's first electricity meters."""
    meters = [m["meter_id"] for t in manifest["terminals"] for m in t["meters"] if m["utility"] == "electricity"]
    if not meters:
        return None
    return {"id": "load-curves", "name": "15-minute load curves", "type": "curve",
            "target": {"meters": meters[:CURVE_METERS]}, "items": CURVE_ITEMS,
            "period": {"unit": "daily", "at": "00:40"}, "retries": 2, "retry_delay_s": 60}


def heat_task(manifest: dict[str, Any]) -> dict[str, Any] | None:
    """An hourly task reading the first heat meters' thermal power, supply / return temperature and flow
    (CJ/T 188 current values): what the heat dashboards' temperature and power panels show."""
    meters = [m["meter_id"] for t in manifest["terminals"] for m in t["meters"] if m["utility"] == "heat"]
    if not meters:
        return None
    return {"id": "heat-conditions", "name": "Heat meters: thermal power and temperatures", "type": "realtime",
            "target": {"meters": meters[:HEAT_METERS]}, "items": HEAT_ITEMS,
            "period": {"unit": "hourly", "at": "00:05"}, "retries": 1, "retry_delay_s": 60}


def _customer_meter(t: dict[str, Any], m: dict[str, Any]) -> dict[str, Any]:
    utility = m["utility"]
    return {
        "customer_id": f"C-{m['meter_id']}", "customer_name": f"Customer of {m['meter_id']}",
        "utility": utility, "category": CATEGORIES.get((utility, m["kind"]), FALLBACK_CATEGORY[utility]),
        "company_id": COMPANY, "region_id": REGION,
        "metering_point_id": point_id(t["key"], m["pn"]), "terminal_id": terminal_id(t["key"]),
        "pn": m["pn"], "port": m["port"], "local_scheme": m.get("local_scheme"), "meter_id": m["meter_id"],
        "voltage_level_kv": VOLTAGE_KV.get(m["kind"]),
        "meter_model": m["kind"],
        "protocol": PROTOCOLS[m["protocol"]], "meter_address": m["address"],
        "register_digits": REGISTER_DIGITS, "installed_at": m["installed_at"],
    }


def seed(archive_url: str, token: str, manifest_path: Path, *, timeout_s: float = 120.0) -> SeedPlan:
    """Apply the plan through the archive's HTTP API (idempotent: a second run changes nothing)."""
    plan = plan_from_manifest(json.loads(manifest_path.read_text()))
    for kind, rows in plan.imports:
        if rows:
            _post(f"{archive_url}/api/v1/import/{kind}", rows, token, timeout_s)
        if kind == "terminals" and plan.passwords:
            # right after the terminals, long before the collector's first tasks: the archive publishes them
            # sealed and the FEP sends each terminal its own PW from then on
            _post(f"{archive_url}/api/v1/terminal-passwords/import", plan.passwords, token, timeout_s)
    return plan


def start_first_collection(collector_url: str, token: str, *, wait_s: float = 30.0) -> list[str]:
    """Run the collector's automatic tasks once now (they were just created from the archive's
    installations); returns the task ids started. Waits for the tasks to appear."""
    deadline = time.monotonic() + wait_s
    tasks: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        req = urllib.request.Request(f"{collector_url}/api/v1/tasks", headers={"Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            body = json.loads(resp.read())
        tasks = body.get("items", []) if isinstance(body, dict) else body
        if tasks:
            break
        time.sleep(1.0)
    started = []
    for task in tasks:
        _post(f"{collector_url}/api/v1/tasks/{task['id']}/runs", {}, token, 30.0)
        started.append(str(task["id"]))
    return started


def start_curves(collector_url: str, token: str, manifest_path: Path) -> str | None:
    """Create the load-curve and heat-conditions tasks (a second run keeps them) and run each once now;
    their ids, or None."""
    manifest = json.loads(manifest_path.read_text())
    started = []
    for task in (curve_task(manifest), heat_task(manifest)):
        if task is None:
            continue
        try:
            _post(f"{collector_url}/api/v1/tasks", task, token, 30.0)
        except RuntimeError as exc:
            if "409" not in str(exc):
                raise
        _post(f"{collector_url}/api/v1/tasks/{task['id']}/runs", {}, token, 30.0)
        started.append(str(task["id"]))
    return ", ".join(started) or None


def _post(url: str, body: Any, token: str, timeout_s: float) -> None:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(req, timeout=timeout_s) as resp:
            resp.read()
    except urllib.error.HTTPError as exc:
        raise RuntimeError(f"{url}: {exc.code} {exc.read()[:2000]!r}") from None
