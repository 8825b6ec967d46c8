"""Whose data a caller may see: a customer only their own customer ids (the token's ``customers``, one per
utility of the same person), staff the customers of their companies."""

from __future__ import annotations

from typing import Any

from emms_interface.upstream import Upstream, UpstreamDown, UpstreamRefused, as_domain_error, seg
from emms_runtime import Forbidden, Permission, Principal


async def customer_of(up: Upstream, principal: Principal, customer_id: str) -> dict[str, Any]:
    """The archive's customer record, once the caller may see it (403 otherwise, before anything is read)."""
    if principal.customers and customer_id not in principal.customers:
        raise Forbidden(f"customer {customer_id} is not yours")
    if "customer" in principal.roles and not principal.customers:
        raise Forbidden("your token names no customer")
    try:
        customer = await up.call("archive", "GET", f"/api/v1/customers/{seg(customer_id)}")
    except (UpstreamRefused, UpstreamDown) as exc:
        raise as_domain_error(exc) from None
    if not principal.may_see_company(customer.get("company_id")):
        raise Forbidden(f"customer {customer_id} is outside your data scope")
    return dict(customer)


def refuse_customers(principal: Principal, what: str) -> None:
    """Company-wide data (billing extracts, aggregates) is never a customer's: 403 for a customer's token."""
    if principal.customers or "customer" in principal.roles:
        raise Forbidden(f"{what} covers a company's customers; a customer's token reaches /api/v1/customers/<id> only")


def may_pay_for_others(principal: Principal) -> bool:
    return Permission.MASTERDATA_EDIT in principal.permissions


async def accounts_of(up: Upstream, customer_id: str) -> list[dict[str, Any]]:
    page = await up.call("control", "GET", "/api/v1/accounts", params={"customer_id": customer_id, "limit": 100})
    return list(page["items"])
