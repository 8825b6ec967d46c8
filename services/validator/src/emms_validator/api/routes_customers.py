"""``/api/v1/key-customers``: customers marked key by hand or by rule (R-4.5.4.2).

Scope: the list holds only customers in the caller's scope; marking or unmarking a customer
outside it (or one whose owner the validator does not know, for a restricted caller) is 403.
The rules are configuration, the same for every company.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from emms_runtime import NotFound
from emms_validator.api.deps import (
    CUSTOMER_PATTERN,
    LABEL,
    PRINTABLE,
    Configurer,
    KeyMarker,
    Label,
    Offset,
    RulesViewer,
    ValidatorDep,
    Viewer,
)
from emms_validator.api.responses import ERRORS, NOT_FOUND, KeyCustomer, KeyMark, KeyRuleBody, KeyRuleRow
from emms_validator.repository import meters as repo
from emms_validator.runtime import SCHEMA

router = APIRouter(prefix="/api/v1/key-customers", tags=["key-customers"], responses=ERRORS)
CustomerPath = Annotated[str, Path(pattern=CUSTOMER_PATTERN)]
RulePath = Annotated[str, Path(pattern=r"^[0-9A-Za-z][0-9A-Za-z_.-]{0,63}$")]


class Mark(BaseModel):
    reason: Annotated[str, StringConstraints(max_length=500, pattern=PRINTABLE)] = ""


class KeyRule(BaseModel):
    model_config = ConfigDict(json_schema_extra={"anyOf": [
        {"required": ["customer_category"], "properties": {"customer_category": {"type": "string"}}},
        {"required": ["min_daily_consumption"], "properties": {"min_daily_consumption": {"type": "number"}}},
    ]})

    customer_category: Label | None = None
    utility: Annotated[str, StringConstraints(max_length=40, pattern=LABEL)] | None = None
    min_daily_consumption: float | None = Field(default=None, gt=0, allow_inf_nan=False)

    @model_validator(mode="after")
    def _something(self) -> KeyRule:
        if self.customer_category is None and self.min_daily_consumption is None:
            raise ValueError("a key-customer rule needs a customer_category or a min_daily_consumption")
        return self


@router.get("", response_model=list[KeyCustomer],
            summary="Key customers in the caller's scope, with how they became key")
async def list_keys(vr: ValidatorDep, caller: Viewer, limit: Annotated[int, Query(ge=1, le=5000)] = 500,
                    offset: Offset = 0) -> list[dict[str, Any]]:
    async with vr.pool.acquire() as conn:
        return await repo.list_key_customers(conn, SCHEMA, limit, offset, caller.scope)


@router.get("/rules", response_model=list[KeyRuleRow],
            summary="Rules that make customers key (by category, by consumption)")
async def list_rules(vr: ValidatorDep, principal: RulesViewer) -> list[dict[str, Any]]:
    async with vr.pool.acquire() as conn:
        return await repo.list_key_rules(conn, SCHEMA)


@router.put("/rules/{rule_id}", response_model=KeyRuleBody, summary="Create or change a key-customer rule")
async def put_rule(vr: ValidatorDep, principal: Configurer, rule_id: RulePath, body: KeyRule) -> dict[str, Any]:
    async with vr.pool.acquire() as conn:
        await repo.put_key_rule(conn, SCHEMA, rule_id, body.customer_category, body.utility,
                                body.min_daily_consumption, principal.subject)
    await vr.refresh_config()
    return {"rule_id": rule_id, **body.model_dump()}


@router.delete("/rules/{rule_id}", response_class=Response, status_code=204, responses=NOT_FOUND,
               summary="Remove a key-customer rule")
async def delete_rule(vr: ValidatorDep, principal: Configurer, rule_id: RulePath) -> None:
    async with vr.pool.acquire() as conn:
        if not await repo.delete_key_rule(conn, SCHEMA, rule_id):
            raise NotFound("no such rule")
    await vr.refresh_config()


@router.put("/{customer_id}", response_model=KeyMark, summary="Mark a customer as key by hand")
async def mark(vr: ValidatorDep, caller: KeyMarker, customer_id: CustomerPath, body: Mark) -> dict[str, Any]:
    async with vr.pool.acquire() as conn:
        await caller.require_customer(conn, customer_id)
        await repo.mark_key(conn, SCHEMA, customer_id, "manual", body.reason, caller.subject)
    return {"customer_id": customer_id, "source": "manual", "reason": body.reason, "marked_by": caller.subject}


@router.delete("/{customer_id}", response_class=Response, status_code=204, responses=NOT_FOUND,
               summary="Remove a customer's key mark")
async def unmark(vr: ValidatorDep, caller: KeyMarker, customer_id: CustomerPath) -> None:
    async with vr.pool.acquire() as conn:
        await caller.require_customer(conn, customer_id)
        if not await repo.unmark_key(conn, SCHEMA, customer_id):
            raise NotFound("not a key customer")
