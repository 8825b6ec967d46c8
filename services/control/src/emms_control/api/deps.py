"""Dependency aliases and path / query shapes of the control service's routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path

from emms_control.accounts.bodies import ID_PATTERN
from emms_control.runtime import ControlRuntime
from emms_control.tariffs.definition import TARIFF_ID
from emms_runtime import Permission, Principal, require, state_dependency

ControlDep = Annotated[ControlRuntime, Depends(state_dependency(ControlRuntime))]
TariffReader = Annotated[Principal, require(Permission.MASTERDATA_READ, scope="global")]
"""Tariffs: the same for every company."""
TariffChanger = Annotated[Principal, require(Permission.TARIFFS_CHANGE, scope="global")]
"""New tariffs and versions (a step-up permission)."""
AccountReader = Annotated[Principal, require(Permission.READINGS_READ)]
"""Accounts, payments, ledger and charges of the caller's companies, regions, customers."""
AccountEditor = Annotated[Principal, require(Permission.MASTERDATA_EDIT)]
"""Opening and closing accounts in scope, recording payments and refunds."""

TariffId = Annotated[str, Path(pattern=TARIFF_ID)]
AccountId = Annotated[str, Path(pattern=r"^[0-9a-f-]{36}$", description="the id the account was opened with")]
PaymentId = Annotated[str, Path(pattern=ID_PATTERN)]
ControlSender = Annotated[Principal, require(Permission.CONTROL_SEND)]
"""Automatic control set-up (prepayment mode and thresholds, quantity limits): a step-up permission."""
CollectionRunner = Annotated[Principal, require(Permission.COLLECTION_RUN)]
"""Reading a device now (the remaining amount of a terminal- / meter-mode account)."""
MeterId = Annotated[str, Path(pattern=ID_PATTERN)]
