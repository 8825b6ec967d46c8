"""A consumer stops cleanly when aiokafka's fetcher re-raises the CancelledError of a fetch request it cancelled in
its retry back-off (a broker that timed out): the client's connections are closed all the same, and a real
cancellation of the consumer's own task still goes through."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from emms_bus import BusConsumer, BusProducer, KafkaSettings


class _Client:
    def __init__(self) -> None:
        self.closed = False

    async def close(self) -> None:
        self.closed = True


class _StoppingConsumer:
    """What aiokafka's consumer does at stop() when its fetcher had a request sleeping in retry."""

    def __init__(self, hang: bool = False) -> None:
        self._client = _Client()
        self._hang = hang

    async def stop(self) -> None:
        if self._hang:
            await asyncio.sleep(3600)
        raise asyncio.CancelledError


def _consumer(fake: Any) -> BusConsumer:
    settings = KafkaSettings(bootstrap="127.0.0.1:9", topic_prefix="unit.")
    consumer = BusConsumer(settings, group="g", topics=["emms.masterdata.change.v1"], handler=_noop,
                           dlq_producer=BusProducer(settings, "unit"))
    consumer._consumer = fake
    return consumer


async def _noop(batch: Any) -> None:
    return None


async def test_a_cancelled_fetch_at_stop_is_swallowed_and_the_client_closed() -> None:
    fake = _StoppingConsumer()
    await _consumer(fake)._close()
    assert fake._client.closed


async def test_cancelling_the_consumers_task_still_cancels_it() -> None:
    fake = _StoppingConsumer(hang=True)
    task = asyncio.create_task(_consumer(fake)._close())
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not fake._client.closed
