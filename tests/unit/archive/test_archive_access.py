"""Cursors, role limits (rate and volume) and scope conditions of the data service."""

from __future__ import annotations

import pytest

from emms_archive.access import RateLimiter, admit
from emms_archive.masterdata.entities import ScopeKind
from emms_archive.query import cursor
from emms_archive.scope import Scope
from emms_archive.settings import RoleLimits
from emms_db.where import Where
from emms_runtime import Forbidden, Invalid, Principal, TooManyRequests


def test_cursor_round_trip_and_foreign_cursors() -> None:
    key = ["MP-1", "energy", "2026-01-01T00:00:00+00:00", "scheduled"]
    assert cursor.decode(cursor.encode(key), 4) == key
    with pytest.raises(cursor.BadCursor):
        cursor.decode("%%%", 4)
    with pytest.raises(cursor.BadCursor, match="does not belong"):
        cursor.decode(cursor.encode(key), 2)


def test_rate_limiter_window() -> None:
    limiter = RateLimiter()
    assert all(limiter.allow("a", 3, now=t) for t in (0.0, 1.0, 2.0))
    assert not limiter.allow("a", 3, now=3.0)
    assert limiter.allow("b", 3, now=3.0)  # per caller
    assert limiter.allow("a", 3, now=60.5)  # the first hit left the window


def test_admit_refuses_rate_and_volume_with_reasons() -> None:
    limits = {"viewer": RoleLimits(max_rows=10, per_minute=1)}
    viewer = Principal.with_role("v", "viewer")
    with pytest.raises(Invalid) as too_many:
        admit(RateLimiter(), limits, viewer, rows=11)
    assert too_many.value.status_code == 422 and "10 rows" in too_many.value.reason
    limiter = RateLimiter()
    admit(limiter, limits, viewer)
    with pytest.raises(TooManyRequests) as too_often:
        admit(limiter, limits, viewer)
    assert too_often.value.status_code == 429 and too_often.value.headers == {"Retry-After": "60"}


def test_scope_conditions() -> None:
    assert Scope.of(Principal.with_role("x", "admin")).unrestricted
    assert not Scope.of(Principal.with_role("x", "admin", companies=("A",))).unrestricted  # a company's admin
    scope = Scope.of(Principal.with_role("x", "viewer", companies=("A",), regions=("R",)))
    w = Where()
    scope.restrict(ScopeKind.CUSTOMER_OF, "mp", w)
    assert "mp.customer_id IN (SELECT sc.id" in w.sql() and w.args == [["A"], ["R"]]
    with pytest.raises(Forbidden) as refused:
        scope.require(["A", "B"])
    assert refused.value.status_code == 403 and "['B']" in refused.value.reason


def test_customer_scope_keeps_to_own_records() -> None:
    scope = Scope.of(Principal.with_role("c", "customer", customers=("C1",)))
    w = Where()
    scope.restrict_customers("c", w)
    assert not scope.unrestricted and "c.id = ANY" in w.sql() and w.args == [["C1"]]


def test_a_systems_trust_level_bounds_its_rows_below_its_role() -> None:
    from emms_runtime.auth import TRUST_LEVELS

    analysis = TRUST_LEVELS["analysis"]
    client = Principal.with_role("bi", "integrator", kind="client", trust_level="analysis",
                                 max_rows=analysis.max_rows, per_minute=analysis.per_minute)
    limits = {"integrator": RoleLimits(max_rows=50_000, per_minute=600, max_export_rows=1_000_000)}
    granted = admit(RateLimiter(), limits, client, rows=analysis.max_rows)
    assert granted.max_rows == granted.max_export_rows == analysis.max_rows
    with pytest.raises(Invalid) as refused:
        admit(RateLimiter(), limits, client, rows=analysis.max_rows + 1)
    assert "client:bi" in refused.value.reason
