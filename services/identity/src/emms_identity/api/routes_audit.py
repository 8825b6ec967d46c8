"""``/api/v1/audit``: sign-ins, failures, lockouts, token events, administrative changes, refusals."""

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from emms_identity import audit
from emms_identity.api.deps import AuditingAdmin
from emms_identity.api.responses import AuditEntry
from emms_identity.directory.inputs import NO_NUL

router = APIRouter(prefix="/api/v1", tags=["audit"])
Text = Annotated[str | None, Query(max_length=200, pattern=NO_NUL)]


@router.get("/audit", response_model=list[AuditEntry],
            summary="Audit entries in order; a restricted caller sees those about its companies' users and clients")
async def audit_log(admin: AuditingAdmin, actor: Text = None,
                    action: Annotated[str | None, Query(
                        max_length=64, pattern=NO_NUL,
                        description="e.g. signin (every signin.*), signin.failure, user.create, access.denied")] = None,
                    target: Text = None, outcome: Literal["success", "failure", "denied"] | None = None,
                    since: datetime | None = None, until: datetime | None = None,
                    after_id: Annotated[int, Query(ge=0, le=2**62)] = 0,
                    limit: Annotated[int, Query(ge=1, le=5000)] = 100) -> list[dict[str, Any]]:
    return await audit.entries(admin.rt.pool, reader_companies=admin.principal.companies, actor=actor, action=action,
                               target=target, outcome=outcome, since=since, until=until, after_id=after_id,
                               limit=limit)
