"""``/api/v1/rules``: the rule catalog, the effective configuration of a scope, and per-scope overrides.

The catalog and the overrides are configuration, the same for every company. The rules in
effect for one meter are company data: a meter outside the caller's scope is 403.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response

from emms_runtime import Invalid, NotFound
from emms_validator import duty_log
from emms_validator.api.deps import METER_PATTERN, Configurer, Label, RulesViewer, ValidatorDep, Viewer
from emms_validator.api.responses import (
    ERRORS,
    NOT_FOUND,
    EffectiveRules,
    Override,
    OverrideChange,
    Rule,
    StoredOverride,
)
from emms_validator.config.catalog import RULES
from emms_validator.config.resolve import RuleOverride, ScopeKind, UnknownRuleError, check_override
from emms_validator.model import MeterInfo, RuleSetting
from emms_validator.repository import rules as repo
from emms_validator.repository.batch import load_meters
from emms_validator.runtime import SCHEMA

router = APIRouter(prefix="/api/v1/rules", tags=["rules"], responses=ERRORS)
ScopeValue = Annotated[str, Path(min_length=1, max_length=100, pattern=r"^[^/\x00-\x1f\x7f]{1,100}$",
                                 description="utility, type, category or meter id; '*' for global")]
RulePath = Annotated[str, Path(pattern=f"^({'|'.join(re.escape(r) for r in sorted(RULES))})$",
                               description="a rule of the catalog (GET /api/v1/rules)")]


def _setting(s: RuleSetting) -> dict[str, Any]:
    return {"enabled": s.enabled, "action": s.action.value, "severity": s.severity.value, "params": dict(s.params)}


@router.get("", response_model=list[Rule],
            summary="Every VEE rule with its default action, severity, parameters and source")
async def catalog(principal: RulesViewer) -> list[dict[str, Any]]:
    return [{"rule": r.rule, "family": r.family, "title": r.title, "action": r.action.value,
             "severity": r.severity.value, "params": dict(r.params), "source": r.source} for r in RULES.values()]


@router.get("/effective", response_model=EffectiveRules, summary="The rules as they apply to one meter or to a scope")
async def effective(
    vr: ValidatorDep, caller: Viewer,
    meter_id: Annotated[str | None, Query(pattern=METER_PATTERN)] = None,
    utility: Annotated[Label, Query()] = "",
    meter_type: Annotated[Label, Query()] = "",
    customer_category: Annotated[Label, Query()] = "",
) -> dict[str, Any]:
    info = MeterInfo(meter_id or "*", utility, meter_type, "", customer_category)
    if meter_id:
        async with vr.pool.acquire() as conn:
            await caller.require_meter(conn, meter_id)
            found = await load_meters(conn, SCHEMA, [meter_id])
        if found:
            info = found[0][0]
    book = vr.resolver.for_meter(info)
    return {"scope": {"meter_id": info.meter_id, "utility": info.utility, "meter_type": info.meter_type,
                      "customer_category": info.customer_category, "key_customer": info.key_customer},
            "rules": {rule: _setting(s) for rule, s in book.items()}}


@router.get("/overrides", response_model=list[StoredOverride], summary="Stored overrides per scope")
async def overrides(vr: ValidatorDep, principal: RulesViewer) -> list[dict[str, Any]]:
    async with vr.pool.acquire() as conn:
        return await repo.list_overrides(conn, SCHEMA)


@router.get("/overrides/log", response_model=list[OverrideChange],
            summary="Every change of the rule configuration, newest first")
async def overrides_log(vr: ValidatorDep, principal: RulesViewer,
                        limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[dict[str, Any]]:
    async with vr.pool.acquire() as conn:
        return await repo.override_log(conn, SCHEMA, limit)


@router.put("/overrides/{scope}/{scope_value}/{rule}", response_model=Override,
            summary="Switch a rule or change its parameters for a scope")
async def put_override(vr: ValidatorDep, principal: Configurer, scope: ScopeKind, scope_value: ScopeValue,
                       rule: RulePath, body: RuleOverride) -> dict[str, Any]:
    try:
        check_override(rule, body)
    except UnknownRuleError as exc:
        raise Invalid(str(exc)) from None
    if scope is ScopeKind.GLOBAL and scope_value != "*":
        raise Invalid("the global scope's value is '*'")
    async with vr.pool.acquire() as conn:
        await repo.put_override(conn, SCHEMA, scope, scope_value, rule, body, principal.subject)
    await vr.refresh_config()
    await duty_log.rule_changed(vr.producer, actor=principal.subject, action="rule.override", scope=scope.value,
                                scope_value=scope_value, rule=rule, override=body.model_dump(exclude_none=True))
    return {"scope": scope.value, "scope_value": scope_value, "rule": rule,
            "override": body.model_dump(exclude_none=True)}


@router.delete("/overrides/{scope}/{scope_value}/{rule}", response_class=Response, status_code=204,
               responses=NOT_FOUND, summary="Remove an override")
async def delete_override(vr: ValidatorDep, principal: Configurer, scope: ScopeKind, scope_value: ScopeValue,
                          rule: RulePath) -> None:
    async with vr.pool.acquire() as conn:
        removed = await repo.delete_override(conn, SCHEMA, scope, scope_value, rule, principal.subject)
    if not removed:
        raise NotFound("no such override")
    await vr.refresh_config()
    await duty_log.rule_changed(vr.producer, actor=principal.subject, action="rule.override.remove",
                                scope=scope.value, scope_value=scope_value, rule=rule)
