"""Dependency aliases of the collector's routes: the runtime and the roles."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from emms_collector.runtime import CollectorRuntime
from emms_runtime import Permission, Principal, require, state_dependency

CollectorDep = Annotated[CollectorRuntime, Depends(state_dependency(CollectorRuntime))]
Viewer = Annotated[Principal, require(Permission.COLLECTION_READ)]
"""Tasks, runs, gaps, quality, points and clocks of meters in the caller's scope."""
Operator = Annotated[Principal, require(Permission.COLLECTION_RUN)]
"""Tasks and reads may be requested by operators and by other business systems (R-4.7)."""
CatalogViewer = Annotated[Principal, require(Permission.COLLECTION_READ, scope="global")]
"""Templates and the item catalogue: the same for every company."""
CatalogEditor = Annotated[Principal, require(Permission.COLLECTION_RUN, scope="global")]
ClockApprover = Annotated[Principal, require(Permission.CLOCK_APPROVE)]
"""Setting clocks: terminal syncs and approving meter syncs."""
