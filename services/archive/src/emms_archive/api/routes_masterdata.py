"""Master-data CRUD, one set of routes per entity of the registry (R-4.6.4, R-4.6.10).

``GET /api/v1/<entities>`` (equality filters on columns, keyset paging with ``after``),
``GET|PUT|DELETE /api/v1/<entities>/<key>`` and ``POST /api/v1/<entities>``. A composite key
is written with ``/`` between its parts (``service-areas/GRID/R1/electricity``). Every write
is a batch of one through the import checks, so the rules and the 4xx reasons are the same as
for a file import; every change is audited and published on the bus.

This module deliberately does not use ``from __future__ import annotations``: the routes are
made in a loop and FastAPI must see each entity's model class as the body annotation.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from emms_archive.api.deps import Archive, Conn, MasterReader, Writer
from emms_archive.api.responses import ENTITY_MODELS, Removed
from emms_archive.masterdata import repository
from emms_archive.masterdata.batch import Batch, Item
from emms_archive.masterdata.entities import ENTITIES, EntitySpec
from emms_archive.masterdata.import_batch import ImportConflict, ImportRejected, apply_batch
from emms_archive.masterdata.models import Record, as_row
from emms_archive.runtime import ArchiveRuntime
from emms_archive.scope import Scope
from emms_runtime import Conflict, Forbidden, Invalid, NotFound, Principal

router = APIRouter(prefix="/api/v1", tags=["masterdata"])


def _key(spec: EntitySpec, text: str) -> tuple[str, ...]:
    key = tuple(text.strip("/").split("/"))
    if len(key) != len(spec.key) or not all(key):
        shape = "/".join("{" + k + "}" for k in spec.key)
        raise NotFound(f"a {spec.name} is addressed as /{spec.path}/{shape}")
    return key


async def _visible(conn: Any, spec: EntitySpec, key: tuple[str, ...], principal: Principal) -> dict[str, Any]:
    row = await repository.get(conn, spec, key, Scope.of(principal))
    if row is not None:
        return row
    if await repository.get(conn, spec, key) is not None:
        raise Forbidden(f"{spec.name} {'/'.join(key)} is outside your data scope")
    raise NotFound(f"no {spec.name} {'/'.join(key)}")


async def write_record(archive: ArchiveRuntime, conn: Any, spec: EntitySpec, record: Record,
                       principal: Principal) -> dict[str, Any]:
    """Upsert one record through the import checks; 422 with every reason when it breaks a rule."""
    batch = Batch(rows=1)
    batch.add(Item(1, spec.name, as_row(record)))
    try:
        result = await apply_batch(conn, spec.path, batch, actor=principal.subject, scope=Scope.of(principal))
    except ImportRejected as exc:
        reasons = "; ".join(f"{e.field}: {e.message}" if e.field else e.message for e in exc.result.errors)
        forbidden = all("outside your data scope" in e.message for e in exc.result.errors)
        refusal = Forbidden if forbidden else Invalid
        raise refusal(f"{spec.name} {'/'.join(spec.key_of(as_row(record)))} refused: {reasons}") from None
    except ImportConflict as exc:
        raise Conflict(str(exc)) from None
    archive.outbox.poke()
    key = spec.key_of(as_row(record))
    return {"changes": [{"change_id": str(c.change_id), "action": c.action} for c in result.changes],
            "record": await repository.get(conn, spec, key)}


def _add_routes(spec: EntitySpec) -> None:
    model = spec.model
    label = "/".join("{" + k + "}" for k in spec.key)

    async def list_rows(request: Request, principal: MasterReader, conn: Conn,
                        after: Annotated[str | None, Query(description="key of the previous page's last row")] = None,
                        limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> dict[str, Any]:
        filters = {k: v for k, v in request.query_params.items() if k not in ("after", "limit")}
        unknown = sorted(set(filters) - set(spec.columns))
        if unknown:
            raise Invalid(f"unknown filter(s) {unknown}; filter on {list(spec.columns)}")
        rows = await repository.list_rows(conn, spec, filters=filters, scope=Scope.of(principal),
                                          after=_key(spec, after) if after else None, limit=limit)
        last = "/".join(spec.key_of(rows[-1])) if len(rows) == limit else None
        return {"rows": rows, "count": len(rows), "next_after": last}

    async def get_one(key: str, principal: MasterReader, conn: Conn) -> dict[str, Any]:
        return await _visible(conn, spec, _key(spec, key), principal)

    async def create(body: model, principal: Writer, conn: Conn, archive: Archive) -> dict[str, Any]:  # type: ignore[valid-type]
        key = "/".join(spec.key_of(as_row(body)))
        if await repository.get(conn, spec, spec.key_of(as_row(body))) is not None:
            raise Conflict(f"{spec.name} {key} exists; PUT /{spec.path}/{key} updates it")
        return await write_record(archive, conn, spec, body, principal)

    async def put(key: str, body: model, principal: Writer, conn: Conn, archive: Archive) -> dict[str, Any]:  # type: ignore[valid-type]
        body_key = spec.key_of(as_row(body))
        if body_key != _key(spec, key):
            raise Invalid(f"the body's key {'/'.join(body_key)} is not the path's {key}")
        return await write_record(archive, conn, spec, body, principal)

    async def delete(key: str, principal: Writer, conn: Conn, archive: Archive) -> dict[str, Any]:
        parts = _key(spec, key)
        await _visible(conn, spec, parts, principal)
        change = await repository.remove(conn, spec, parts, principal.subject)
        archive.outbox.poke()
        return {"removed": change is not None, "change_id": str(change.change_id) if change else None}

    name = spec.name
    models = ENTITY_MODELS[name]
    router.add_api_route(f"/{spec.path}", list_rows, methods=["GET"], name=f"list_{name}", response_model=models.page,
                         summary=f"List {spec.path} (filters: any column; paging: after, limit)")
    router.add_api_route(f"/{spec.path}", create, methods=["POST"], name=f"create_{name}",
                         response_model=models.written,
                         summary=f"Create one {name} (409 if it exists)", status_code=201)
    router.add_api_route(f"/{spec.path}/{{key:path}}", get_one, methods=["GET"], name=f"get_{name}",
                         response_model=models.record,
                         summary=f"One {name} by {label}")
    router.add_api_route(f"/{spec.path}/{{key:path}}", put, methods=["PUT"], name=f"put_{name}",
                         response_model=models.written,
                         summary=f"Create or update one {name} by {label} (incremental sync)")
    router.add_api_route(f"/{spec.path}/{{key:path}}", delete, methods=["DELETE"], name=f"delete_{name}",
                         response_model=Removed,
                         summary=f"Remove one {name} (marked removed when it has a status, else deleted)")


for _spec in ENTITIES.values():
    _add_routes(_spec)
