"""Dependency aliases of the validator's routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request

from emms_runtime import Principal, require_role
from emms_validator.runtime import ValidatorRuntime

METER_PATTERN = r"^[0-9A-Za-z][0-9A-Za-z_.:-]{0,63}$"
ITEM_PATTERN = r"^[0-9A-Za-z][0-9A-Za-z_.:-]{0,99}$"


def _validator(request: Request) -> ValidatorRuntime:
    vr = getattr(request.app.state.runtime, "state", None)
    if not isinstance(vr, ValidatorRuntime):
        raise HTTPException(503, detail="the validator runtime is not running")
    return vr


ValidatorDep = Annotated[ValidatorRuntime, Depends(_validator)]
Viewer = Annotated[Principal, require_role("viewer", "operator", "integrator")]
Operator = Annotated[Principal, require_role("operator")]
