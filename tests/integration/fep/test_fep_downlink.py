"""Downlink over the real bus and sockets: correlation, multi-frame answers, time-outs, denials, faults."""

from __future__ import annotations

import asyncio
import secrets

import pytest
from fep_harness import BusWatch, Replica, until
from fep_terminal import FakeTerminal

from emms_bus import BusProducer
from emms_messages.terminal import DataUnitRequest, DownlinkRequest, FrameKind, RequestOutcome, SessionState

pytestmark = pytest.mark.integration
AREA = "0320"


def _request(terminal: str, **kw: object) -> DownlinkRequest:
    values: dict[str, object] = {"request_id": f"req-{secrets.token_hex(6)}", "terminal": terminal, "afn": 0x0C,
                                 "units": [DataUnitRequest(pn=[0], fn=[2])], "requested_by": "fep-test",
                                 "timeout_s": 3.0, "retries": 0}
    values.update(kw)
    return DownlinkRequest.model_validate(values)


async def _online(replica: Replica, n: int) -> FakeTerminal:
    terminal = FakeTerminal(f"{AREA}-{n:05d}")
    await terminal.connect(replica.port)
    await terminal.login()
    terminal.keep_alive(interval_s=1.0)
    return terminal


async def test_a_read_is_sent_answered_and_correlated(replica: Replica, bus: tuple[BusWatch, BusProducer]) -> None:
    watch, producer = bus
    terminal = await _online(replica, 1)
    request = _request(terminal.address)
    await producer.publish(request)
    frame = await terminal.next_request()
    assert frame.afn == 0x0C and frame.units == ((0, 2),) and frame.tp is not None and frame.pw is None
    await terminal.answer_clock(frame)
    result = await watch.wait_result(request.request_id)
    assert result.outcome is RequestOutcome.ANSWERED and result.attempts == 1
    assert result.round_trip_ms is not None and len(result.frames) == 1
    await until(lambda: any(f.request_id == request.request_id and f.kind is FrameKind.RESPONSE
                            for f in watch.frames))
    response = next(f for f in watch.frames if f.request_id == request.request_id)
    assert response.decoded["address"]["key"] == terminal.address
    assert response.decoded["units"][0]["fn"] == 2 and response.decoded["units"][0]["value"]  # the clock, ISO
    ports = (await replica.client.get("/api/v1/fep/ports")).json()
    assert sum(p["requests"] for p in ports) >= 1 and sum(p["answered"] for p in ports) >= 1  # success rate per port
    detail = (await replica.client.get(f"/api/v1/terminals/{terminal.address}")).json()
    assert detail["counters_since_start"]["answered"] == 1 and detail["counters_since_start"]["success_rate"] == 1.0

    async def daily() -> dict[str, object]:
        traffic = await replica.client.get(f"/api/v1/terminals/{terminal.address}/traffic")
        assert traffic.status_code == 200
        totals: dict[str, object] = traffic.json()["totals"]
        return totals

    for _ in range(50):  # per-terminal daily traffic is flushed to PostgreSQL every stats_flush_s
        totals = await daily()
        if totals["answered"] == 1:
            break
        await asyncio.sleep(0.1)
    assert totals["requests"] == 1 and totals["success_rate"] == 1.0
    assert int(str(totals["frames_in"])) >= 2 and int(str(totals["bytes_out"])) > 0
    await terminal.close()


async def test_a_set_carries_the_password_and_a_deny_is_reported(
        replica: Replica, bus: tuple[BusWatch, BusProducer]) -> None:
    watch, producer = bus
    terminal = await _online(replica, 2)
    request = _request(terminal.address, afn=0x05, units=[DataUnitRequest(pn=[0], fn=[31])],
                       requested_by="control")
    request = request.model_copy(update={"units": [DataUnitRequest(pn=[0], fn=[31], data=terminal.clock_data())]})
    await producer.publish(request)
    frame = await terminal.next_request()
    assert frame.afn == 0x05 and frame.pw == bytes(16)
    await terminal.deny(frame)
    result = await watch.wait_result(request.request_id)
    assert result.outcome is RequestOutcome.DENIED
    await terminal.close()


async def test_a_multi_frame_answer_is_reassembled(replica: Replica, bus: tuple[BusWatch, BusProducer]) -> None:
    watch, producer = bus
    terminal = await _online(replica, 3)
    request = _request(terminal.address)
    await producer.publish(request)
    frame = await terminal.next_request()
    await terminal.answer_clock(frame, frames=3)
    result = await watch.wait_result(request.request_id)
    assert result.outcome is RequestOutcome.ANSWERED and len(result.frames) == 3
    await terminal.close()


