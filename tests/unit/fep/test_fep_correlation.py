"""PSEQ allocation and response matching (single, FIR=0 quirk, multi-frame, late answers)."""

from __future__ import annotations

from emms_fep.correlation import Pending, TerminalRequests
from emms_messages.terminal import DataUnitRequest, DownlinkRequest


def _request(request_id: str, priority: int = 5) -> DownlinkRequest:
    return DownlinkRequest(request_id=request_id, terminal="0171-00001", afn=0x0C,
                           units=[DataUnitRequest(pn=[0], fn=[2])], requested_by="test", priority=priority)


def _sent(requests: TerminalRequests, request_id: str, max_in_flight: int = 4) -> Pending:
    requests.enqueue(Pending(_request(request_id)))
    pending = requests.next_ready(max_in_flight)
    assert pending is not None
    pending.attempts = 1
    return pending


def test_pseq_counts_up_and_wraps() -> None:
    requests = TerminalRequests("0171-00001")
    seen = []
    for i in range(20):
        pending = _sent(requests, f"r{i}", max_in_flight=1)
        seen.append(pending.pseq)
        requests.finish(pending)
    assert seen == [*range(16), 0, 1, 2, 3]


def test_in_flight_is_bounded_and_priority_orders_the_queue() -> None:
    requests = TerminalRequests("0171-00001")
    requests.enqueue(Pending(_request("low", priority=9)))
    requests.enqueue(Pending(_request("urgent", priority=0)))
    requests.enqueue(Pending(_request("normal", priority=5)))
    first = requests.next_ready(1)
    assert first is not None and first.request_id == "urgent"
    assert requests.next_ready(1) is None
    requests.finish(first)
    second = requests.next_ready(1)
    assert second is not None and second.request_id == "normal"


def test_a_single_answer_matches_by_rseq_even_with_fir_clear() -> None:
    requests = TerminalRequests("0171-00001")
    a = _sent(requests, "a")
    b = _sent(requests, "b")
    assert requests.match(b.pseq, first=True) is b
    assert requests.match(a.pseq, first=False) is a  # FIR=0, FIN=1 single answers exist in the field
    assert requests.match((b.pseq + 5) & 0x0F, first=True) is None


def test_multi_frame_continuations_follow_the_counting_rseq() -> None:
    requests = TerminalRequests("0171-00001")
    a = _sent(requests, "a")
    assert requests.match(a.pseq, first=True) is a
    a.next_rseq = (a.pseq + 1) & 0x0F
    # while a is reassembling, the next PSEQs are reserved for its continuation frames
    b = _sent(requests, "b")
    assert b.pseq not in {(a.pseq + i) & 0x0F for i in range(5)}
    assert requests.match(a.next_rseq, first=False) is a
    a.next_rseq = (a.next_rseq + 1) & 0x0F
    assert requests.match((a.next_rseq - 1) & 0x0F, first=False) is a  # terminals that keep the RSEQ


def test_no_pseq_is_handed_out_twice_while_in_flight() -> None:
    requests = TerminalRequests("0171-00001")
    for i in range(16):
        requests.enqueue(Pending(_request(f"r{i}")))
    pseqs = []
    while (pending := requests.next_ready(16)) is not None:
        pseqs.append(pending.pseq)
    assert sorted(pseqs) == list(range(16))
    requests.enqueue(Pending(_request("extra")))
    assert requests.next_ready(17) is None  # all 16 numbers busy


def test_an_unsent_request_does_not_match() -> None:
    requests = TerminalRequests("0171-00001")
    requests.enqueue(Pending(_request("a")))
    pending = requests.next_ready(1)
    assert pending is not None
    assert requests.match(pending.pseq, first=True) is None  # attempts == 0: nothing on the wire yet
