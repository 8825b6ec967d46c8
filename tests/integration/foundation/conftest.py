"""The foundation's bus tests count messages on whole topics, so they get topics of their own
(see ``service_harness.area_topics``): other areas' tests (the archive fills the master-data
topic) cannot change what these see, whatever order pytest runs them in."""

from __future__ import annotations

import pytest
from service_harness import area_topics

from emms_bus import KafkaSettings


@pytest.fixture(scope="session")
def kafka_settings(kafka_settings: KafkaSettings) -> KafkaSettings:
    return area_topics(kafka_settings, "fdn")
