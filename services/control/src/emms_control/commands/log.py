"""The immutable command / parameter log (item 7; control's part of the duty log, R-4.6.7).

Every command (its submission, each request sent, each result, retries with their reason, the final
result with the verified state) and every parameter change control issues is one row of
``control.command_log``; the database refuses UPDATE, DELETE and TRUNCATE on it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from emms_control.repository import command_log as log_sql
from emms_db.connection import Connection


async def record_parameter_change(conn: Connection, *, who: str, what: str, origin: str,
                                  meter_id: str | None = None, terminal: str | None = None,
                                  before: Any = None, after: Any = None, reason: str = "",
                                  request_ids: Sequence[str] = (), outcome: str | None = None,
                                  verified_state: str | None = None, job_id: str | None = None) -> int:
    """One log row for a parameter change (a purchase written, a threshold set, a tariff sent…):
    who, what (a short name, e.g. ``"purchase"``, ``"afn04.f47"``), to which meter / terminal, the values
    before / after, the request ids and the frames' outcome when known. Returns the row's id. Runs in
    the caller's transaction, so the change and its row commit together."""
    if not (meter_id or terminal):
        raise ValueError("a parameter change names a meter or a terminal")
    detail = {"before": before, "after": after, "reason": reason, "request_ids": list(request_ids)}
    return await log_sql.insert_one(conn, kind="parameter", event="parameter_change", job_id=job_id,
                                    meter_id=meter_id, terminal=terminal, operator=who, origin=origin,
                                    action=what, request_id=request_ids[-1] if request_ids else None,
                                    outcome=outcome, verified_state=verified_state,
                                    detail=json.dumps(detail, default=str))


def detail_json(detail: Mapping[str, Any]) -> str:
    return json.dumps(dict(detail), default=str)
