"""Acceptance (issue 18): a terminal of the real simulator switched off produces a ticket and its downtime appears
in availability; a service of the master stopped produces a critical ticket and the master's downtime.

Real parts: the simulator (its own process, real frames over TCP) dialling an FEP replica, the FEP's session
messages on the broker, the operations service consuming them, a real analytics service (its own process)
polled at /readyz. Switching a terminal off is killing its simulator process (SIGKILL: the link dies with no
logout, as when a site loses power); switching it on is starting it again with the same fleet (same address).
"""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fep_harness import BusWatch, Replica, fep_settings, running_fep, wait_downlink_ready, watching_bus
from operations_harness import Operations, operations_settings, running_operations
from prometheus_client import REGISTRY

from emms_bus import BusProducer, KafkaSettings
from emms_messages.terminal import SessionState

pytestmark = [pytest.mark.integration, pytest.mark.e2e]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Analytics:
    """A real analytics service in its own process (the master's service whose health is polled)."""

    def __init__(self, env: dict[str, str]) -> None:
        self.port = _free_port()
        self.env = {**env, "EMMS_ANALYTICS_HTTP__PORT": str(self.port), "EMMS_ANALYTICS_INSTANCE_ID": "analytics-ops"}
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(self.url + "/readyz", timeout=2) as resp:
                return bool(resp.status == 200)
        except OSError:
            return False

    def start(self, timeout_s: float = 90.0) -> None:
        self.process = subprocess.Popen([sys.executable, "-m", "emms_analytics"], env=self.env,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            assert self.process.poll() is None, "analytics exited"
            if self.ready():
                return
            time.sleep(0.3)
        raise TimeoutError("analytics not ready")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class Terminal:
    """One simulated concentrator in its own simulator process."""

    def __init__(self, fep_port: int, manifest: Path) -> None:
        self.manifest = manifest
        self.command = [sys.executable, "-m", "emms_sim.cli", "run", "--fep", f"127.0.0.1:{fep_port}",
                        "--concentrators", "1", "--meters-per", "2", "--seed", "18", "--first-terminal", "77",
                        "--mix", "electricity=100", "--quiet-field", "--heartbeat-s", "1", "--manifest",
                        str(manifest)]
        self.process: subprocess.Popen[bytes] | None = None

    def switch_on(self) -> None:
        self.process = subprocess.Popen(self.command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def switch_off(self) -> None:
        assert self.process is not None
        self.process.kill()  # a power cut: no logout, the link just dies
        self.process.wait()

    def key(self) -> str:
        for _ in range(200):
            if self.manifest.exists():
                key: str = json.loads(self.manifest.read_text())["terminals"][0]["key"]
                return key
            time.sleep(0.05)
        raise TimeoutError("no simulator manifest")


@pytest.fixture(scope="module")
def analytics(service_env: dict[str, str], kafka_settings: KafkaSettings) -> Iterator[Analytics]:
    svc = Analytics({**service_env, "EMMS_TOPIC_PREFIX": kafka_settings.topic_prefix})
    svc.start()
    try:
        yield svc
    finally:
        svc.stop()


@pytest.fixture(scope="module")
async def bus(kafka_settings: KafkaSettings) -> AsyncIterator[tuple[BusWatch, BusProducer]]:
    async with watching_bus(kafka_settings) as pair:
        yield pair


@pytest.fixture(scope="module")
async def replica(database_url: str, kafka_settings: KafkaSettings,
                  bus: tuple[BusWatch, BusProducer]) -> AsyncIterator[Replica]:
    settings = fep_settings(database_url, kafka_settings, "fep-ops-e2e",
                            sessions={"login_timeout_s": 5.0, "heartbeat_timeout_s": 5.0})
    async with running_fep(settings) as fep:
        await wait_downlink_ready(bus[1], fep)
        yield fep


@pytest.fixture(scope="module")
async def operations(database_url: str, kafka_settings: KafkaSettings, analytics: Analytics,
                     replica: Replica) -> AsyncIterator[Operations]:
    settings = operations_settings(database_url, kafka_settings, services={"analytics": analytics.url})
    async with running_operations(settings) as svc:
        yield svc


async def _until(check: Any, timeout_s: float = 60.0) -> Any:
    for _ in range(int(timeout_s / 0.25)):
        value = await check()
        if value:
            return value
        await asyncio.sleep(0.25)
    raise TimeoutError("condition not met")


async def _tickets(svc: Operations, subject: str) -> list[dict[str, Any]]:
    resp = await svc.client.get("/api/v1/tickets", params={"subject": subject})
    assert resp.status_code == 200, resp.text
    body: list[dict[str, Any]] = resp.json()
    return body


def _month(now: datetime, svc: Operations) -> dict[str, int]:
    local = now.astimezone(svc.ops.settings.tz())
    return {"year": local.year, "month": local.month}


async def test_a_terminal_switched_off_produces_a_ticket_and_downtime(
        operations: Operations, replica: Replica, bus: tuple[BusWatch, BusProducer],
        tmp_path: Path) -> None:
    watch, _ = bus
    terminal = Terminal(replica.port, tmp_path / "fleet.json")
    terminal.switch_on()
    try:
        key = terminal.key()

        async def online() -> bool:
            return any(s.terminal == key and s.state is SessionState.ONLINE for s in watch.sessions)

        await _until(online)
        await asyncio.sleep(1.5)  # up for a while
        assert not await _tickets(operations, key)
        off_at = datetime.now(UTC)
        terminal.switch_off()

        async def opened() -> list[dict[str, Any]]:
            return await _tickets(operations, key)

        (ticket,) = await _until(opened)
        assert (ticket["level"], ticket["severity"], ticket["state"]) == ("terminal", "major", "open")
        assert "offline" in ticket["title"]
        fault = (await operations.client.get(f"/api/v1/tickets/{ticket['ticket_id']}")).json()["fault"]
        assert fault["kind"] == "terminal_offline" and fault["terminal"] == key and fault["cleared_at"] is None
        status = (await operations.client.get("/api/v1/status")).json()
        assert status["fleet"]["offline"] >= 1
        await asyncio.sleep(1.0)
        terminal.switch_on()  # power back

        async def resolved() -> dict[str, Any] | None:
            t = (await operations.client.get(f"/api/v1/tickets/{ticket['ticket_id']}")).json()
            return t if t["state"] == "resolved" else None

        t = await _until(resolved)
        on_at = datetime.now(UTC)
        assert t["fault"]["cleared_at"] is not None and t["history"][-1]["note"].endswith("cleared")
        assert len(await _tickets(operations, key)) == 1, "one ticket per fault"
        resp = await operations.client.get("/api/v1/availability/terminals",
                                           params={**_month(off_at, operations), "terminal": key})
        assert resp.status_code == 200, resp.text
        (row,) = resp.json()["terminals"]
        assert row["terminal"] == key
        outage = (on_at - off_at).total_seconds()
        assert 2.0 <= row["down_s"] <= outage + 1.0, (row, outage)
        assert row["up_s"] > 1.0 and 0 < row["availability"] < 1
        assert row["availability"] == pytest.approx(row["up_s"] / (row["up_s"] + row["down_s"]), abs=1e-5)
        closed = await operations.client.post(f"/api/v1/tickets/{ticket['ticket_id']}/transition",
                                               json={"state": "closed", "closing_reason": "power restored on site"})
        assert closed.status_code == 200, closed.text
    finally:
        if terminal.process is not None and terminal.process.poll() is None:
            terminal.process.send_signal(signal.SIGTERM)
            terminal.process.wait(timeout=20)


async def test_a_stopped_service_is_a_critical_master_fault_and_master_downtime(
        operations: Operations, analytics: Analytics) -> None:
    svc = operations

    async def polled_up() -> bool:
        return bool(svc.ops.poller.latest.get("analytics", {}).get("up"))

    await _until(polled_up)
    assert (await svc.client.get("/api/v1/status")).json()["master"]["up"] is True
    stopped_at = datetime.now(UTC)
    await asyncio.to_thread(analytics.stop)

    async def opened() -> list[dict[str, Any]]:
        return await _tickets(svc, "analytics")

    (ticket,) = await _until(opened)
    assert (ticket["level"], ticket["severity"]) == ("master", "critical")
    assert (await svc.client.get("/api/v1/status")).json()["master"]["up"] is False
    await asyncio.to_thread(analytics.start)

    async def resolved() -> bool:
        t = (await svc.client.get(f"/api/v1/tickets/{ticket['ticket_id']}")).json()
        return bool(t["state"] == "resolved")

    await _until(resolved)
    await _until(polled_up)
    up_at = datetime.now(UTC)
    params = _month(stopped_at, svc)
    body = (await svc.client.get("/api/v1/availability/master", params=params)).json()
    a = body["services"]["analytics"]
    assert a["down_s"] > 0.5 and 0 < a["availability"] < 1
    assert body["master"]["availability"] == pytest.approx(a["availability"], abs=1e-6), "one service: the same"
    year = (await svc.client.get("/api/v1/availability/master", params={"year": params["year"]})).json()
    assert year["services"]["analytics"]["down_s"] == pytest.approx(a["down_s"], abs=1.0)
    await svc.ops.refresh_availability()  # the month so far as gauges (dashboards, alerts)
    gauge = REGISTRY.get_sample_value("emms_operations_availability_ratio", {"subject": "analytics"})
    assert gauge is not None and gauge < 1
    assert REGISTRY.get_sample_value("emms_operations_availability_ratio", {"subject": "master"}) == gauge
    window = await svc.client.post("/api/v1/planned-maintenance", json={
        "level": "master", "subject": "analytics", "starts_at": (stopped_at - timedelta(seconds=1)).isoformat(),
        "ends_at": (up_at + timedelta(seconds=1)).isoformat(), "reason": "upgrade"})
    assert window.status_code == 201, window.text
    planned = (await svc.client.get("/api/v1/availability/master", params=params)).json()["services"]["analytics"]
    assert planned["planned_s"] > 0 and planned["down_s"] == 0 and planned["availability"] == 1.0
    bad = await svc.client.post("/api/v1/planned-maintenance", json={
        "level": "master", "subject": "*", "starts_at": up_at.isoformat(),
        "ends_at": stopped_at.isoformat(), "reason": "backwards"})
    assert bad.status_code == 422
