"""Batch import of master data from source systems: CSV or JSON, all or nothing (R-4.6.4).

The whole file is validated first — each row by its model, then every rule across rows and
against the database (:mod:`~emms_archive.masterdata.checks`) — inside one transaction. If
any row is wrong, nothing is written and the caller gets a report naming every bad row and
why. If all rows are right, every record is upserted by its natural key in dependency order,
meters are put on their metering points, and each real change is audited and queued for the
bus. Applying the same file again finds nothing different and changes nothing.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from pydantic import BaseModel, ValidationError

from emms_archive.audit import Change
from emms_archive.masterdata import meter_periods, repository
from emms_archive.masterdata.batch import Batch, Item, RowError
from emms_archive.masterdata.checks import check_all
from emms_archive.masterdata.entities import BY_PATH, ENTITIES, EntitySpec
from emms_archive.masterdata.meter_periods import Intent
from emms_archive.masterdata.models import CustomerMeterRow, as_row
from emms_archive.schema import SCHEMA
from emms_archive.scope import Scope
from emms_db.connection import Connection

CUSTOMER_METERS = "customer-meters"
KINDS = (*BY_PATH, CUSTOMER_METERS)

Removal = tuple[EntitySpec, tuple[str, ...], int]
"""An entity key to remove, and the report row it came from."""


class BadImport(ValueError):
    """The body cannot be read as rows at all (400)."""


class ImportConflict(RuntimeError):
    """A concurrent writer changed the same records; nothing was written (409)."""


@dataclass
class ImportResult:
    kind: str
    rows: int
    records: int
    changes: list[Change] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    dry_run: bool = False

    @property
    def accepted(self) -> bool:
        return not self.errors

    def as_dict(self) -> dict[str, Any]:
        counts = Counter((c.entity, c.action) for c in self.changes)
        summary: dict[str, dict[str, int]] = {}
        for (entity, action), n in sorted(counts.items()):
            summary.setdefault(entity, {})[action] = n
        body: dict[str, Any] = {"kind": self.kind, "rows": self.rows, "records": self.records,
                                "accepted": self.accepted, "dry_run": self.dry_run,
                                "changes": len(self.changes), "by_entity": summary}
        if self.errors:
            body["detail"] = (f"import rejected: {len({e.row for e in self.errors})} of {self.rows} rows have "
                              f"errors; nothing was written")
            body["errors"] = [e.as_dict() for e in sorted(self.errors, key=lambda e: (e.row, e.field or ""))]
        return body


class ImportRejected(Exception):
    def __init__(self, result: ImportResult) -> None:
        super().__init__(result.as_dict().get("detail", "import rejected"))
        self.result = result


class _DryRun(Exception):
    def __init__(self, result: ImportResult) -> None:
        super().__init__("dry run")
        self.result = result


def _clean(row: dict[Any, Any]) -> dict[str, Any]:
    """Drop empty cells so model defaults apply."""
    return {str(k): v for k, v in row.items() if k is not None and v not in ("", None)}


def parse_body(body: bytes, content_type: str) -> list[dict[str, Any]]:
    """Rows of a CSV (header line first) or JSON (a list, or ``{"rows": [...]}``) body."""
    text = body.decode("utf-8-sig", errors="strict") if body else ""
    if not text.strip():
        raise BadImport("the body is empty: send CSV with a header line, or a JSON list of objects")
    if "json" in content_type or text.lstrip()[:1] in "[{":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise BadImport(f"not valid JSON: {exc}") from None
        rows = data.get("rows") if isinstance(data, dict) else data
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise BadImport("JSON must be a list of objects, or an object with a 'rows' list")
        return [_clean(r) for r in rows]
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames:
        raise BadImport("CSV has no header line")
    rows = []
    for row in reader:
        if None in row:
            row = {**row, "__extra__": ",".join(row.pop(None) or [])}
        rows.append(_clean(row))
    return rows


def _validation_errors(row: int, exc: ValidationError, prefix: str = "") -> list[RowError]:
    out = []
    for e in exc.errors():
        loc = ".".join(str(p) for p in e.get("loc", ()))
        message = e.get("msg", "invalid").removeprefix("Value error, ")
        out.append(RowError(row, message, f"{prefix}{loc}" or None))
    return out


def _validated(model: type[BaseModel], row: int, data: dict[str, Any], batch: Batch) -> BaseModel | None:
    if "__extra__" in data:
        batch.errors.append(RowError(row, f"more cells than header columns: {data['__extra__']!r}"))
        return None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        batch.errors.extend(_validation_errors(row, exc))
        return None


def build_batch(kind: str, rows: list[dict[str, Any]]) -> Batch:
    """Validate every row on its own and collect the records (and installations) it stands for."""
    if kind not in KINDS:
        raise BadImport(f"unknown import kind {kind!r}; one of {', '.join(KINDS)}")
    batch = Batch(rows=len(rows))
    for number, data in enumerate(rows, start=1):
        if kind == CUSTOMER_METERS:
            _add_customer_meter(batch, number, data)
            continue
        spec = BY_PATH[kind]
        record = _validated(spec.model, number, data, batch)
        if record is not None:
            batch.add(Item(number, spec.name, as_row(record)))
    return batch


def _add_customer_meter(batch: Batch, number: int, data: dict[str, Any]) -> None:
    row = _validated(CustomerMeterRow, number, data, batch)
    if not isinstance(row, CustomerMeterRow):
        return
    try:
        customer, point, meter = row.split()
    except ValidationError as exc:
        batch.errors.extend(_validation_errors(number, exc))
        return
    batch.add(Item(number, "customer", as_row(customer)))
    batch.add(Item(number, "meter", as_row(meter)))
    batch.add(Item(number, "metering_point", as_row(point)))
    batch.intents.append(Intent(number, row.metering_point_id, row.meter_id, row.installed_at))


async def apply_batch(conn: Connection, kind: str, batch: Batch, *, actor: str, scope: Scope,
                      dry_run: bool = False, removals: Sequence[Removal] = ()) -> ImportResult:
    """Check and write ``batch`` in one transaction; raise :class:`ImportRejected` with the report if any row is bad."""
    result = ImportResult(kind, batch.rows, sum(len(v) for v in batch.items.values()), dry_run=dry_run)
    if batch.errors:  # row-level errors: still run the cross-row checks so the report is complete
        async with conn.transaction():
            await check_all(conn, batch, scope)
        result.errors = batch.errors
        raise ImportRejected(result)
    try:
        async with conn.transaction():
            await check_all(conn, batch, scope)
            if batch.errors:
                result.errors = batch.errors
                raise ImportRejected(result)
            result.changes = await _write(conn, batch, actor)
            for spec, key, row in removals:
                change = await _remove(conn, spec, key, row, actor, scope, batch)
                if change is not None:
                    result.changes.append(change)
            if batch.errors:
                result.errors = batch.errors
                raise ImportRejected(result)
            if dry_run:
                raise _DryRun(result)
    except _DryRun as done:
        return done.result
    except (asyncpg.IntegrityConstraintViolationError, asyncpg.ExclusionViolationError) as exc:
        raise ImportConflict(f"a concurrent change conflicts with this import; nothing was written ({exc})") from None
    return result


async def _write(conn: Connection, batch: Batch, actor: str) -> list[Change]:
    changes: list[Change] = []
    for name, spec in ENTITIES.items():
        records = [it.record for it in batch.of(name)]
        changes += await repository.upsert(conn, spec, records, actor)
    ops, errors = await meter_periods.plan(conn, batch.intents)
    for row, message in errors:
        batch.errors.append(RowError(row, message, "installed_at"))
    changes += await meter_periods.apply_opens(conn, ops, actor)
    return changes


async def _remove(conn: Connection, spec: EntitySpec, key: tuple[str, ...], row: int, actor: str,
                  scope: Scope, batch: Batch) -> Change | None:
    label = spec.entity_id(key)
    if await repository.get(conn, spec, key, scope) is None:
        exists = await repository.get(conn, spec, key) is not None
        if exists:
            batch.errors.append(RowError(row, f"{spec.name} {label} is outside your data scope", "removals", label))
        return None  # already gone: removing twice changes nothing
    if spec.name in ("meter", "metering_point"):
        column = "meter_id" if spec.name == "meter" else "metering_point_id"
        busy = await conn.fetchval(f"SELECT 1 FROM {SCHEMA}.meter_period WHERE {column} = $1 AND valid_to IS NULL",
                                   key[0])
        if busy:
            batch.errors.append(RowError(row, f"{spec.name} {label} has a meter installed; remove the meter "
                                              "from the point first", "removals", label))
            return None
    return await repository.remove(conn, spec, key, actor)
