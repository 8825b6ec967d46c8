"""The archive's bus consumers: raw readings in one group, everything else in another.

Raw readings have their own group (and by default two consumers in it) so the bulk path is
never held up behind events. Every handler is idempotent by natural key, so the at-least-once
consumer may redeliver a batch after a crash without changing what is stored.
"""

from __future__ import annotations

from collections.abc import Sequence

from emms_archive.runtime import ArchiveRuntime
from emms_bus import Decoder, Delivery
from emms_bus.consumer import Handler
from emms_messages.events import Anomaly, DeviceEvent
from emms_messages.raw_rows import RawRows, decode_raw_rows
from emms_messages.readings import ValidatedReadingBatch

RAW_TOPIC = "emms.reading.raw.v1"
RECORD_TOPICS = ("emms.reading.validated.v1", "emms.device.event.v1", "emms.anomaly.v1")
RAW_GROUP = "archive-raw"
RECORDS_GROUP = "archive-records"
RAW_DECODERS: dict[str, Decoder] = {RAW_TOPIC: decode_raw_rows}
"""Raw batches are decoded straight into table rows: no model per reading on the bulk path."""


def raw_handler(archive: ArchiveRuntime) -> Handler:
    async def handle(deliveries: Sequence[Delivery]) -> None:
        await archive.raw.store_decoded([d.payload for d in deliveries if isinstance(d.payload, RawRows)])

    return handle


def records_handler(archive: ArchiveRuntime) -> Handler:
    async def handle(deliveries: Sequence[Delivery]) -> None:
        validated = [v for d in deliveries if isinstance(d.payload, ValidatedReadingBatch) for v in d.payload.readings]
        events = [(d.envelope.message_id, d.payload) for d in deliveries if isinstance(d.payload, DeviceEvent)]
        anomalies = [d.payload for d in deliveries if isinstance(d.payload, Anomaly)]
        await archive.validated.store(validated)
        await archive.events.store_events(events)
        await archive.events.store_anomalies(anomalies)

    return handle
