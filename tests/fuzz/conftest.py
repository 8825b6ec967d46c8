"""The fuzzer's stack: every service served over HTTP on a database and topics of its own."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fuzz_stack import FuzzStack

from emms_bus import KafkaSettings


@pytest.fixture(scope="module")
def fuzz_stack(database_url: str, kafka_settings: KafkaSettings,
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[FuzzStack]:
    with FuzzStack(database_url, kafka_settings, tmp_path_factory.mktemp("fuzz")) as stack:
        yield stack
