"""Every Prometheus metric of the archive service, in one place (names: emms_archive_*)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

READINGS_STORED = Counter("emms_archive_readings_stored_total", "Readings written, by layer and outcome",
                          ["layer", "outcome"])
INGEST_BATCH_SECONDS = Histogram("emms_archive_ingest_batch_seconds", "Time to store one bus batch", ["layer"],
                                 buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
EVENTS_STORED = Counter("emms_archive_events_stored_total", "Events and anomalies written", ["kind", "outcome"])
OUTBOX_PUBLISHED = Counter("emms_archive_outbox_published_total", "Master-data changes published on the bus")
IMPORT_ROWS = Counter("emms_archive_import_rows_total", "Rows of batch imports, by outcome", ["outcome"])
QUERY_SECONDS = Histogram("emms_archive_query_seconds", "Query API latency by kind", ["kind"],
                          buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
DIRECT_FALLBACKS = Counter("emms_archive_ingest_direct_fallbacks_total",
                           "Raw batches the direct COPY refused (a reading already stored) that took the staging path")
RETENTION_DROPPED = Counter("emms_archive_retention_partitions_dropped_total",
                            "Monthly partitions dropped by retention on plain PostgreSQL", ["table"])
