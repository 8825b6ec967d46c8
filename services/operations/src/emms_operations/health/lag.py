"""The broker's consumer lag per group: end offsets minus committed offsets of every group's partitions."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer
from aiokafka.structs import TopicPartition

from emms_bus import KafkaSettings
from emms_messages.topics import TOPICS
from emms_operations import metrics

log = structlog.get_logger("emms.operations.lag")


def _service_topics(group: str) -> list[str]:
    """The topics a group may consume: those its service (the group name's first word) consumes."""
    service = group.split("-", 1)[0]
    return sorted(name for name, t in TOPICS.items() if service in t.consumers)


async def _committed(settings: KafkaSettings, group: str,
                     partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
    """A group's committed offsets, read by a member that never joins it (no subscription, no commit)."""
    member = AIOKafkaConsumer(bootstrap_servers=settings.bootstrap, client_id=f"{settings.client_id}-lag",
                              group_id=settings.topic(group), enable_auto_commit=False, **settings.client_security())
    await member.start()
    try:
        values = await asyncio.gather(*(member.committed(tp) for tp in partitions))
    finally:
        await member.stop()
    return {tp: off for tp, off in zip(partitions, values, strict=True) if off is not None and off >= 0}


async def group_lags(settings: KafkaSettings, known: Sequence[str]) -> dict[str, int]:
    """group → messages behind (summed over its partitions with a committed offset) for the ``known`` groups of this
    deployment (read with the groups' OffsetFetch, which every broker answers; Tansu lists no groups). A group
    with no committed offset is left out."""
    reader = AIOKafkaConsumer(bootstrap_servers=settings.bootstrap, client_id=f"{settings.client_id}-lag",
                              enable_auto_commit=False, **settings.client_security())
    await reader.start()
    try:
        await reader.topics()  # the cluster's metadata: every topic's partitions
        out: dict[str, int] = {}
        for group in sorted(set(known)):
            partitions = []
            for topic in _service_topics(group):
                numbers = reader.partitions_for_topic(settings.topic(topic))
                partitions += [TopicPartition(settings.topic(topic), n) for n in sorted(numbers or ())]
            if not partitions:
                continue
            committed = await _committed(settings, group, partitions)
            if not committed:
                continue
            ends = await reader.end_offsets(list(committed))
            out[group] = int(sum(max(ends[tp] - off, 0) for tp, off in committed.items()))
        return out
    finally:
        await reader.stop()


@dataclass
class LagWatch:
    settings: KafkaSettings
    known: Sequence[str] = ()
    lags: dict[str, int] = field(default_factory=dict)
    checked_at: datetime | None = None
    error: str | None = None

    async def step(self) -> None:
        try:
            self.lags = await group_lags(self.settings, self.known)
            self.error = None
        except Exception as exc:  # a broker without the group API answers the status without lag
            self.error = repr(exc)[:300]
            log.warning("consumer lag not read", error=self.error)
            return
        finally:
            self.checked_at = datetime.now(UTC)
        for group, lag in self.lags.items():
            metrics.CONSUMER_LAG.labels(group=group).set(lag)

    def as_public(self) -> dict[str, Any]:
        return {"groups": self.lags, "total": sum(self.lags.values()), "checked_at": self.checked_at,
                "error": self.error}
