"""Prometheus metrics of report runs and scheduled deliveries."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

RUNS = Counter("emms_reports_runs_total", "Report runs by format and outcome (ok, refused, failed)",
               ["format", "outcome"])
ROWS = Counter("emms_reports_rows_total", "Rows written into reports, by format", ["format"])
SECONDS = Histogram("emms_reports_run_seconds", "Time to render a report (XLSX / PDF to disk, CSV to the last byte)",
                    ["format"], buckets=(0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600))
DELIVERIES = Counter("emms_reports_deliveries_total", "Scheduled deliveries by target kind and status",
                     ["target_kind", "status"])
