"""Report definitions checked against the data-set catalog: unknown names refused by name, periods by role."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from emms_reports.dedicated import DEDICATED
from emms_reports.definition import Period, ReportDefinition, check, resolve
from emms_reports.delivery import check_target, first_due, following
from emms_reports.settings import PeriodLimits
from emms_runtime import Invalid

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 3, 15, 10, 0, tzinfo=UTC)


def definition(**changes: object) -> ReportDefinition:
    body: dict[str, object] = {"title": "t", "dataset": "usage", "dimensions": ["region"], "interval": "day",
                               "period": {"kind": "previous_month"},
                               "columns": [{"field": "key"}, {"field": "usage", "total": "sum"}]}
    body.update(changes)
    return ReportDefinition.model_validate(body)


def test_every_dedicated_report_passes_its_own_check() -> None:
    for name, d in DEDICATED.items():
        assert check(d, ("viewer",), 93, TZ, NOW).name == d.dataset, name


@pytest.mark.parametrize(("changes", "named"), [
    ({"columns": [{"field": "usage"}, {"field": "voltage"}]}, "'voltage'"),
    ({"group_by": ["colour"]}, "'colour'"),
    ({"group_by": ["item"]}, "'item' is not one of the columns"),
    ({"filters": {"planets": ["x"]}}, "'planets'"),
    ({"dimensions": ["planet"]}, "'planet'"),
    ({"interval": "fortnight"}, "'fortnight'"),
    ({"dataset": "weather"}, "'weather'"),
    ({"columns": [{"field": "key", "total": "sum"}]}, "cannot have a sum total"),
])
def test_an_unknown_name_is_refused_naming_it(changes: dict[str, object], named: str) -> None:
    with pytest.raises(Invalid, match=named):
        check(definition(**changes), ("admin",), 3700, TZ, NOW)


def test_a_period_too_long_for_the_role_is_refused() -> None:
    year = definition(period={"kind": "fixed", "from": "2025-01-01T00:00:00+08:00", "to": "2026-01-01T00:00:00+08:00"})
    limits = PeriodLimits()
    assert check(year, ("operator",), limits.days_for(("operator",)), TZ, NOW)
    with pytest.raises(Invalid, match=r"365.0 days; your role \['viewer'\] may ask for at most 93"):
        check(year, ("viewer",), limits.days_for(("viewer",)), TZ, NOW)
    assert limits.days_for(("viewer", "operator")) == 400  # the most generous of the caller's roles
    assert limits.days_for(("someone",)) == limits.default


def test_an_inverted_period_is_refused() -> None:
    with pytest.raises(Invalid, match="inverted"):
        check(definition(period={"kind": "fixed", "from": "2026-02-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"}),
              ("admin",), 3700, TZ, NOW)


def test_an_unknown_key_in_the_body_is_refused() -> None:
    with pytest.raises(ValueError, match="colour"):
        ReportDefinition.model_validate({"title": "t", "dataset": "usage", "columns": [{"field": "key"}],
                                         "colour": "red"})


def test_relative_periods_are_local_whole_days_and_months() -> None:
    prev_day = resolve(Period(kind="previous_day"), TZ, NOW)
    assert prev_day.start == datetime(2026, 3, 13, 16, tzinfo=UTC)
    assert prev_day.end == datetime(2026, 3, 14, 16, tzinfo=UTC)
    prev_month = resolve(Period(kind="previous_month"), TZ, NOW)
    assert prev_month.start == datetime(2026, 2, 1, tzinfo=TZ) and prev_month.end == datetime(2026, 3, 1, tzinfo=TZ)
    current = resolve(Period(kind="current_month"), TZ, datetime(2026, 12, 31, 17, tzinfo=UTC))  # Jan 1st local
    assert current.start == datetime(2027, 1, 1, tzinfo=TZ) and current.end == datetime(2027, 2, 1, tzinfo=TZ)
    last = resolve(Period(kind="last_days", days=7), TZ, NOW)
    assert last.days == 7


@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2090, 1, 1)), st.integers(0, 23),
       st.sampled_from(["daily", "monthly"]))
def test_due_moments_are_after_now_and_advance(now: datetime, hour: int, cadence: str) -> None:
    now = now.replace(tzinfo=UTC)
    due = first_due(cadence, hour, now, TZ)
    assert due > now
    local = due.astimezone(TZ)
    assert local.hour == hour and (cadence == "daily" or local.day == 1)
    nxt = following(cadence, hour, due, TZ)
    assert nxt > due and nxt.astimezone(TZ).hour == hour
    # the previous period of a run ends at midnight of the due day: one day or one month
    span = resolve(Period(kind="previous_day" if cadence == "daily" else "previous_month"), TZ, due)
    assert span.end == datetime.combine(local.date(), datetime.min.time(), TZ)
    assert 1 <= span.days <= 31


@pytest.mark.parametrize(("kind", "target"), [("file", "/etc"), ("file", "../up"), ("file", "a/../../b"),
                                              ("webhook", "ftp://x"), ("mail", "a@b")])
def test_a_bad_delivery_target_is_refused(kind: str, target: str) -> None:
    with pytest.raises(Invalid):
        check_target(kind, target)
    check_target("file", "monthly/usage")
    check_target("webhook", "https://billing.example.com/hooks/reports")
