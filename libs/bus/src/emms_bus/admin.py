"""Topic creation from the topic table, and a broker reachability probe."""

from __future__ import annotations

from collections.abc import Iterable

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from emms_bus.settings import KafkaSettings
from emms_messages.topics import TOPICS, Topic

DLQ_PARTITIONS = 4


def _new_topics(settings: KafkaSettings, topics: Iterable[Topic]) -> list[NewTopic]:
    out: list[NewTopic] = []
    for t in topics:
        config = {"retention.ms": str(t.retention_ms), "cleanup.policy": "delete"}
        rf = settings.replication_factor
        out.append(NewTopic(settings.topic(t.name), t.partitions, rf, topic_configs=config))
        out.append(NewTopic(settings.topic(t.dlq), DLQ_PARTITIONS, rf, topic_configs={"cleanup.policy": "delete"}))
    return out


async def ensure_topics(settings: KafkaSettings, topics: Iterable[Topic] | None = None) -> list[str]:
    """Create every topic of the table (and its DLQ) that does not exist; return those created."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap, client_id=f"{settings.client_id}-admin",
                                **settings.client_security())
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [n for n in _new_topics(settings, topics or TOPICS.values()) if n.name not in existing]
        created: list[str] = []
        for topic in wanted:
            try:
                await admin.create_topics([topic])
                created.append(topic.name)
            except TopicAlreadyExistsError:
                continue
        return created
    finally:
        await admin.close()


async def broker_reachable(settings: KafkaSettings) -> bool:
    """True when the broker answers a metadata request."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap, client_id=f"{settings.client_id}-probe",
                                request_timeout_ms=3000, **settings.client_security())
    try:
        await admin.start()
        await admin.list_topics()
        return True
    except (KafkaError, OSError):
        return False
    finally:
        await admin.close()
