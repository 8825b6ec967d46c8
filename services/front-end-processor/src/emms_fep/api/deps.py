"""Dependency aliases of the FEP's routes: who may call, in which data scope, with bounded parameters.

Scope (R-4.6.2): the terminal routes get a :class:`Caller`. The terminal list keeps to the
terminals of the caller's scope (:mod:`emms_fep.scope`); a route that names a terminal outside it
answers **403** with the reason, counted and audited like every other refusal
(:func:`emms_runtime.auth.dependencies.deny`). For a restricted caller a terminal the FEP knows no
owner of is outside the scope too (403, not 404: the answer does not tell whether another company
has it); an unrestricted caller asking for a terminal never connected gets 404. The FEP's own
figures (stats, ports, replicas) are the fleet's, not a company's.

Bounds: every integer parameter has a maximum, every string a pattern without control characters
(PostgreSQL refuses NUL in text), every day a range Python's date arithmetic takes: anything else
is a 422 with the reason, never a 500.
"""

# no ``from __future__ import annotations`` in this module: FastAPI reads the closure's annotations below
import re
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Query, Request
from pydantic import AfterValidator, BeforeValidator, WithJsonSchema

from emms_db.connection import Connection
from emms_fep.runtime import SCHEMA, FepRuntime
from emms_fep.scope import Scope
from emms_runtime import Permission, Principal, require, state_dependency
from emms_runtime.auth.dependencies import deny

TERMINAL_PATTERN = r"^[0-9A-Za-z][0-9A-Za-z_-]{2,31}$"
REPLICA_PATTERN = r"^[0-9A-Za-z][0-9A-Za-z_.:@-]{0,199}$"
MAX_OFFSET = 2_147_483_647
"""The largest page offset (2^31 - 1): far past any fleet, and well inside PostgreSQL's bigint."""
FIRST_YEAR, LAST_YEAR = 1900, 8999
_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
DAY_SCHEMA: dict[str, Any] = {"type": "string", "format": "date", "pattern": r"^(19\d\d|[2-8]\d\d\d)-"}
"""How a day is documented: ISO 8601 text in the years 1900 to 8999."""


def iso_day(value: Any) -> Any:
    """Only ``YYYY-MM-DD`` text (or a ``date``) is a day here: not a number, which pydantic would read as a
    Unix time."""
    if isinstance(value, date) or (isinstance(value, str) and _ISO_DAY.match(value.strip())):
        return value
    raise ValueError("must be a day such as 2026-01-31")


def bounded_day(value: date) -> date:
    """A day in the years 1900 to 8999: a window counted back from it stays inside Python's dates."""
    if not FIRST_YEAR <= value.year <= LAST_YEAR:
        raise ValueError(f"year {value.year} is out of range: give a day in the years {FIRST_YEAR} to {LAST_YEAR}")
    return value


Day = Annotated[date, BeforeValidator(iso_day), AfterValidator(bounded_day), WithJsonSchema(DAY_SCHEMA)]
"""A day (ISO 8601) in the years 1900 to 8999."""
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="rows to skip (at most 2^31 - 1)")]

FepDep = Annotated[FepRuntime, Depends(state_dependency(FepRuntime))]


@dataclass(frozen=True, slots=True)
class Caller:
    """The caller of a terminal route: who it is, its data scope, and refusals with an audit record."""

    principal: Principal
    scope: Scope
    request: Request

    def refuse(self, what: str) -> HTTPException:
        return deny(self.request, 403, f"{what} is outside your data scope ({self.scope.describe()})",
                    self.principal)

    async def require_terminal(self, conn: Connection, terminal: str) -> None:
        """403 unless ``terminal`` is in scope."""
        if not await self.scope.allows_terminal(conn, terminal):
            raise self.refuse(f"terminal {terminal}")


def _scoped(permission: Permission) -> Any:
    async def caller(request: Request, principal: Annotated[Principal, require(permission)]) -> Caller:
        return Caller(principal, Scope.of(principal, SCHEMA), request)

    return Depends(caller)


Viewer = Annotated[Caller, _scoped(Permission.TERMINALS_READ)]
"""Terminals in the caller's scope: sessions, traffic."""
FleetViewer = Annotated[Principal, require(Permission.TERMINALS_READ, scope="global")]
"""The FEP's own figures: stats, ports, replicas."""
