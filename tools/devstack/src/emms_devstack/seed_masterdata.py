"""Load the simulated fleet's manifest into the archive, as a utility's source system would.

``make up`` starts the simulator, which writes a manifest of its concentrators and
the meters behind them. This module turns it into the archive's batch imports
(company, regions, service areas, terminals, then one ``customer-meters`` row per
meter) and replays the meter replacements that already happened. The archive then
publishes ``MasterDataChange`` for every installation, which is how the collector
learns what to read — the same path a real integration takes.
"""

from __future__ import annotations

import json
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
    new_meters: list[dict[str, Any]] = field(default_factory=list)
    replacements: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

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
    rows: list[dict[str, Any]] = []
    for t in manifest["terminals"]:
        for m in t["meters"]:
            if m.get("removed_at") and datetime.fromisoformat(m["removed_at"]) <= now:
                continue
            if datetime.fromisoformat(m["installed_at"]) > now:
                continue  # added later: the concentrator reports it when it happens
            rows.append(_customer_meter(t, m))
            plan.replacements += _replacements(t, m, now, plan.new_meters)
    plan.imports.append(("customer-meters", rows))
    return plan


def _customer_meter(t: dict[str, Any], m: dict[str, Any]) -> dict[str, Any]:
    utility = m["utility"]
    return {
        "customer_id": f"C-{m['meter_id']}", "customer_name": f"Customer of {m['meter_id']}",
        "utility": utility, "category": CATEGORIES.get((utility, m["kind"]), FALLBACK_CATEGORY[utility]),
        "company_id": COMPANY, "region_id": REGION,
        "metering_point_id": point_id(t["key"], m["pn"]), "terminal_id": terminal_id(t["key"]),
        "pn": m["pn"], "port": m["port"], "meter_id": m["meter_id"], "meter_model": m["kind"],
        "protocol": PROTOCOLS[m["protocol"]], "meter_address": m["address"],
        "register_digits": REGISTER_DIGITS, "installed_at": m["installed_at"],
    }


def _replacements(t: dict[str, Any], m: dict[str, Any], now: datetime,
                  new_meters: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    out: list[tuple[str, dict[str, Any]]] = []
    for n, r in enumerate(m.get("replacements") or [], start=1):
        if datetime.fromisoformat(r["at"]) > now:
            break
        new_id = f"{m['meter_id']}-r{n}"
        new_meters.append({"id": new_id, "utility": m["utility"], "model": m["kind"],
                           "protocol": PROTOCOLS[m["protocol"]], "address": r["new_address"],
                           "register_digits": REGISTER_DIGITS, "company_id": COMPANY})
        out.append((point_id(t["key"], m["pn"]), {"new_meter_id": new_id, "at": r["at"],
                                                   "reason": "meter replaced (simulator)"}))
    return out


def seed(archive_url: str, token: str, manifest_path: Path, *, timeout_s: float = 120.0) -> SeedPlan:
    """Apply the plan through the archive's HTTP API (idempotent: a second run changes nothing)."""
    plan = plan_from_manifest(json.loads(manifest_path.read_text()))
    for kind, rows in plan.imports:
        if rows:
            _post(f"{archive_url}/api/v1/import/{kind}", rows, token, timeout_s)
    if plan.new_meters:
        _post(f"{archive_url}/api/v1/import/meters", plan.new_meters, token, timeout_s)
    for point, body in plan.replacements:
        _post(f"{archive_url}/api/v1/metering-points/{point}/replace-meter", body, token, timeout_s,
              conflict_ok=True)  # 409: already replaced by an earlier run
    return plan


def _post(url: str, body: Any, token: str, timeout_s: float, *, conflict_ok: bool = False) -> None:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(req, timeout=timeout_s) as resp:
            resp.read()
    except urllib.error.HTTPError as exc:
        if conflict_ok and exc.code == 409:
            return
        raise RuntimeError(f"{url}: {exc.code} {exc.read()[:2000]!r}") from None
