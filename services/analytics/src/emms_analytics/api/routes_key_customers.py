"""``/api/v1/analytics/key-customers`` (R-4.5.4.2): key customers chosen by hand (an operator marks a
customer with a reason) or by rule (top N by usage over the last days within regions, companies,
categories), and one answer per customer with its real-time values, usage curve, data quality,
working condition and anomalies.

Viewers read (``aggregates:read``), operators change (``masterdata:edit``); every mark, unmark and
rule change is written to the insert-only ``key_customer_audit`` in the same transaction (read with
``audit:read``). The caller's company / region scope applies to the list, the answer and the marks.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response

from emms_analytics.api.deps import NAME, Instant, Marker, Reader, Runtime, aware, period_of, scope_of
from emms_analytics.api.responses import ERRORS
from emms_analytics.calendar import Interval
from emms_analytics.keycustomers import chosen, detail, rules
from emms_analytics.keycustomers import repository as repo
from emms_analytics.keycustomers.models import (
    AuditEntry,
    HandMark,
    KeyCustomerAnswer,
    KeyCustomerList,
    MarkBody,
    Rule,
    RuleBody,
)
from emms_analytics.runtime import SCHEMA, AnalyticsRuntime
from emms_analytics.scope import Scope
from emms_analytics.selection import Selection, unknown_names
from emms_runtime import Forbidden, Invalid, NotFound, Permission, Principal, require

router = APIRouter(prefix="/api/v1/analytics/key-customers", tags=["key-customers"], responses=ERRORS)
CustomerPath = Annotated[str, Path(pattern=NAME)]
RulePath = Annotated[str, Path(pattern=r"^[0-9A-Za-z][0-9A-Za-z_.-]{0,63}$")]
AuditReader = Annotated[Principal, require(Permission.AUDIT_READ)]


async def _known_customer(rt: AnalyticsRuntime, scope: Scope, customer_id: str) -> dict[str, Any]:
    async with rt.pool.acquire() as conn:
        found = await repo.customer(conn, SCHEMA, customer_id)
        if found is None:
            raise NotFound(f"unknown customer: {customer_id}")
        if not await scope.allows(conn, customer_id, view="customer", key="customer_id"):
            raise Forbidden(f"customer {customer_id} is outside your data scope ({scope.describe()})")
    return found


@router.get("", response_model=KeyCustomerList, summary="Key customers in the caller's scope, by hand and by rule")
async def list_key_customers(rt: Runtime, principal: Reader, at: Instant | None = None) -> dict[str, Any]:
    when = aware(at) if at is not None else datetime.now(UTC)
    scope = scope_of(principal)
    chosen = await rules.reasons(rt, scope, when)
    async with rt.pool.acquire() as conn:
        rows = {r["customer_id"]: r for r in await conn.fetch(
            f"SELECT customer_id, name, category, region_id, company_id FROM {SCHEMA}.customer"
            f" WHERE customer_id = ANY($1::text[])", list(chosen))}
    out = []
    for cid, why in sorted(chosen.items()):
        row: Any = rows.get(cid, {})
        out.append({"customer_id": cid, **{k: row.get(k) for k in ("name", "category", "region_id", "company_id")},
                    "sources": sorted({w["source"] for w in why}), "reasons": why})
    return {"at": when, "customers": out}


@router.post("", response_model=HandMark, status_code=201, summary="Mark a customer as key by hand, with a reason")
async def mark_key_customer(rt: Runtime, principal: Marker, body: MarkBody) -> dict[str, Any]:
    await _known_customer(rt, scope_of(principal), body.customer_id)
    async with rt.pool.acquire() as conn:
        return await repo.mark(conn, SCHEMA, body.customer_id, body.reason, principal.subject)


@router.get("/rules", response_model=list[Rule], summary="Rules that choose key customers")
async def list_rules(rt: Runtime, principal: Reader) -> list[dict[str, Any]]:
    async with rt.pool.acquire() as conn:
        return [_rule_dict(r) for r in await repo.rules(conn, SCHEMA)]


def _rule_dict(rule: repo.Rule) -> dict[str, Any]:
    return {f: getattr(rule, f) for f in rule.__dataclass_fields__}


@router.put("/rules/{rule_id}", response_model=Rule, summary="Create or change a key-customer rule")
async def put_rule(rt: Runtime, principal: Marker, rule_id: RulePath, body: RuleBody,
                   response: Response) -> dict[str, Any]:
    if body.utility not in rt.settings.main_items:
        raise Invalid(f"unknown utility {body.utility!r}: one of {', '.join(sorted(rt.settings.main_items))}")
    rule = repo.Rule(rule_id=rule_id, **body.model_dump())
    async with rt.pool.acquire() as conn:
        missing = await unknown_names(conn, SCHEMA, Selection(regions=rule.regions, companies=rule.companies))
        if missing:
            raise NotFound(missing)
        created = await repo.put_rule(conn, SCHEMA, rule, principal.subject)
    await chosen.refresh(rt, rule_id=rule_id)  # Grafana's view of the rule's customers follows at once
    response.status_code = 201 if created else 200
    return _rule_dict(rule)


@router.delete("/rules/{rule_id}", response_class=Response, status_code=204, summary="Remove a key-customer rule")
async def delete_rule(rt: Runtime, principal: Marker, rule_id: RulePath) -> None:
    async with rt.pool.acquire() as conn:
        if not await repo.delete_rule(conn, SCHEMA, rule_id, principal.subject):
            raise NotFound(f"unknown key-customer rule: {rule_id}")


@router.get("/audit", response_model=list[AuditEntry], summary="Who marked, unmarked or changed a rule, when")
async def audit(rt: Runtime, principal: AuditReader, entity_id: Annotated[str | None, Query(pattern=NAME)] = None,
                limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[dict[str, Any]]:
    async with rt.pool.acquire() as conn:
        return await repo.audit_entries(conn, SCHEMA, entity_id, limit)


@router.get("/{customer_id}", response_model=KeyCustomerAnswer,
            summary="One customer: real-time values, usage curve, quality, working condition, anomalies")
async def get_key_customer(rt: Runtime, principal: Reader, customer_id: CustomerPath,
                           start: Annotated[datetime, Query(alias="from")], end: Annotated[datetime, Query(alias="to")],
                           interval: Interval = "day", per_day: Annotated[int, Query(ge=1, le=1440)] = 1,
                           at: Instant | None = None) -> dict[str, Any]:
    period = period_of(rt, start, end)
    scope = scope_of(principal)
    customer = await _known_customer(rt, scope, customer_id)
    when = aware(at) if at is not None else datetime.now(UTC)
    why = (await rules.reasons(rt, scope, when, customer_id)).get(customer_id, [])
    return await detail.answer(rt, scope, customer, why, period, interval, per_day, when)


@router.delete("/{customer_id}", response_class=Response, status_code=204,
               summary="Remove a customer's hand mark (rules still choose it while it qualifies)")
async def unmark_key_customer(rt: Runtime, principal: Marker, customer_id: CustomerPath) -> None:
    await _known_customer(rt, scope_of(principal), customer_id)
    async with rt.pool.acquire() as conn:
        if not await repo.unmark(conn, SCHEMA, customer_id, principal.subject):
            raise NotFound(f"customer {customer_id} is not marked key by hand")
