"""``/api/v1/service``: identity, migrations, workers and consumer figures of this instance.

Read with ``service:read``; the effective settings by ``service:configure`` (admins).
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Request
from pydantic import Field

from emms_runtime.api_models import ApiModel
from emms_runtime.auth import Permission, Principal, require
from emms_runtime.service import ServiceRuntime

router = APIRouter(prefix="/api/v1/service", tags=["service"])

Viewer = Annotated[Principal, require(Permission.SERVICE_READ, scope="global")]
Admin = Annotated[Principal, require(Permission.SERVICE_CONFIGURE, scope="global")]


class MigrationsInfo(ApiModel):
    schema_: str = Field(alias="schema")
    applied: list[str]
    skipped: list[str]


class ConsumerInfo(ApiModel):
    group: str
    policy: str
    handled: int
    dead_lettered: int


class Caller(ApiModel):
    subject: str
    role: str
    kind: str
    permissions: list[str]


class ServiceInfo(ApiModel):
    """This instance: identity, storage mode, migrations, workers (name → running / stopped), consumers."""

    service: str
    instance: str
    storage_mode: str | None
    migrations: MigrationsInfo | None
    workers: dict[str, str]
    consumers: list[ConsumerInfo]
    caller: Caller


class EffectiveSettings(ApiModel):
    """The instance's settings as loaded (every field of the service's settings class), secrets redacted."""

    instance_id: str
    auth: dict[str, Any]


def _rt(request: Request) -> ServiceRuntime:
    rt: ServiceRuntime = request.app.state.runtime
    return rt


@router.get("", response_model=ServiceInfo,
            summary="This instance: identity, storage mode, migrations, workers, consumers")
async def service_info(request: Request, principal: Viewer) -> dict[str, Any]:
    rt = _rt(request)
    migration = rt.migration
    return {
        "service": rt.name,
        "instance": rt.settings.instance_id,
        "storage_mode": rt.storage_mode.value if rt.storage_mode else None,
        "migrations": {"schema": migration.schema, "applied": list(migration.applied),
                       "skipped": list(migration.skipped)} if migration else None,
        "workers": {name: ("running" if not t.done() else "stopped") for name, t in rt.tasks.items()},
        "consumers": [{"group": c.group, "policy": c.policy.value, "handled": c.handled,
                       "dead_lettered": c.dead_lettered} for c in rt.consumers],
        "caller": {"subject": principal.subject, "role": principal.role, "kind": principal.kind,
                   "permissions": sorted(principal.permissions)},
    }


@router.get("/settings", response_model=EffectiveSettings,
            summary="Effective settings of this instance, the database password redacted (admin)")
async def service_settings(request: Request, principal: Admin) -> dict[str, Any]:
    data = _rt(request).settings.model_dump(mode="json")
    url = data.get("database", {}).get("url")
    if isinstance(url, str):
        data["database"]["url"] = re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", url)
    return data
