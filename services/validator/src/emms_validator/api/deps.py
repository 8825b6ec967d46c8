"""Dependency aliases of the validator's routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from emms_runtime import Permission, Principal, require, state_dependency
from emms_validator.runtime import ValidatorRuntime

METER_PATTERN = r"^[0-9A-Za-z][0-9A-Za-z_.:-]{0,63}$"
ITEM_PATTERN = r"^[0-9A-Za-z][0-9A-Za-z_.:-]{0,99}$"



ValidatorDep = Annotated[ValidatorRuntime, Depends(state_dependency(ValidatorRuntime))]
Viewer = Annotated[Principal, require(Permission.VALIDATION_READ)]
"""Anomalies, validation states and review queues of meters in the caller's scope."""
Operator = Annotated[Principal, require(Permission.VALIDATION_REVIEW)]
"""Anomaly workflow and manual edits of readings."""
RulesViewer = Annotated[Principal, require(Permission.VALIDATION_READ, scope="global")]
"""The rule catalogue and overrides: configuration, the same for every company."""
Configurer = Annotated[Principal, require(Permission.VALIDATION_CONFIGURE, scope="global")]
"""Rule overrides and key-customer rules."""
KeyMarker = Annotated[Principal, require(Permission.VALIDATION_CONFIGURE)]
"""Marking a customer in scope as key by hand."""
