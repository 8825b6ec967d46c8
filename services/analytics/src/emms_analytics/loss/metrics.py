"""Prometheus metrics of the loss runs (low-cardinality labels)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

RUNS = Counter("emms_analytics_loss_runs_total", "Daily loss runs, by outcome", ["outcome"])
RUN_SECONDS = Histogram("emms_analytics_loss_run_seconds", "One daily loss run over every active model",
                        buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 40, 80))
MODELS = Gauge("emms_analytics_loss_models", "Models of the last daily run, by state (complete / incomplete / "
               "abnormal)", ["state"])
ANOMALIES = Counter("emms_analytics_loss_anomalies_total", "Abnormal losses raised, by kind", ["kind"])
GENERATIONS = Counter("emms_analytics_loss_generations_total", "Generated models created, versioned or made "
                      "inactive from the topology", ["change"])
