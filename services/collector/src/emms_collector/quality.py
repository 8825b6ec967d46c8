"""Execution quality (R-4.2.5): success rates and completeness per run and task, by dimension.

Definitions (per run, over the meters its target had when it started):

* **one-time success rate** — meters whose every item came on the first attempt / meters;
* **success rate after retries** — meters complete when the run ended / meters;
* **periodic success rate** — meters complete now, after retries, back-fill, reports and manual reads / meters;
* **data completeness rate** — items collected now / items expected;

with the failures grouped by reason. Breakdowns by terminal, region, utility
(meter type) and meter protocol join the measurement-point table.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from emms_collector.schema import SCHEMA
from emms_db.connection import Connection
from emms_db.where import Where

Dimension = Literal["terminal", "region", "utility", "protocol"]
_COLUMN = {"terminal": "rm.terminal", "region": "coalesce(p.region_id, '')", "utility": "coalesce(p.utility, '')",
           "protocol": "coalesce(p.protocol, '')"}
_FIGURES = """count(*) AS meters,
       count(*) FILTER (WHERE rm.first_ok) AS ok_first,
       count(*) FILTER (WHERE rm.run_count = cardinality(rm.items)) AS ok_after_retries,
       count(*) FILTER (WHERE rm.state = 'ok') AS ok_final,
       coalesce(sum(cardinality(rm.items)), 0) AS items_expected,
       coalesce(sum(cardinality(rm.collected)), 0) AS items_collected"""


def rates(row: Any) -> dict[str, Any]:
    meters, items = row["meters"] or 0, row["items_expected"] or 0
    out = {k: row[k] for k in ("meters", "ok_first", "ok_after_retries", "ok_final", "items_expected",
                               "items_collected")}
    out.update({
        "success_first": row["ok_first"] / meters if meters else None,
        "success_after_retries": row["ok_after_retries"] / meters if meters else None,
        "success_final": row["ok_final"] / meters if meters else None,
        "completeness": row["items_collected"] / items if items else None,
    })
    return out


def _scope(run_id: int | None, task_id: str | None, since: datetime | None, until: datetime | None,
           ) -> tuple[str, list[Any]]:
    w = Where()
    w.add("r.status IN ('done', 'failed', 'running')")
    w.add_if("r.id = {}", run_id)
    w.add_if("r.task_id = {}", task_id)
    w.add_if("r.due_at >= {}", since)
    w.add_if("r.due_at < {}", until)
    return w.sql(), w.args


async def figures(conn: Connection, *, run_id: int | None = None, task_id: str | None = None,
                  since: datetime | None = None, until: datetime | None = None, by: Dimension | None = None,
                  limit: int = 1000) -> dict[str, Any]:
    """Overall figures of the selected runs, the breakdown ``by`` a dimension, and the failure reasons."""
    where, args = _scope(run_id, task_id, since, until)
    base = (f"FROM {SCHEMA}.run_meter rm JOIN {SCHEMA}.task_run r ON r.id = rm.run_id"
            f" LEFT JOIN {SCHEMA}.point p ON p.meter_id = rm.meter_id WHERE {where}")
    total = await conn.fetchrow(f"SELECT {_FIGURES} {base}", *args)
    out: dict[str, Any] = {"overall": rates(total)}
    if by is not None:
        rows = await conn.fetch(f"SELECT {_COLUMN[by]} AS key, {_FIGURES} {base} GROUP BY 1 ORDER BY 1"
                                f" LIMIT {int(limit)}", *args)
        out["by"] = by
        out["breakdown"] = [{"key": r["key"], **rates(r)} for r in rows]
    reasons = await conn.fetch(f"SELECT rm.reason, count(*) AS meters {base} AND rm.state <> 'ok'"
                               " GROUP BY rm.reason ORDER BY count(*) DESC LIMIT 20", *args)
    out["failure_reasons"] = [dict(r) for r in reasons]
    return out


async def runs_of(conn: Connection, task_id: str, since: datetime | None, until: datetime | None,
                  limit: int = 100) -> list[dict[str, Any]]:
    """Per-run figures of a task, newest first."""
    where, args = _scope(None, task_id, since, until)
    rows = await conn.fetch(
        f"SELECT r.id AS run_id, r.due_at, r.data_time, r.status, {_FIGURES}"
        f" FROM {SCHEMA}.task_run r LEFT JOIN {SCHEMA}.run_meter rm ON rm.run_id = r.id WHERE {where}"
        f" GROUP BY r.id ORDER BY r.due_at DESC LIMIT {int(limit)}", *args)
    return [{"run_id": r["run_id"], "due_at": r["due_at"], "data_time": r["data_time"], "status": r["status"],
             **rates(r)} for r in rows]
