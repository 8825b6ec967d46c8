"""The caller's data scope on accounts (R-4.3.3a, R-4.6.2).

Empty lists in the token mean no restriction of that kind. Master data, and so the region tree,
live in the archive: a region-restricted caller sees accounts whose region is one of its
regions exactly (never more than it may; a sub-region's account is not shown to it here).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from emms_db.where import Where
from emms_runtime import Forbidden, Principal


def restrict(principal: Principal, where: Where, alias: str = "a") -> None:
    if principal.companies:
        where.add(f"{alias}.company_id = ANY({{}}::text[])", list(principal.companies))
    if principal.regions:
        where.add(f"{alias}.region_id = ANY({{}}::text[])", list(principal.regions))
    if principal.customers:
        where.add(f"{alias}.customer_id = ANY({{}}::text[])", list(principal.customers))


def sees(principal: Principal, account: Mapping[str, Any] | Any) -> bool:
    return ((not principal.companies or account["company_id"] in principal.companies)
            and (not principal.regions or account["region_id"] in principal.regions)
            and (not principal.customers or account["customer_id"] in principal.customers))


def require(principal: Principal, account: Mapping[str, Any]) -> None:
    """Refuse (403) opening an account outside the caller's scope."""
    if not sees(principal, account):
        raise Forbidden(f"outside your data scope: company {account['company_id']!r}, region"
                        f" {account['region_id']!r}, customer {account['customer_id']!r}; your token allows companies"
                        f" {list(principal.companies)}, regions {list(principal.regions)},"
                        f" customers {list(principal.customers)}")
