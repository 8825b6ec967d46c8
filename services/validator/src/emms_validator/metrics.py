"""Every Prometheus metric of the validator, in one place (low-cardinality labels: status, rule, severity)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

READINGS = Counter("emms_validator_readings_total", "Readings validated, by outcome", ["status"])
ESTIMATED = Counter("emms_validator_estimated_total", "Points estimated for gaps, by method", ["method"])
FINDINGS = Counter("emms_validator_findings_total", "Rule findings (anomalies)", ["rule", "severity"])
ALARMS = Counter("emms_validator_alarms_total", "Important anomalies raised as alarms at once", ["rule"])
BACKFILLS = Counter("emms_validator_backfill_requests_total", "Back-fill requests sent to the collector")
REPAIRS = Counter("emms_validator_repairs_total", "Held readings by how they ended", ["outcome"])
BATCH_SECONDS = Histogram("emms_validator_batch_seconds", "Load, validate, save and publish one consumer batch",
                          buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
HANDOFF = Counter("emms_validator_handoff_total", "Anomaly hand-offs to webhooks, by result", ["result"])
EDITS = Counter("emms_validator_manual_edits_total", "Manual edits published")
