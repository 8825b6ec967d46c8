"""``/api/v1/terminal-classes``: settings per terminal class — the clock tolerance (R-4.6.1.3) and the ERC
codes that count as important (R-4.5.4.3, events on demand).

A terminal's class is its master-data ``model`` when a class of that name exists, else its ``kind``
(``concentrator``, ``collector``). The settings are global (every company's terminals of a class alike):
reading them needs the catalogue view, changing them ``terminals:operate`` at global scope.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Response
from pydantic import BaseModel, Field

from emms_collector.api.deps import CatalogViewer, CollectorDep
from emms_collector.api.params import TerminalQuery
from emms_collector.api.responses import EventConfigPush, TerminalClass, TerminalClasses
from emms_collector.intake import event_config
from emms_collector.repository import terminal_class as class_sql
from emms_runtime import Conflict, Invalid, NotFound, Permission, Principal, require

router = APIRouter(prefix="/api/v1/terminal-classes", tags=["clock"])
ClassEditor = Annotated[Principal, require(Permission.TERMINALS_OPERATE, scope="global")]
UPSTREAM_CLASS: dict[int | str, dict[str, Any]] = {409: {"description": "The class sets no important ERCs"}}
ClassName = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]


Erc = Annotated[int, Field(ge=0, le=1000)]  # 1–255 are checked with a reason (422) in the route


class ClassSettings(BaseModel):
    clock_tolerance_s: float | None = Field(default=None, gt=0, le=3600,
                                            description="clock error tolerated (none: the service default)")
    important_ercs: list[Erc] | None = Field(default=None, max_length=256, description=(
        "ERC codes published as important and read at once on ACD (none: the terminal's own queues decide)"))

    def codes(self) -> list[int] | None:
        if self.important_ercs is None:
            return None
        return sorted(set(self.important_ercs))


@router.get("", response_model=TerminalClasses, summary="Settings per terminal class")
async def list_classes(c: CollectorDep, principal: CatalogViewer) -> dict[str, Any]:
    async with c.pool.acquire() as conn:
        items = await class_sql.all_classes(conn)
    return {"default_clock_tolerance_s": c.settings.timesync.tolerance_s, "items": items}


@router.put("/{name}", response_model=TerminalClass,
            summary="Set a terminal class's clock tolerance and important ERCs")
async def put_class(c: CollectorDep, principal: ClassEditor, name: ClassName, body: ClassSettings) -> dict[str, Any]:
    """422 for an ERC code outside 1–255 or a tolerance not above 0."""
    codes = body.codes()
    if codes is not None and any(not 1 <= code <= 255 for code in codes):
        raise Invalid("ERC codes are 1 to 255")
    async with c.pool.acquire() as conn:
        return await class_sql.put(conn, name, body.clock_tolerance_s, codes, principal.subject)


@router.post("/{name}/push", response_model=EventConfigPush, responses=UPSTREAM_CLASS,
             summary="Tell the class's terminals its important ERCs (AFN 04 F9)")
async def push_event_config(c: CollectorDep, principal: ClassEditor, name: ClassName,
                            terminal: TerminalQuery = None) -> dict[str, Any]:
    """Every terminal of the class (master data: model, else kind), or the one named. 404 for a class without
    settings, 409 when it sets no important ERCs."""
    async with c.pool.acquire() as conn:
        row = await class_sql.get(conn, name)
        if row is None:
            raise NotFound(f"no terminal class {name}")
        if row["important_ercs"] is None:
            raise Conflict(f"terminal class {name} sets no important ERCs")
        terminals = [terminal.upper()] if terminal else await class_sql.terminals_of(conn, name)
    results = await event_config.push(c.dispatcher, terminals, list(row["important_ercs"]))
    return {"class": name, "important_ercs": list(row["important_ercs"]), "results": results}


@router.delete("/{name}", response_class=Response, status_code=204, summary="Remove a terminal class's settings")
async def delete_class(c: CollectorDep, principal: ClassEditor, name: ClassName) -> Response:
    async with c.pool.acquire() as conn:
        if not await class_sql.remove(conn, name):
            raise NotFound(f"no terminal class {name}")
    return Response(status_code=204)
