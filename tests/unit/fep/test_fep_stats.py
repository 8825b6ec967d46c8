"""Per-terminal counters and their daily deltas; per-port figures."""

from __future__ import annotations

from datetime import UTC, datetime

from emms_fep.stats import PortStats, TrafficBook


def test_deltas_carry_only_what_changed_since_the_last_flush() -> None:
    book = TrafficBook()
    c = book.of("0171-00001")
    c.frames_in += 3
    c.bytes_in += 60
    book.touch("0171-00001")
    day = datetime(2026, 1, 2, tzinfo=UTC)
    first = book.take_deltas(day)
    assert [(d.terminal, d.day.isoformat(), d.values[:3]) for d in first] == [("0171-00001", "2026-01-02", (3, 0, 60))]
    assert book.take_deltas(day) == []
    c.frames_in += 1
    book.touch("0171-00001")
    assert book.take_deltas(day)[0].values[0] == 1


def test_a_failed_flush_is_carried_by_the_next() -> None:
    book = TrafficBook()
    c = book.of("t1")
    c.bytes_out += 100
    book.touch("t1")
    deltas = book.take_deltas()
    book.give_back(deltas)
    c.bytes_out += 5
    book.touch("t1")
    again = book.take_deltas()
    assert again[0].values[3] == 105


def test_success_rate_is_answered_over_finished_requests() -> None:
    book = TrafficBook()
    c = book.of("t1")
    assert c.success_rate() is None
    c.requests, c.answered = 4, 3
    assert c.as_dict()["success_rate"] == 0.75


def test_port_stats_count_frames_bytes_and_illegal_frames() -> None:
    port = PortStats("tcp-server:test-stats")
    port.bytes_received(40)
    port.frame_received()
    port.frame_sent(20)
    port.illegal("checksum")
    port.garbage(7)
    d = port.as_dict()
    assert (d["frames_in"], d["frames_out"], d["bytes_in"], d["bytes_out"], d["illegal_frames"],
            d["dropped_bytes"]) == (1, 1, 40, 20, 1, 7)
