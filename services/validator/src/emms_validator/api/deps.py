"""Dependency aliases of the validator's routes: who may call, in which data scope, with bounded parameters.

Scope (R-4.6.2): company-scoped routes get a :class:`Caller`. Lists and statistics keep to the
meters and customers of the caller's scope (:mod:`emms_validator.scope`); a route that names one
meter, customer or anomaly outside the scope answers **403** with the reason, counted and audited
like every other refusal (:func:`emms_runtime.auth.dependencies.deny`). For a restricted caller
a meter or customer the validator has no owner for is outside the scope too (403, not 404: the
answer does not tell whether another company has it). An anomaly id that does not exist is 404.

Bounds: every integer parameter has a maximum, every string a length and a pattern without
control characters (PostgreSQL refuses NUL in text), every instant a range PostgreSQL and Python
both take; anything else is a 422 with the reason, never a 500.
"""

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Query, Request
from pydantic import AfterValidator, AwareDatetime, BeforeValidator, StringConstraints, WithJsonSchema

from emms_db.connection import Connection
from emms_runtime import Permission, Principal, require, state_dependency
from emms_runtime.auth.dependencies import deny
from emms_validator.runtime import SCHEMA, ValidatorRuntime
from emms_validator.scope import Scope

METER_PATTERN = r"^[0-9A-Za-z][0-9A-Za-z_.:-]{0,63}$"
ITEM_PATTERN = r"^[0-9A-Za-z][0-9A-Za-z_.:-]{0,99}$"
CUSTOMER_PATTERN = r"^[0-9A-Za-z][0-9A-Za-z_.:-]{0,63}$"
RULE_PATTERN = r"^[0-9A-Za-z_.-]{1,60}$"
PRINTABLE = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"
"""Any text but control characters (tab and line breaks allowed): notes, reasons."""
LABEL = r"^[^\x00-\x1f\x7f]*$"
"""One line of text without control characters: categories, utilities, types, units."""
MAX_OFFSET = 2_147_483_647
"""The largest page offset (2^31 - 1): far past any table here, and well inside PostgreSQL's bigint."""
FIRST_YEAR, LAST_YEAR = 1900, 8999
_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}")
INSTANT_SCHEMA: dict[str, Any] = {"type": "string", "format": "date-time", "pattern": r"^(19\d\d|[2-8]\d\d\d)-"}
"""How an instant is documented: ISO 8601 text in the years 1900 to 8999."""


def iso_text(value: Any) -> Any:
    """Only ISO 8601 text (or a ``datetime``) is a time here: not a number of seconds, which pydantic would
    otherwise read as a Unix time."""
    if isinstance(value, datetime) or (isinstance(value, str) and _ISO.match(value.strip())):
        return value
    raise ValueError("must be an ISO 8601 date-time such as 2026-01-01T00:00:00+00:00")


def bounded_instant(value: datetime) -> datetime:
    """An instant PostgreSQL and Python both take, as UTC (a naive one is UTC): years 1900 to 8999, so no
    offset can carry it out of Python's range on the way to UTC."""
    if not FIRST_YEAR <= value.year <= LAST_YEAR:
        raise ValueError(f"year {value.year} is out of range: give a time in the years {FIRST_YEAR} to {LAST_YEAR}")
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return aware.astimezone(UTC)


Instant = Annotated[datetime, BeforeValidator(iso_text), AfterValidator(bounded_instant),
                    WithJsonSchema(INSTANT_SCHEMA)]
"""A date-time in the years 1900 to 8999 (ISO 8601; without an offset it is UTC)."""
AwareInstant = Annotated[AwareDatetime, BeforeValidator(iso_text), AfterValidator(bounded_instant),
                         WithJsonSchema(INSTANT_SCHEMA)]
"""A date-time in the years 1900 to 8999 with its UTC offset."""
Note = Annotated[str, StringConstraints(max_length=2000, pattern=PRINTABLE)]
Label = Annotated[str, StringConstraints(max_length=100, pattern=LABEL)]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="rows to skip (at most 2^31 - 1)")]


ValidatorDep = Annotated[ValidatorRuntime, Depends(state_dependency(ValidatorRuntime))]


@dataclass(frozen=True, slots=True)
class Caller:
    """The caller of a company-scoped route: who it is, its data scope, and refusals with an audit record."""

    principal: Principal
    scope: Scope
    request: Request

    @property
    def subject(self) -> str:
        return self.principal.subject

    def refuse(self, what: str) -> HTTPException:
        return deny(self.request, 403, f"{what} is outside your data scope ({self.scope.describe()})",
                    self.principal)

    async def require_meter(self, conn: Connection, meter_id: str) -> None:
        """403 unless ``meter_id`` is in scope."""
        if not await self.scope.allows_meter(conn, meter_id):
            raise self.refuse(f"meter {meter_id}")

    async def require_customer(self, conn: Connection, customer_id: str) -> None:
        """403 unless ``customer_id`` is in scope."""
        if not await self.scope.allows_customer(conn, customer_id):
            raise self.refuse(f"customer {customer_id}")


def _scoped(permission: Permission) -> Any:
    # no ``from __future__ import annotations`` in this module: FastAPI reads this closure's annotations
    async def caller(request: Request, principal: Annotated[Principal, require(permission)]) -> Caller:
        return Caller(principal, Scope.of(principal, SCHEMA), request)

    return Depends(caller)


Viewer = Annotated[Caller, _scoped(Permission.VALIDATION_READ)]
"""Anomalies, validation states and review queues of meters in the caller's scope."""
Operator = Annotated[Caller, _scoped(Permission.VALIDATION_REVIEW)]
"""Anomaly workflow and manual edits of readings of meters in the caller's scope."""
RulesViewer = Annotated[Principal, require(Permission.VALIDATION_READ, scope="global")]
"""The rule catalogue and overrides: configuration, the same for every company."""
Configurer = Annotated[Principal, require(Permission.VALIDATION_CONFIGURE, scope="global")]
"""Rule overrides and key-customer rules."""
KeyMarker = Annotated[Caller, _scoped(Permission.VALIDATION_CONFIGURE)]
"""Marking a customer in scope as key by hand."""
