"""What a service is made of, and the runtime object its lifespan builds.

A service declares a :class:`ServiceSpec` (name, DB schema and migrations,
routers, a ``setup`` hook that builds its domain state and registers workers);
:func:`emms_runtime.app.create_service_app` turns it into a FastAPI app whose
lifespan builds one :class:`ServiceRuntime`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
from fastapi import APIRouter

from emms_bus import BusConsumer, BusProducer, CommitPolicy, Decoder, UndeclaredTopicError
from emms_bus.consumer import Handler
from emms_db import MigrationReport, StorageMode
from emms_messages.topics import TOPICS
from emms_runtime.retriable import is_retriable
from emms_runtime.settings import ServiceSettings

Worker = Callable[[asyncio.Event], Awaitable[None]]
"""A long-running task: runs until the stop event is set, then finishes what is in flight."""


@dataclass
class ServiceRuntime:
    name: str
    settings: ServiceSettings
    stop: asyncio.Event
    pool: asyncpg.Pool | None = None
    producer: BusProducer | None = None
    storage_mode: StorageMode | None = None
    migration: MigrationReport | None = None
    state: Any = None
    workers: dict[str, Worker] = field(default_factory=dict)
    consumers: list[BusConsumer] = field(default_factory=list)
    tasks: dict[str, asyncio.Task[None]] = field(default_factory=dict)

    def add_worker(self, name: str, worker: Worker) -> None:
        if name in self.workers:
            raise ValueError(f"worker {name!r} registered twice")
        self.workers[name] = worker

    def add_consumer(self, group: str, topics: Sequence[str], handler: Handler,
                     policy: CommitPolicy = CommitPolicy.AFTER_EFFECT, max_batch: int | None = None,
                     decoders: Mapping[str, Decoder] | None = None) -> BusConsumer:
        """Register an at-least-once consumer; it starts with the other workers."""
        if self.producer is None:
            raise RuntimeError("consumers need the producer (for the dead-letter topic)")
        undeclared = [t for t in topics if t in TOPICS and self.name not in TOPICS[t].consumers]
        if undeclared:  # its KafkaUser, generated from the table, would be refused on Kubernetes
            raise UndeclaredTopicError(f"the topic table does not list {self.name} as a consumer of"
                                       f" {', '.join(undeclared)}")
        consumer = BusConsumer(self.settings.kafka, group=group, topics=topics, handler=handler,
                               dlq_producer=self.producer, policy=policy, max_batch=max_batch,
                               decoders=decoders, retriable=is_retriable)
        self.consumers.append(consumer)
        self.add_worker(f"consumer:{group}", consumer.run)
        return consumer

    def waiting_consumers(self) -> dict[str, str]:
        """Consumers waiting out an outage (group → the error)."""
        return {c.group: c.waiting_out for c in self.consumers if c.waiting_out is not None}

    def joining_consumers(self) -> list[str]:
        """Consumers reading from the end of their topics that have not had their partitions yet: what
        is published to them now would be missed (a FEP would lose the requests sent to it)."""
        return [c.group for c in self.consumers if not c.from_beginning and not c.joined()]

    def dead_workers(self) -> list[str]:
        return [n for n, t in self.tasks.items() if t.done() and not self.stop.is_set()]


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    title: str
    description: str
    schema: str | None = None
    migrations: Path | None = None
    routers: Sequence[APIRouter] = ()
    uses_database: bool = True
    uses_bus: bool = True
    setup: Callable[[ServiceRuntime], Awaitable[None]] | None = None
    teardown: Callable[[ServiceRuntime], Awaitable[None]] | None = None
    version: str = "0.1.0"
    own_body_checks: frozenset[str] = frozenset()
    """Paths whose routes check their own body text and answer in a standard's format (see
    :mod:`emms_runtime.request_hygiene`)."""
