"""``make up``'s fleet feeds the analytics dashboards: load curves with three phase currents (unbalance),
heat meters' thermal power and temperatures, several heat-exchange stations and buildings."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

from emms_collector.reading.item_routing import CJT188, ELECTRICITY, choose
from emms_collector.tasks.model import TaskBody
from emms_collector.tasks.types import TaskType
from emms_devstack.seed_masterdata import curve_task, heat_task, plan_from_manifest


def _manifest(tmp_path: Path) -> dict[str, object]:
    path = tmp_path / "fleet.json"
    subprocess.run([sys.executable, "-m", "emms_sim.cli", "manifest", str(path), "--concentrators", "20",
                    "--meters-per", "50", "--seed", "1"], check=True, capture_output=True, timeout=120)
    data: dict[str, object] = json.loads(path.read_text())
    return data


def test_the_fleet_has_what_the_dashboards_show(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    manifest = _manifest(tmp_path)
    curves, heat = curve_task(manifest), heat_task(manifest)
    assert curves is not None and heat is not None
    assert {"power.active.total", "current.a", "current.b", "current.c"} <= set(curves["items"])
    routes, unread = choose(TaskType.CURVE, ELECTRICITY, curves["items"])
    assert routes and not unread
    body = TaskBody.model_validate(heat)
    assert body.type is TaskType.REALTIME and heat["target"]["meters"]
    routes, unread = choose(TaskType.REALTIME, CJT188, heat["items"])
    assert routes and not unread, unread
    imports = dict(plan_from_manifest(manifest, datetime(2026, 6, 1, tzinfo=UTC)).imports)
    kinds = Counter(r["kind"] for r in imports["network-nodes"])
    assert kinds["heat_exchange_station"] >= 2 and kinds["building"] >= 2
