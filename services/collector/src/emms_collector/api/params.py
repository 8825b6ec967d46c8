"""Bounded query and path parameters of the collector's routes.

Every number a client passes ends up in SQL (``LIMIT``/``OFFSET``, a ``bigint`` key) and every string in
a ``text`` comparison, so each has bounds PostgreSQL accepts: an offset or id beyond 64 bits, a string
with NUL or one longer than any key are refused with 422 here instead of failing in the database.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

from emms_collector.inputs import PLAIN, AnyInstant

MAX_OFFSET = 10_000_000
"""Deeper than any page a client reads; narrow the filters instead."""
MAX_ID = 2**63 - 1
"""The largest ``bigserial`` (run and clock-sync ids)."""
TERMINAL = r"^[0-9A-Fa-f]{4}-\d{5}$"
TASK_ID = r"^[A-Za-z0-9][A-Za-z0-9._:@\-]*$"

Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description=f"rows to skip (at most {MAX_OFFSET:,})")]
RowId = Annotated[int, Path(ge=1, le=MAX_ID)]
TaskPath = Annotated[str, Path(min_length=1, max_length=80, pattern=TASK_ID)]
TERMINAL_HELP = "terminal address, e.g. 3701-00012"
TerminalPath = Annotated[str, Path(max_length=10, pattern=TERMINAL, description=TERMINAL_HELP)]
TerminalQuery = Annotated[str | None, Query(max_length=10, pattern=TERMINAL, description=TERMINAL_HELP)]
MeterQuery = Annotated[str | None, Query(min_length=1, max_length=64, pattern=PLAIN)]
TaskQuery = Annotated[str | None, Query(min_length=1, max_length=80, pattern=TASK_ID)]
TimeFilter = AnyInstant
"""A time filter: with or without its zone (without: UTC), between 1970 and 2999."""
