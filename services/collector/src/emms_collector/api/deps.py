"""Dependency aliases of the collector's routes: the runtime and the roles."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from emms_collector.runtime import CollectorRuntime
from emms_runtime import Principal, require_role, state_dependency

CollectorDep = Annotated[CollectorRuntime, Depends(state_dependency(CollectorRuntime))]
Viewer = Annotated[Principal, require_role("viewer", "operator", "integrator")]
Operator = Annotated[Principal, require_role("operator", "integrator")]
"""Tasks and reads may be requested by operators and by other business systems (R-4.7)."""
