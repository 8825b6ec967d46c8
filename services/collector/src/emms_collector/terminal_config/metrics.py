"""Prometheus metrics of terminal management (``emms_collector_terminal_*``); no per-terminal labels."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

PUSHES = Counter("emms_collector_terminal_param_pushes_total", "Parameter pushes finished, by outcome", ["outcome"])
DRIFT_FOUND = Counter("emms_collector_terminal_param_drift_total",
                      "Parameters found different from the master's on read-back (each new finding once)")
DRIFTING = Gauge("emms_collector_terminal_params_drifting", "Terminal parameters currently in drift")
NEW_TERMINALS = Counter("emms_collector_terminals_new_total", "Terminals seen logging in for the first time, "
                        "not in master data")
UNKNOWN_METERS = Gauge("emms_collector_terminal_unknown_meters",
                       "Meters in a concentrator's table that master data lacks (last table read)")
