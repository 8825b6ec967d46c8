"""The timer wheel: O(1) heartbeats, expiry only of what is really due."""

from __future__ import annotations

from dataclasses import dataclass

from emms_fep.deadlines import DeadlineWheel


@dataclass(eq=False)
class Item:
    deadline: float | None


def test_items_expire_at_their_deadline_and_not_before() -> None:
    wheel: DeadlineWheel[Item] = DeadlineWheel(lambda i: i.deadline, resolution_s=1.0)
    a, b = Item(10.2), Item(15.0)
    wheel.schedule(a, a.deadline or 0)
    wheel.schedule(b, b.deadline or 0)
    assert wheel.expire(9.9) == []
    assert wheel.expire(10.1) == []
    assert wheel.expire(11.0) == [a]
    assert wheel.expire(14.9) == []
    assert wheel.expire(15.0) == [b]
    assert len(wheel) == 0


def test_a_moved_deadline_is_refiled_not_expired() -> None:
    wheel: DeadlineWheel[Item] = DeadlineWheel(lambda i: i.deadline, resolution_s=1.0)
    item = Item(5.0)
    wheel.schedule(item, 5.0)
    item.deadline = 30.0  # a heartbeat arrived: only the item changes
    assert wheel.expire(6.0) == []
    assert len(wheel) == 1
    assert wheel.expire(29.0) == []
    assert wheel.expire(31.0) == [item]


def test_forgotten_items_leave_the_wheel() -> None:
    wheel: DeadlineWheel[Item] = DeadlineWheel(lambda i: i.deadline, resolution_s=0.5)
    item = Item(2.0)
    wheel.schedule(item, 2.0)
    item.deadline = None  # the connection closed
    assert wheel.expire(100.0) == []
    assert len(wheel) == 0


def test_many_items_cost_only_the_due_slots() -> None:
    wheel: DeadlineWheel[Item] = DeadlineWheel(lambda i: i.deadline, resolution_s=1.0)
    items = [Item(float(i % 600)) for i in range(20_000)]
    for item in items:
        wheel.schedule(item, item.deadline or 0)
    due = wheel.expire(10.0)
    assert len(due) == sum(1 for i in items if (i.deadline or 0) <= 10.0)
    assert len(wheel) == 20_000 - len(due)
