"""Dependency aliases of the FEP's routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from emms_fep.runtime import FepRuntime
from emms_runtime import Permission, Principal, require, state_dependency

TERMINAL_PATTERN = r"^[0-9A-Za-z][0-9A-Za-z_-]{2,31}$"



FepDep = Annotated[FepRuntime, Depends(state_dependency(FepRuntime))]
Viewer = Annotated[Principal, require(Permission.TERMINALS_READ)]
"""Terminals in the caller's scope: sessions, traffic."""
FleetViewer = Annotated[Principal, require(Permission.TERMINALS_READ, scope="global")]
"""The FEP's own figures: stats, ports, replicas."""
