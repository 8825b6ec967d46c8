"""Dependencies of the reports routes: the runtime, the caller, the caller's own token (forwarded upstream)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Depends, Query, Request

from emms_reports.definition import Period, ReportDefinition
from emms_reports.run import FORMATS
from emms_reports.runtime import ReportsRuntime
from emms_runtime import Invalid, Permission, Principal, require, state_dependency

Runtime = Annotated[ReportsRuntime, Depends(state_dependency(ReportsRuntime))]
Reader = Annotated[Principal, require(Permission.AGGREGATES_READ)]
Scheduler = Annotated[Principal, require(Permission.SERVICE_CONFIGURE)]
FormatParam = Annotated[str, Query(alias="format", description="xlsx, pdf or csv")]


def caller_token(request: Request) -> str:
    """The bearer token the caller came with (authenticated already by the route's access check)."""
    header = request.headers.get("authorization", "")
    return header.split(" ", 1)[1].strip() if " " in header else ""


Token = Annotated[str, Depends(caller_token)]


def checked_format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise Invalid(f"unknown format {fmt!r}; formats are {', '.join(FORMATS)}")
    return fmt


def with_period(definition: ReportDefinition, start: datetime | None, end: datetime | None) -> ReportDefinition:
    """The definition with a fixed period when the request names one (``from`` and ``to`` together)."""
    if start is None and end is None:
        return definition
    if start is None or end is None:
        raise Invalid("give both from and to, or neither")
    try:
        period = Period.model_validate({"kind": "fixed", "from": start, "to": end})
    except ValueError as exc:
        raise Invalid(str(exc)) from None
    return definition.model_copy(update={"period": period})
