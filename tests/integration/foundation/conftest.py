"""The foundation's bus tests count messages on whole topics, so they get topics of their own:
the session's prefix plus ``fdn.`` — other areas' tests (the archive fills the master-data
topic) cannot change what these see, whatever order pytest runs them in."""

from __future__ import annotations

import asyncio

import pytest

from emms_bus import KafkaSettings, ensure_topics


@pytest.fixture(scope="session")
def kafka_settings(kafka_settings: KafkaSettings) -> KafkaSettings:
    settings = kafka_settings.model_copy(update={"topic_prefix": f"{kafka_settings.topic_prefix}fdn."})
    asyncio.run(ensure_topics(settings))
    return settings
