"""The caller's data scope in the collector's routes (R-4.6.2): one rule for every company-scoped route.

* **Lists and figures** (tasks, runs, run meters, gaps, points, quality, clocks, syncs, task members)
  hold only rows of the caller's scope; aggregates are computed over it.
* **A thing addressed by its id** (a task, a run, a read job, a meter clock sync) that lies outside the
  scope is answered **404**, as if it did not exist: its existence is not revealed.
* **A command naming meters or terminals** (a task's target, a back-fill, a manual read, a clock read or
  sync) outside the scope is refused with **403** listing them; for a restricted caller a meter or
  terminal the collector does not know counts as outside (so the answer tells nothing about other
  companies' devices).

How a meter, a terminal and a task belong to a scope: :mod:`emms_collector.repository.scope`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from emms_collector.repository import scope as scope_sql
from emms_collector.repository import tasks as task_sql
from emms_collector.repository.scope import Scope
from emms_collector.tasks.model import Target, Task
from emms_db.connection import Connection
from emms_runtime import Forbidden, Invalid, NotFound, Principal

__all__ = ["Owner", "Scope", "require_meters", "require_terminals", "require_unrestricted", "scope_of",
           "task_owner", "visible_task"]


def scope_of(principal: Principal) -> Scope:
    return Scope.of(principal)


def _listed(things: Sequence[str]) -> str:
    shown = ", ".join(things[:10])
    return shown + (f" and {len(things) - 10} more" if len(things) > 10 else "")


async def require_meters(conn: Connection, scope: Scope, meters: Sequence[str]) -> None:
    """403 when a named meter is outside the scope (or unknown, for a restricted caller)."""
    outside = await scope_sql.meters_outside(conn, scope, meters)
    if outside:
        raise Forbidden(f"meters outside your data scope (or unknown): {_listed(outside)}")


async def require_terminals(conn: Connection, scope: Scope, terminals: Sequence[str]) -> None:
    """403 when a named terminal is outside the scope (or unknown, for a restricted caller)."""
    outside = await scope_sql.terminals_outside(conn, scope, terminals)
    if outside:
        raise Forbidden(f"terminals outside your data scope (or unknown): {_listed(outside)}")


def require_unrestricted(scope: Scope, what: str) -> None:
    """403 for a restricted caller: ``what`` touches every company's data."""
    if not scope.unrestricted:
        raise Forbidden(f"{what} concerns every company's meters: it needs a token without company, region or"
                        " customer restriction")


async def visible_task(conn: Connection, scope: Scope, task_id: str, *, include_deleted: bool = False) -> Task:
    """The task, or 404 when there is none or it is outside the scope."""
    task = await task_sql.get_task(conn, task_id, include_deleted=include_deleted, scope=scope)
    if task is None:
        raise NotFound(f"no task {task_id}")
    return task


@dataclass(frozen=True, slots=True)
class Owner:
    company_id: str | None
    scope_regions: list[str]


async def task_owner(conn: Connection, scope: Scope, target: Target, company_id: str | None,
                     *, current: Task | None = None) -> Owner:
    """Who a task created (or changed, ``current``) by a caller of ``scope`` belongs to; 403 / 422 when the
    task would reach outside the caller's scope.

    The owner company is the one the body names, else the task's current one, else the caller's only
    company, else the one company of the meters the target names. A restricted caller's task reads only
    inside its scope: the named meters, terminals and regions must be in it and of the owner company (a task
    spanning companies is refused), and the caller's regions become the task's (a task keeps its regions
    when changed)."""
    if scope.customers:
        raise Forbidden("collection tasks are not owned by customers: a customer's token cannot create them")
    meters, terminals = list(target.meters), list(target.terminals)
    await require_meters(conn, scope, meters)
    await require_terminals(conn, scope, terminals)
    regions_outside = await scope_sql.regions_outside(conn, scope, target.regions)
    if regions_outside:
        raise Forbidden(f"regions outside your data scope: {_listed(regions_outside)}")
    owner = company_id if company_id is not None else (current.company_id if current else None)
    if owner is not None and not scope.allows_company(owner):
        raise Forbidden(f"company {owner} is outside your data scope; your token allows {list(scope.companies)}")
    named = await scope_sql.companies_of(conn, meters, terminals)
    if not scope.unrestricted and len(named) > 1:
        raise Forbidden(f"the task's meters span the companies {sorted(c or '(no company)' for c in named)}:"
                        " a task reads for one company")
    if owner is None and len(scope.companies) == 1:
        owner = scope.companies[0]
    if owner is None and len(named) == 1:
        owner = next(iter(named))
    if owner is None and scope.companies:
        raise Invalid(f"your token covers the companies {list(scope.companies)}: name the task's company_id")
    others = sorted(c or "(no company)" for c in named if c != owner)
    if owner is not None and others:
        message = f"a task of company {owner} cannot read meters of the companies {others}"
        raise Forbidden(message) if not scope.unrestricted else Invalid(message)
    regions = list(current.scope_regions) if current is not None else list(scope.regions)
    return Owner(owner, regions)
