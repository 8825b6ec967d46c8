"""Prometheus metrics of the collector (``emms_collector_*``); no per-meter or per-terminal labels.

Success rates per task are gauges set when a run finishes (and when back-fill
fills its gaps), labelled by task id — tasks are few; terminals and meters are
not labels (their figures are in the quality API).
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

RUNS_PLANNED = Counter("emms_collector_runs_planned_total", "Run rows created by the scheduler")
RUNS_RUNNING = Gauge("emms_collector_runs_running", "Runs this replica is executing")
RUNS_FINISHED = Counter("emms_collector_runs_finished_total", "Runs finished by this replica", ["status"])
RUN_SECONDS = Histogram("emms_collector_run_seconds", "Wall time of one run",
                        buckets=(1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600))

REQUESTS = Counter("emms_collector_requests_total", "Downlink requests by purpose and outcome", ["purpose", "outcome"])
REQUESTS_IN_FLIGHT = Gauge("emms_collector_requests_in_flight", "Downlink requests awaiting their result")
REQUEST_SECONDS = Histogram("emms_collector_request_seconds", "Request publication to result",
                            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60))
READINGS = Counter("emms_collector_readings_total", "Canonical readings published", ["source"])
UNMATCHED = Counter("emms_collector_unmatched_values_total",
                    "Values in answers or reports that matched no known point", ["source"])

SUCCESS_FIRST = Gauge("emms_collector_task_success_first_ratio", "One-time success rate of the task's last run",
                      ["task"])
SUCCESS_FINAL = Gauge("emms_collector_task_success_final_ratio",
                      "Periodic success rate of the task's last run after retries and back-fill", ["task"])
COMPLETENESS = Gauge("emms_collector_task_completeness_ratio", "Data completeness of the task's last run", ["task"])

GAPS_OPEN = Gauge("emms_collector_gaps_open", "Open gaps in the back-fill horizon")
GAPS_FILLED = Counter("emms_collector_gaps_filled_total", "Gaps filled", ["by"])

MANUAL_SECONDS = Histogram("emms_collector_manual_read_seconds", "Manual read latency (request to values)",
                           buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30))
CLOCK_SYNCS = Counter("emms_collector_clock_syncs_total", "Terminal clock syncs by outcome", ["outcome"])
CLOCK_OUT_OF_TOLERANCE = Gauge("emms_collector_clocks_out_of_tolerance", "Terminals whose clock deviation exceeds "
                               "the tolerance")
MASTER_CLOCK_OFFSET = Gauge("emms_master_clock_offset_seconds", "The master's clock minus the NTP server's "
                            "(positive: the master is ahead), delay compensated", ["server"])
MASTER_CLOCK_REACHABLE = Gauge("emms_master_clock_reachable", "1 when the NTP server answered the last check",
                               ["server"])
MASTER_CLOCK_TOLERANCE = Gauge("emms_master_clock_tolerance_seconds", "The master clock's configured tolerance")
CLOCK_DEVIATION = Gauge("emms_clock_deviation_max_seconds", "Largest absolute clock deviation last seen, by level "
                        "(terminal, collector, meter)", ["level"])
ACD_READS = Counter("emms_collector_acd_reads_total", "Event reads started by a terminal's ACD flag, by result",
                    ["result"])
EVENTS = Counter("emms_collector_events_total", "Device events published", ["event_class"])
