"""Which rollup answers a usage query: the region or customer rollup only where it gives the same rows as the
meter rollups (each answer bucket one local month, owner filters, customer attributes)."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from emms_analytics.calendar import Piece, pieces
from emms_analytics.repository.usage import rollup_for
from emms_analytics.scope import Scope
from emms_analytics.selection import Selection

TZ = ZoneInfo("Asia/Shanghai")
YEAR = pieces(datetime(2024, 12, 31, 16, tzinfo=UTC), datetime(2025, 12, 31, 16, tzinfo=UTC), TZ)
MONTH = pieces(datetime(2025, 2, 28, 16, tzinfo=UTC), datetime(2025, 3, 31, 16, tzinfo=UTC), TZ)
EDGES = pieces(datetime(2025, 2, 28, 16, tzinfo=UTC), datetime(2025, 4, 3, 16, tzinfo=UTC), TZ)


@pytest.mark.parametrize(("sel", "scope", "parts", "interval", "group_by", "expected"), [
    (Selection(regions=["R"]), Scope(), YEAR, "month", "utility", "usage_region_monthly"),
    (Selection(regions=["R"], companies=["CO"]), Scope(), YEAR, "month", "region", "usage_region_monthly"),
    (Selection(regions=["R"]), Scope(), YEAR, "month", "customer", "usage_customer_monthly"),
    (Selection(parties=["P"]), Scope(), YEAR, "month", "utility", "usage_customer_monthly"),
    (Selection(regions=["R"], categories=["c"]), Scope(), YEAR, "month", "utility", "usage_customer_monthly"),
    (Selection(regions=["R"], min_capacity_kva=100.0), Scope(), YEAR, "month", "total", "usage_customer_monthly"),
    (Selection(regions=["R"]), Scope(customers=("C1",)), YEAR, "month", "utility", "usage_customer_monthly"),
    (Selection(regions=["R"], utilities=["electricity"]), Scope(), MONTH, "period", "customer",
     "usage_customer_monthly"),  # the ranking of one month
    (Selection(regions=["R"]), Scope(), YEAR, "period", "customer", None),  # points counted over 12 months
    (Selection(regions=["R"]), Scope(), YEAR, "quarter", "utility", None),
    (Selection(regions=["R"]), Scope(), EDGES, "month", "utility", None),  # the edges come from finer rollups
    (Selection(regions=["R"]), Scope(), YEAR, "day", "utility", None),
    (Selection(), Scope(), YEAR, "month", "utility", None),  # points without an owner count here
    (Selection(utilities=["water"]), Scope(), YEAR, "month", "utility", None),
    (Selection(regions=["R"], nodes=["N"]), Scope(), YEAR, "month", "utility", None),
    (Selection(regions=["R"], groups=["G"]), Scope(), YEAR, "month", "utility", None),
    (Selection(regions=["R"], metering_points=["MP"]), Scope(), YEAR, "month", "utility", None),
    (Selection(regions=["R"]), Scope(), YEAR, "month", "node", None),
    (Selection(regions=["R"]), Scope(), YEAR, "month", "metering_point", None),
])
def test_the_rollup_chosen(sel: Selection, scope: Scope, parts: list[Piece], interval: str, group_by: str,
                           expected: str | None) -> None:
    assert rollup_for(sel, scope, parts, interval, group_by) == expected
