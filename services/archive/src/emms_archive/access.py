"""Data-service access by permission: how often and how much each role may take (R-4.3.3a).

Each role has a request rate per minute and a largest page / export here; a system's token
also carries the row limit of its trust level (``max_rows``), and the smaller of the two
applies; going over the rate is a 429 with ``Retry-After``, asking for more rows than allowed
is a 422 that says the limit.
"""

from __future__ import annotations

import time
from collections import deque

from emms_archive.settings import RoleLimits
from emms_runtime import Invalid, Principal, TooManyRequests


class RateLimiter:
    """Sliding one-minute window per caller (per process; replicas each count their own)."""

    def __init__(self) -> None:
        self._hits: dict[str, deque[float]] = {}

    def allow(self, subject: str, per_minute: int, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        hits = self._hits.setdefault(subject, deque())
        while hits and hits[0] <= now - 60.0:
            hits.popleft()
        if len(hits) >= per_minute:
            return False
        hits.append(now)
        return True


def admit(limiter: RateLimiter, limits: dict[str, RoleLimits], principal: Principal,
          rows: int | None = None) -> RoleLimits:
    """Count one request of ``principal``; refuse it if over its role's rate or row limit."""
    by_role = limits.get(principal.role) or limits["viewer"]
    role = by_role.model_copy(update={"max_rows": min(by_role.max_rows, principal.max_rows),
                                      "max_export_rows": min(by_role.max_export_rows, principal.max_rows)})
    if not limiter.allow(f"{principal.role}:{principal.subject}", role.per_minute):
        raise TooManyRequests(f"more than {role.per_minute} data requests a minute for role {principal.role!r}",
                              retry_after_s=60)
    if rows is not None and rows > role.max_rows:
        raise Invalid(f"limit {rows} is above the {role.max_rows} rows {principal.key} may take "
                      "at once (its role and trust level); page with the cursor")
    return role
