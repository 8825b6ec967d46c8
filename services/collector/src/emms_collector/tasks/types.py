"""The kinds of collection task: which data a run of the task collects.

``daily_frozen`` yesterday's daily freeze, ``monthly_frozen`` last month's,
``curve`` yesterday's 15-minute load curves (1376.1 AFN 0D curve data, 96 points a day),
``realtime`` current values, ``events`` the terminals' event records,
``clock`` the terminals' clocks (for time synchronisation). The task model
(:mod:`emms_collector.tasks.model`), the route table (:mod:`emms_collector.reading.item_routing`)
and the freeze arithmetic (:mod:`emms_collector.reading.datatime`) all speak of it.
"""

from __future__ import annotations

from enum import StrEnum


class TaskType(StrEnum):
    DAILY_FROZEN = "daily_frozen"
    MONTHLY_FROZEN = "monthly_frozen"
    CURVE = "curve"
    REALTIME = "realtime"
    EVENTS = "events"
    CLOCK = "clock"
