"""Dependency aliases of the validator's routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from emms_runtime import Principal, require_role, state_dependency
from emms_validator.runtime import ValidatorRuntime

METER_PATTERN = r"^[0-9A-Za-z][0-9A-Za-z_.:-]{0,63}$"
ITEM_PATTERN = r"^[0-9A-Za-z][0-9A-Za-z_.:-]{0,99}$"



ValidatorDep = Annotated[ValidatorRuntime, Depends(state_dependency(ValidatorRuntime))]
Viewer = Annotated[Principal, require_role("viewer", "operator", "integrator")]
Operator = Annotated[Principal, require_role("operator")]
