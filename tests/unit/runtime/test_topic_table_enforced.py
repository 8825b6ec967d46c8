"""A service may publish and consume only what the topic table gives it: the table generates the services'
KafkaUsers (deploy/k8s/base/kafka/users.yaml), so a topic used outside it would work in tests and be refused
on Kubernetes. The archive's terminal-password rotations were such a case (requests out, results in)."""

from __future__ import annotations

import asyncio

import pytest

from emms_bus import BusProducer, KafkaSettings, UndeclaredTopicError
from emms_messages.terminal import DownlinkRequest
from emms_messages.topics import TOPICS
from emms_runtime.service import ServiceRuntime
from emms_runtime.settings import ServiceSettings

REQUEST = DownlinkRequest(request_id="r1", terminal="0171-00001", afn=0x0C, units=[], requested_by="test")


async def test_a_service_publishing_outside_its_topics_is_refused_before_the_broker() -> None:
    producer = BusProducer(KafkaSettings(bootstrap="127.0.0.1:1"), "emms-validator", service="validator")
    with pytest.raises(UndeclaredTopicError, match=r"validator as a producer of emms\.downlink\.request\.v1"):
        await producer.publish(REQUEST)


async def test_a_service_consuming_outside_its_topics_is_refused_at_start() -> None:
    rt = ServiceRuntime(name="validator", settings=ServiceSettings(), stop=asyncio.Event())
    rt.producer = BusProducer(KafkaSettings(bootstrap="127.0.0.1:1"), "emms-validator", service="validator")

    async def handler(_: object) -> None:
        return None

    with pytest.raises(UndeclaredTopicError, match=r"validator as a consumer of emms\.downlink\.result\.v1"):
        rt.add_consumer("validator-results", ["emms.downlink.result.v1"], handler)
    rt.add_consumer("validator-raw", ["emms.reading.raw.v1"], handler)  # its own: accepted
    assert [c.group for c in rt.consumers] == ["validator-raw"]


def test_the_archive_may_rotate_terminal_passwords() -> None:
    assert "archive" in TOPICS["emms.downlink.request.v1"].producers
    assert "archive" in TOPICS["emms.downlink.result.v1"].consumers
