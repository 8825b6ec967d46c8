"""Dependency aliases of the collector's routes: the runtime and the roles."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request

from emms_collector.runtime import CollectorRuntime
from emms_runtime import Principal, require_role


def _collector(request: Request) -> CollectorRuntime:
    state = getattr(request.app.state.runtime, "state", None)
    if not isinstance(state, CollectorRuntime):
        raise HTTPException(503, detail="the collector runtime is not running")
    return state


CollectorDep = Annotated[CollectorRuntime, Depends(_collector)]
Viewer = Annotated[Principal, require_role("viewer", "operator", "integrator")]
Operator = Annotated[Principal, require_role("operator", "integrator")]
"""Tasks and reads may be requested by operators and by other business systems (R-4.7)."""
