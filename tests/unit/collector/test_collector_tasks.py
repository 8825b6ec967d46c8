"""Task validation: every refusal says what to change; routes, items and templates agree."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from emms_collector.reading.item_routing import choose
from emms_collector.reading.items import items_for
from emms_collector.tasks.model import TaskBody, TaskPatch
from emms_collector.tasks.templates import default_templates
from emms_collector.tasks.types import TaskType


def _task(**kw: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"name": "daily", "type": "daily_frozen", "target": {"utilities": ["electricity"]},
                            "items": ["energy.active.import.total"], "period": {"unit": "daily", "at": "01:00"}}
    base.update(kw)
    return base


def test_a_sound_task_is_accepted() -> None:
    task = TaskBody.model_validate(_task())
    assert task.type is TaskType.DAILY_FROZEN and task.priority == 5 and task.retries == 2


@pytest.mark.parametrize(("change", "reason"), [
    ({"target": {}}, "selects no meters"),
    ({"target": {"terminals": ["12345"]}}, "look like '3701-00012'"),
    ({"items": ["energy.nonsense"]}, "unknown item codes"),
    ({"items": ["voltage.a"]}, "cannot read"),
    ({"type": "events", "items": ["energy.active.import.total"]}, "reads no data items"),
    ({"period": {"unit": "minutes", "every": 7}}, "does not divide a day"),
    ({"period": {"unit": "daily", "at": "25:00"}}, "00:00..23:59"),
    ({"period": {"unit": "once"}}, "needs valid_from"),
    ({"valid_from": "2025-01-02T00:00:00Z", "valid_to": "2025-01-01T00:00:00Z"}, "after valid_from"),
    ({"valid_from": "2025-01-02T00:00:00"}, "timezone"),
    ({"priority": 10}, "less than or equal to 9"),
    ({"items": ["water.volume", "water.volume"]}, "listed twice"),
    ({"colour": "red"}, "Extra inputs"),
])
def test_bad_tasks_are_refused_with_a_reason(change: dict[str, Any], reason: str) -> None:
    with pytest.raises(ValidationError, match=reason):
        TaskBody.model_validate(_task(**change))


def test_a_patch_is_validated_with_the_whole_task() -> None:
    from emms_collector.tasks.model import Task

    task = Task.model_validate({**_task(), "id": "t1"})
    assert TaskPatch(priority=1).apply(task).priority == 1
    with pytest.raises(ValidationError, match="cannot read"):
        TaskPatch(items=["voltage.a"]).apply(task)


def test_each_meter_gets_only_its_utilitys_items_and_defaults_when_none_are_listed() -> None:
    items = ["energy.active.import.total", "water.volume", "valve.state"]
    assert items_for(items, "electricity") == ["energy.active.import.total", "valve.state"]
    assert items_for(items, "water") == ["water.volume", "valve.state"]
    assert items_for([], "gas") == ["gas.volume"]


def test_the_planner_picks_the_fewest_routes() -> None:
    routes, uncovered = choose(TaskType.DAILY_FROZEN, "dlt645-2007", ["energy.active.import.total"])
    assert [r.fn for r in routes] == [161] and not uncovered
    routes, _ = choose(TaskType.DAILY_FROZEN, "dlt645-2007",
                       ["energy.active.import.total", "energy.reactive.q1.total", "energy.active.export.total"])
    assert sorted(r.fn for r in routes) == [1, 2]
    routes, uncovered = choose(TaskType.REALTIME, "cjt188-2004", ["water.volume", "voltage.a"])
    assert [r.afn for r in routes] == [0x10] and uncovered == ["voltage.a"]


def test_default_templates_make_valid_tasks() -> None:
    for template in default_templates():
        task = template.task()
        assert task.auto and task.target.members and task.id == f"auto-{template.id}"
