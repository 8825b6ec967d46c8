"""Which data a run collects, and the instant a frozen value stands for.

1376.1 tags frozen data with a date (Td_d; the first of the month for Td_m).
A curve run collects yesterday's 96 points from local 00:00 (its data time is
the first point's instant, whatever ``freeze_at`` says).
A daily freeze happens at the local midnight that *ends* the tagged day in
this system's convention (``freeze_at="end"``) or at the midnight that starts
it (``"start"``); the choice is one setting, applied here and nowhere else, so
readings, gaps and back-fill requests agree on their ``data_time``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, tzinfo

from emms_collector.tasks.types import TaskType

FREEZE_AT = ("start", "end")


def freeze_instant(tag: date, tz: tzinfo, *, monthly: bool = False, freeze_at: str = "start") -> datetime:
    """UTC instant of the freeze tagged ``tag`` (a day, or a month given by its first day)."""
    if freeze_at == "end":
        tag = _next_month(tag) if monthly else tag + timedelta(days=1)
    return datetime.combine(tag, time(), tz).astimezone(UTC)


def tag_of(data_time: datetime, tz: tzinfo, *, monthly: bool = False, freeze_at: str = "start") -> date:
    """Inverse of :func:`freeze_instant`: the Td_d (or first day of the Td_m) of a freeze instant."""
    local = data_time.astimezone(tz).date()
    if freeze_at == "end":
        local = _previous_month(local) if monthly else local - timedelta(days=1)
    return local.replace(day=1) if monthly else local


def run_data_time(task_type: TaskType, due_at: datetime, tz: tzinfo, *, freeze_at: str = "start") -> datetime:
    """The data time a run due at ``due_at`` collects: yesterday's / last month's freeze, or now."""
    local = due_at.astimezone(tz).date()
    if task_type is TaskType.DAILY_FROZEN:
        return freeze_instant(local - timedelta(days=1), tz, freeze_at=freeze_at)
    if task_type is TaskType.MONTHLY_FROZEN:
        return freeze_instant(_previous_month(local.replace(day=1)), tz, monthly=True, freeze_at=freeze_at)
    if task_type is TaskType.CURVE:
        return curve_start(local - timedelta(days=1), tz)
    return due_at


CURVE_DENSITY = 1  # 1376.1 density code: 15 minutes
CURVE_POINTS = 96


def curve_start(day: date, tz: tzinfo) -> datetime:
    """UTC instant of the first point of ``day``'s curve (local midnight that starts it)."""
    return datetime.combine(day, time(), tz).astimezone(UTC)


def _next_month(day: date) -> date:
    first = day.replace(day=1)
    return (first + timedelta(days=32)).replace(day=1)


def _previous_month(day: date) -> date:
    return (day.replace(day=1) - timedelta(days=1)).replace(day=1)
