"""Execution quality (R-4.2.5): success rates and completeness per run and task, by dimension.

Definitions (per run, over the meters its target had when it started):

* **one-time success rate** — meters whose every item came on the first attempt / meters;
* **success rate after retries** — meters complete when the run ended / meters;
* **periodic success rate** — meters complete now, after retries, back-fill, reports and manual reads / meters;
* **data completeness rate** — items collected now / items expected;

with the failures grouped by reason. Breakdowns by terminal, region, utility
(meter type), meter protocol and local communication scheme (R-4.6.7: carrier,
wireless, RS-485 … — :mod:`emms_collector.local_scheme`) join the
measurement-point table.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from emms_collector.repository import quality as quality_sql
from emms_collector.repository.quality import Dimension
from emms_collector.repository.scope import UNRESTRICTED, Scope
from emms_db.connection import Connection

__all__ = ["Dimension", "figures", "rates", "runs_of"]


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


async def figures(conn: Connection, *, run_id: int | None = None, task_id: str | None = None,
                  since: datetime | None = None, until: datetime | None = None, by: Dimension | None = None,
                  limit: int = 1000, scope: Scope = UNRESTRICTED) -> dict[str, Any]:
    """Overall figures of the selected runs, the breakdown ``by`` a dimension, and the failure reasons — over
    the meters in ``scope`` only."""
    total, rows, reasons = await quality_sql.counts(conn, run_id=run_id, task_id=task_id, since=since, until=until,
                                                    by=by, limit=limit, scope=scope)
    out: dict[str, Any] = {"overall": rates(total)}
    if by is not None:
        out["by"] = by
        out["breakdown"] = [{"key": r["key"], **rates(r)} for r in rows]
    out["failure_reasons"] = reasons
    return out


async def runs_of(conn: Connection, task_id: str, since: datetime | None, until: datetime | None,
                  limit: int = 100, scope: Scope = UNRESTRICTED) -> list[dict[str, Any]]:
    """Per-run figures of a task (over the meters in ``scope``), newest first."""
    rows = await quality_sql.run_counts(conn, task_id, since, until, limit, scope)
    return [{"run_id": r["run_id"], "due_at": r["due_at"], "data_time": r["data_time"], "status": r["status"],
             **rates(r)} for r in rows]
