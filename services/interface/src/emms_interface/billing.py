"""Data to billing: validated readings of a billing cycle, straight from the archive (which owns them).

An extract is the archive's validated layer (latest version per reading) of the cycle's company and
utility from ``period_start`` to the ``cutoff``, page by page, each row with its provenance (``status``,
``method``, ``raw_source``, ``rules_failed``, ``validated_at``) and ``estimated`` = the value is not as
read (status ``estimated`` or ``repaired``). Held readings are never in it.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from emms_interface.upstream import Upstream

ESTIMATED = frozenset({"estimated", "repaired"})


def archive_query(cycle: dict[str, Any], customers: list[str] | None, items: list[str] | None,
                  limit: int, cursor: str | None) -> dict[str, Any]:
    query: dict[str, Any] = {"companies": [cycle["company_id"]], "utilities": [cycle["utility"]],
                             "from": cycle["period_start"].isoformat(), "to": cycle["cutoff"].isoformat(),
                             "layer": "validated", "limit": limit, "cursor": cursor}
    if customers:
        query["customers"] = customers
    if items:
        query["items"] = items
    return query


def billing_row(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "estimated": row.get("status") in ESTIMATED}


async def page(up: Upstream, cycle: dict[str, Any], customers: list[str] | None, items: list[str] | None,
               limit: int, cursor: str | None) -> dict[str, Any]:
    answer = await up.call("archive", "POST", "/api/v1/readings/query",
                           json=archive_query(cycle, customers, items, limit, cursor))
    rows = [billing_row(r) for r in answer["rows"] if r.get("status") != "held"]
    return {"rows": rows, "count": len(rows), "next_cursor": answer.get("next_cursor")}


async def ndjson(up: Upstream, cycle: dict[str, Any], customers: list[str] | None,
                 items: list[str] | None) -> AsyncIterator[bytes]:
    """Every row of the extract, one JSON document a line (page by page: never the whole cycle in memory)."""
    query = archive_query(cycle, customers, items, 5000, None)
    async for rows in up.pages("archive", "/api/v1/readings/query", query):
        yield b"".join(json.dumps(billing_row(r), default=str).encode() + b"\n"
                       for r in rows if r.get("status") != "held")
