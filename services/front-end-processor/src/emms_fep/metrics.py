"""Every Prometheus metric of the FEP, in one place.

Labels stay low-cardinality: the port (channel label), a direction, a reason
or an outcome — never a terminal address. Per-terminal figures are served by
the API (``/api/v1/terminals/{terminal}``) and persisted daily in ``fep.traffic_daily``.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

CONNECTIONS = Gauge("emms_fep_connections", "Open terminal links", ["port"])
SESSIONS = Gauge("emms_fep_sessions_online", "Terminals logged in on this replica")
FRAMES = Counter("emms_fep_frames_total", "Whole 1376.1 frames", ["port", "direction"])
BYTES = Counter("emms_fep_bytes_total", "Bytes on terminal links", ["port", "direction"])
ILLEGAL = Counter("emms_fep_illegal_frames_total", "Frames refused (undecodable, oversize, wrong address...)",
                  ["port", "reason"])
DROPPED_BYTES = Counter("emms_fep_dropped_bytes_total", "Garbage bytes skipped by the framer", ["port"])
LINKS_REFUSED = Counter("emms_fep_links_refused_total", "Links refused or closed by a protection limit",
                        ["port", "reason"])
LOGINS = Counter("emms_fep_logins_total", "Logins confirmed", ["port"])
SESSIONS_CLOSED = Counter("emms_fep_sessions_closed_total", "Sessions ended", ["reason"])
HEARTBEATS = Counter("emms_fep_heartbeats_total", "Heartbeats confirmed")
TRAFFIC_OVER_ALLOWANCE = Gauge("emms_fep_traffic_over_allowance_terminals",
                               "Terminals whose SIM traffic (bytes in + out) exceeds its allowance", ["period"])
ACD_FRAMES = Counter("emms_fep_acd_frames_total", "Frames with ACD set (an important event waits to be read), "
                     "always published on the uplink topic", ["kind"])
REPORTS = Counter("emms_fep_active_reports_total", "Active reports (events, scheduled data) received", ["kind"])
REQUESTS = Counter("emms_fep_requests_total", "Downlink requests finished", ["outcome"])
REQUEST_SENDS = Counter("emms_fep_request_sends_total", "Downlink frames sent (first tries and retries)",
                        ["attempt"])
ROUND_TRIP = Histogram("emms_fep_request_round_trip_seconds", "Send to final answer frame of a request",
                       buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
IN_FLIGHT = Gauge("emms_fep_requests_in_flight", "Downlink requests sent and not yet answered")
QUEUED = Gauge("emms_fep_requests_queued", "Downlink requests waiting for a free slot of their terminal")
PARKED = Gauge("emms_fep_requests_parked", "Requests for terminals nobody holds, waiting out the grace period")
UNIT_DECODE_FAILURES = Counter("emms_fep_unit_decode_failures_total",
                               "Frames whose data units did not decode (the frame is still published, bytes and "
                               "header); error: protocol = malformed bytes, defect = a codec bug",
                               ["stage", "error"])
UNMATCHED = Counter("emms_fep_unmatched_responses_total", "Responses matching no request (late, duplicate)")
CLOCK_DEVIATION = Histogram("emms_fep_terminal_clock_deviation_seconds",
                            "Terminal clock minus FEP clock, absolute, at heartbeats that carry it",
                            buckets=(0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600))
PUBLISH_QUEUE = Gauge("emms_fep_publish_queue_messages", "Payloads waiting for the broker")
PUBLISH_SECONDS = Histogram("emms_fep_publish_batch_seconds", "Time to publish one batch",
                            buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5))
PUBLISH_FAILURES = Counter("emms_fep_publish_failures_total", "Batches the broker refused (retried)")
READING_PAUSED = Gauge("emms_fep_reading_paused_links", "Links paused by back-pressure from the broker")
LOOP_LAG = Histogram("emms_fep_event_loop_lag_seconds", "Event-loop lag sampled by a periodic probe",
                     buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5))
REPLICAS = Gauge("emms_fep_replicas_live", "FEP replicas with a recent heartbeat in the replica table")
GC_PAUSE = Histogram("emms_fep_gc_pause_seconds", "Cyclic garbage collections, by generation", ["generation"],
                     buckets=(0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1))
