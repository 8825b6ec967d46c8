"""Dependency aliases of the FEP's routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request

from emms_fep.runtime import FepRuntime
from emms_runtime import Principal, require_role

TERMINAL_PATTERN = r"^[0-9A-Za-z][0-9A-Za-z_-]{2,31}$"


def _fep(request: Request) -> FepRuntime:
    fep = getattr(request.app.state.runtime, "state", None)
    if not isinstance(fep, FepRuntime):
        raise HTTPException(503, detail="the FEP runtime is not running")
    return fep


FepDep = Annotated[FepRuntime, Depends(_fep)]
Viewer = Annotated[Principal, require_role("viewer", "operator", "integrator")]
