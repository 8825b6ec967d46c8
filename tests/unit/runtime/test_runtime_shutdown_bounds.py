"""A shutdown step that hangs (a client stuck on its broker) does not keep the service from stopping."""

from __future__ import annotations

import asyncio
import time

import pytest

from emms_runtime import app as service_app
from emms_runtime.app import build_lifespan
from emms_runtime.service import ServiceRuntime, ServiceSpec
from emms_runtime.settings import ServiceSettings


def test_a_hanging_teardown_is_bounded_and_the_lifespan_ends(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(service_app, "STEP_BOUND_S", 0.3)
    stopped: list[str] = []

    async def worker(stop: asyncio.Event) -> None:
        await stop.wait()
        stopped.append("worker")

    async def setup(rt: ServiceRuntime) -> None:
        rt.add_worker("w", worker)

    async def teardown(_rt: ServiceRuntime) -> None:
        await asyncio.sleep(3600)

    spec = ServiceSpec(name="probe", title="probe", description="", uses_database=False, uses_bus=False,
                       setup=setup, teardown=teardown)
    app = service_app.create_service_app(ServiceSettings(), spec)

    async def lifespan() -> None:
        async with build_lifespan(spec, ServiceSettings())(app):
            pass

    async def run() -> float:
        await asyncio.wait_for(lifespan(), 5)  # without the bound: TimeoutError here, not a hung test
        return time.monotonic()

    started = time.monotonic()
    ended = asyncio.run(run())
    assert stopped == ["worker"]
    assert ended - started < 2.0


def test_a_failing_step_is_logged_and_the_next_runs() -> None:
    async def failing() -> None:
        raise RuntimeError("broker gone")

    assert asyncio.run(service_app._bounded(failing(), "producer")) is True
