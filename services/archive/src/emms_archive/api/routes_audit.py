"""``/api/v1/audit``: who changed which archive record when, with before / after images."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query

from emms_archive import audit
from emms_archive.api.deps import AuditReader, Conn
from emms_archive.api.responses import AuditEntry

router = APIRouter(prefix="/api/v1", tags=["audit"])


@router.get("/audit", response_model=list[AuditEntry],
            summary="Audit log entries in order, of the caller's companies and regions")
async def audit_log(principal: AuditReader, conn: Conn, entity: str | None = None, entity_id: str | None = None,
                    actor: str | None = None, since: datetime | None = None,
                    after_seq: Annotated[int, Query(ge=0)] = 0,
                    limit: Annotated[int, Query(ge=1, le=5000)] = 100) -> list[dict[str, Any]]:
    return await audit.entries(conn, entity=entity, entity_id=entity_id, actor=actor, since=since,
                               after_seq=after_seq, limit=limit, companies=principal.companies,
                               regions=principal.regions)
