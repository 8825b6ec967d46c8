"""What the operations routes need: the runtime and the caller's permission.

No ``from __future__ import annotations`` here: FastAPI reads these annotations at import.
"""

from typing import Annotated

from fastapi import Depends, Query

from emms_operations.runtime import OperationsRuntime
from emms_runtime import Permission, Principal, require, state_dependency

OpsDep = Annotated[OperationsRuntime, Depends(state_dependency(OperationsRuntime))]
Reader = Annotated[Principal, require(Permission.TERMINALS_READ, scope="global")]
"""Faults, tickets, maintenance, availability, statistics: anyone who may read terminals."""
Worker = Annotated[Principal, require(Permission.TERMINALS_OPERATE, scope="global")]
"""Opening and working tickets, maintenance records, planned windows: operators."""
StatusReader = Annotated[Principal, require(Permission.SERVICE_READ, scope="global")]
DutyReader = Annotated[Principal, require(Permission.AUDIT_READ, scope="global")]
"""The duty log is an audit record: auditors and admins."""
Limit = Annotated[int, Query(ge=1, le=1000)]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]
Text = Annotated[str | None, Query(max_length=200, pattern=r"^[^\x00]*$")]
