"""Importing the simulator's fleet manifest as measurement points (tests, benchmarks, ``make up``).

The manifest (``emms_sim.manifest``) lists terminals (``key``) and the meters
behind each (pn, meter id, utility, protocol, port, local communication scheme,
address, install / removal / replacement times). A meter is active when installed and not removed at the
import time; a replaced meter is read at its new address from the swap on.
The import is an upsert, so re-importing a changed file is safe; with
``join_templates`` the meters also join the automatic tasks of their type.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import structlog

from emms_collector.repository import points as point_sql
from emms_collector.repository.templates import list_templates
from emms_collector.tasks.auto_tasks import join_many

log = structlog.get_logger("emms.collector.manifest")
CHUNK = 20_000


def _instant(text: Any) -> datetime | None:
    if not text:
        return None
    moment = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def point_rows(doc: dict[str, Any], now: datetime) -> list[dict[str, Any]]:
    """Point rows of every meter in a manifest document, as of ``now``."""
    rows: list[dict[str, Any]] = []
    for terminal in doc.get("terminals", []):
        key = str(terminal["key"])
        for m in terminal.get("meters", []):
            installed, removed = _instant(m.get("installed_at")), _instant(m.get("removed_at"))
            address = str(m.get("address") or "")
            for swap in m.get("replacements") or []:
                at = _instant(swap.get("at"))
                if at is not None and at <= now:
                    address = str(swap.get("new_address") or address)
            active = (installed is None or installed <= now) and (removed is None or now < removed)
            rows.append({"meter_id": str(m["meter_id"]), "terminal": key, "pn": int(m["pn"]),
                         "utility": str(m["utility"]), "protocol": str(m.get("protocol") or ""),
                         "meter_address": address, "port": m.get("port"),
                         "local_scheme": m.get("local_scheme"), "valid_from": installed,
                         "valid_to": removed, "active": active, "source": "manifest",
                         "region_id": terminal.get("region_id") or terminal.get("a1"),
                         "company_id": terminal.get("company_id")})
    return rows


async def import_manifest(pool: asyncpg.Pool, path: str | Path, *, join_templates: bool = True,
                          now: datetime | None = None) -> int:
    """Upsert every meter of the manifest at ``path``; return how many points were written."""
    text = await asyncio.to_thread(Path(path).read_text, encoding="utf-8")
    doc = await asyncio.to_thread(json.loads, text)
    rows = point_rows(doc, now or datetime.now(UTC))
    written = 0
    async with pool.acquire() as conn:
        templates = await list_templates(conn) if join_templates else []
        for start in range(0, len(rows), CHUNK):
            chunk = rows[start:start + CHUNK]
            async with conn.transaction():
                written += await point_sql.upsert_points(conn, [r for r in chunk if not r["active"]])
                written += await point_sql.upsert_points(conn, [r for r in chunk if r["active"]])
                if templates:
                    await join_many(conn, templates, [(r["meter_id"], r["utility"], r["protocol"])
                                                      for r in chunk if r["active"]], "manifest")
    log.info("manifest imported", path=str(path), points=written)
    return written
