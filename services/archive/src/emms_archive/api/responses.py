"""The bodies the archive's routes return (documented in its OpenAPI; see ``emms_runtime.api_models``).

Master-data records get one model per entity, built from the entity's own model: its fields,
each optional (a row read back may carry ``null`` where the input had a default), plus the
columns the database adds (``extra``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field, create_model

from emms_archive.masterdata.entities import ENTITIES, EntitySpec
from emms_runtime.api_models import ApiModel


class Category(ApiModel):
    code: str
    utility: str
    name: str
    name_zh: str


class NetworkKinds(ApiModel):
    """The network element kinds allowed for each utility."""

    electricity: list[str]
    water: list[str]
    gas: list[str]
    heat: list[str]


class ChangeRef(ApiModel):
    change_id: str
    action: str


class Removed(ApiModel):
    """Whether a record was removed (or marked removed), and the change that did it."""

    removed: bool
    change_id: str | None


def _optional(annotation: Any) -> Any:
    return annotation | None


def _list_of(item: Any) -> Any:
    return list[item]


class EntityModels:
    """The record, page and write-result models of one master-data entity."""

    def __init__(self, spec: EntitySpec) -> None:
        name = "".join(part.capitalize() for part in spec.name.split("_"))
        fields: dict[str, Any] = {
            column: (_optional(info.annotation), Field(default=None, description=info.description))
            for column, info in spec.model.model_fields.items()
        }
        record: Any = create_model(f"{name}Record", __base__=ApiModel, __doc__=f"A stored {spec.name}.", **fields)
        self.record: type[ApiModel] = record
        self.page: type[ApiModel] = create_model(
            f"{name}Page", __base__=ApiModel,
            __doc__=f"A page of {spec.path}; ``next_after`` is the key to pass as ``after`` (``null`` at the end).",
            rows=(_list_of(record), ...), count=(int, ...), next_after=(_optional(str), ...))
        self.written: type[ApiModel] = create_model(
            f"{name}Written", __base__=ApiModel, __doc__=f"The changes a write made and the {spec.name} as stored.",
            changes=(list[ChangeRef], ...), record=(_optional(record), ...))


ENTITY_MODELS: dict[str, EntityModels] = {name: EntityModels(spec) for name, spec in ENTITIES.items()}


class ImportError_(ApiModel):
    row: int
    field: str | None
    key: str | None
    message: str


class ImportResult(ApiModel):
    """What an import did (or, with ``dry_run``, would do); rejected: ``detail`` and every row's ``errors``."""

    kind: str
    rows: int
    records: int
    accepted: bool
    dry_run: bool
    changes: int
    by_entity: dict[str, dict[str, int]]
    detail: str | None = None
    errors: list[ImportError_] | None = None


class RequestInvalid(ApiModel):
    """A request that did not parse (422): why, and each bad field (``loc``, ``msg``, ``type``)."""

    detail: str
    errors: list[dict[str, Any]] = Field(default_factory=list)


IMPORT_REFUSED: dict[int | str, dict[str, Any]] = {422: {
    "model": ImportResult | RequestInvalid,
    "description": "rejected: the report lists every bad row and nothing was written; or the request itself"
                   " did not parse (a parameter, NUL characters)"}}
"""An import's 422: its report (:class:`ImportResult`), or the runtime's request validation failure."""


class InstallationPeriod(ApiModel):
    """A meter on a metering point from ``valid_from`` until ``valid_to`` (``null``: still there)."""

    metering_point_id: str
    meter_id: str
    valid_from: datetime
    valid_to: datetime | None


class InstallationChange(ApiModel):
    change_id: str
    action: str
    metering_point_id: str


class ReadingPage(ApiModel):
    """One page of readings of ``layer``; ``next_cursor`` for the next (``null`` at the end)."""

    layer: str
    rows: list[dict[str, Any]]
    count: int
    next_cursor: str | None


class LatestReading(ApiModel):
    metering_point_id: str
    item: str
    data_time: datetime
    source: str
    meter_id: str | None
    value: float | None
    unit: str | None
    quality: Any
    collected_at: datetime | None


class Usage(ApiModel):
    interval: str
    group_by: str
    layer: str
    rows: list[dict[str, Any]]


class JointView(ApiModel):
    """Per party: its customers of every utility, their metering points with meters, usage, anomaly and event counts."""

    from_: datetime = Field(alias="from")
    to: datetime
    parties: list[dict[str, Any]]
    recent_anomalies: list[dict[str, Any]]
    recent_events: list[dict[str, Any]]


class EventPage(ApiModel):
    rows: list[dict[str, Any]]
    count: int
    next_cursor: str | None


class AuditEntry(ApiModel):
    """One change of an archive record with its before / after images."""

    seq: int
    change_id: Any
    at: datetime
    actor: str
    entity: str
    entity_id: str
    action: str
    before: Any
    after: Any
    note: str | None


class BackupMade(ApiModel):
    name: str
    method: str
    tables: dict[str, Any]
    files: dict[str, Any]
    pg_dump_available: bool


class Backup(ApiModel):
    name: str
    level: str
    method: str
    created_at: datetime
    companies: list[str] | None
    from_: datetime | None = Field(alias="from")
    to: datetime | None
    rows: int


class BackupCheck(ApiModel):
    """``ok`` when every file (and, with check_database, every table's row count) matches the manifest."""

    directory: str
    level: str
    method: str
    files: Any
    tables: dict[str, Any]
    ok: bool