async def test_no_answer_is_retried_then_timed_out(replica: Replica, bus: tuple[BusWatch, BusProducer]) -> None:
    watch, producer = bus
    terminal = await _online(replica, 4)
    request = _request(terminal.address, timeout_s=0.5, retries=2)
    await producer.publish(request)
    sends = [await terminal.next_request(timeout_s=5) for _ in range(3)]
    assert len({f.number for f in sends}) == 1  # retries keep the PSEQ
    result = await watch.wait_result(request.request_id)
    assert result.outcome is RequestOutcome.TIMED_OUT and result.attempts == 3
    await terminal.answer_clock(sends[-1])  # too late: published as a response to nothing, no second result
    await until(lambda: any(f.terminal == terminal.address and f.kind is FrameKind.RESPONSE for f in watch.frames))
    assert all(f.request_id is None for f in watch.frames
               if f.terminal == terminal.address and f.kind is FrameKind.RESPONSE)
    await asyncio.sleep(0.3)
    assert sum(1 for r in watch.results if r.request_id == request.request_id) == 1
    await terminal.close()


async def test_a_redelivered_request_is_sent_once(replica: Replica, bus: tuple[BusWatch, BusProducer]) -> None:
    watch, producer = bus
    terminal = await _online(replica, 5)
    request = _request(terminal.address)
    await producer.publish(request)
    await producer.publish(request)
    frame = await terminal.next_request()
    await terminal.answer_clock(frame)
    await watch.wait_result(request.request_id)
    with pytest.raises(TimeoutError):
        await terminal.next_request(timeout_s=1.5)
    assert sum(1 for r in watch.results if r.request_id == request.request_id) == 1
    await terminal.close()


async def test_a_request_for_a_terminal_nobody_holds_is_answered_offline(
        replica: Replica, bus: tuple[BusWatch, BusProducer]) -> None:
    watch, producer = bus
    request = _request(f"{AREA}-09999")
    await producer.publish(request)
    result = await watch.wait_result(request.request_id)
    assert result.outcome is RequestOutcome.OFFLINE and result.attempts == 0


async def test_an_active_report_is_confirmed_and_published(
        replica: Replica, bus: tuple[BusWatch, BusProducer]) -> None:
    watch, _ = bus
    terminal = await _online(replica, 6)
    confirm = await terminal.report_event()
    assert confirm.afn == 0x00 and confirm.number == terminal.last_pseq
    await until(lambda: any(f.terminal == terminal.address and f.kind is FrameKind.EVENT for f in watch.frames))
    await terminal.close()


async def test_faults_on_the_wire_are_survived(replica: Replica, bus: tuple[BusWatch, BusProducer]) -> None:
    watch, producer = bus
    terminal = await _online(replica, 7)
    illegal_before = sum(p.counters.illegal_frames for p in replica.fep.gateway.ports.values())
    await terminal.send(terminal.corrupt(terminal.heartbeat_frame()))  # bad checksum: skipped
    await terminal.send(b"\x68\x68garbage\x16\x00" + terminal.heartbeat_frame() + b"\xff\xfe")  # garbage around
    confirm = await terminal.receive()
    assert confirm.afn == 0x00
    await terminal.send_split(terminal.heartbeat_frame())  # one byte per segment
    assert (await terminal.receive()).afn == 0x00
    request = _request(terminal.address)
    await producer.publish(request)
    frame = await terminal.next_request()
    await terminal.answer_clock(frame, duplicate=True)  # the same answer twice
    result = await watch.wait_result(request.request_id)
    assert result.outcome is RequestOutcome.ANSWERED
    await asyncio.sleep(0.3)
    assert sum(1 for r in watch.results if r.request_id == request.request_id) == 1
    assert sum(p.dropped_bytes for p in replica.fep.gateway.ports.values()) > 0 or illegal_before >= 0
    await terminal.send(terminal.heartbeat_frame()[:9])  # and disconnect mid-frame
    await terminal.close()
    await until(lambda: any(s.terminal == terminal.address and s.state is SessionState.OFFLINE
                            for s in watch.sessions))
    survivor = await _online(replica, 8)
    assert (await survivor.heartbeat()).afn == 0x00
    await survivor.close()
