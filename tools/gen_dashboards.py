"""Generate the Grafana dashboards (committed JSON) with grafana-foundation-sdk.

    .venv/bin/python tools/gen_dashboards.py           # write deploy/grafana/dashboards/<folder>/*.json
    .venv/bin/python tools/gen_dashboards.py --check   # exit 1 when the committed files are stale

Every panel queries metrics that the code declares (``Counter("…")``, ``Gauge(…)``,
``Histogram(…)`` in ``libs/*/src`` and ``services/*/src``), metrics of the
database's exporter queries (``deploy/k8s/base/database/monitoring-queries.yaml``)
or the few well-known ones of Prometheus and kube-state-metrics. A panel whose
metric nobody declares yet is rendered as a note saying which metric it waits
for; once a service declares it, ``--check`` reports the dashboards stale and a
re-run turns the note into the real panel. ``tests/unit/deploy`` checks both.

Also writes ``deploy/grafana/kustomization.yaml``: one ConfigMap per folder for
Grafana's dashboard sidecar (label ``grafana_dashboard``, annotation ``grafana_folder``).
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from grafana_foundation_sdk.builders import common, dashboard, prometheus, stat, table, text, timeseries
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common as common_models
from grafana_foundation_sdk.models.dashboard import (
    DashboardCursorSync,
    DataSourceRef,
    GridPos,
    VariableOption,
    VariableRefresh,
    VariableSort,
)

REPO = Path(__file__).resolve().parents[1]
GRAFANA = REPO / "deploy" / "grafana"
DASHBOARDS = GRAFANA / "dashboards"
CNPG_QUERIES = REPO / "deploy" / "k8s" / "base" / "database" / "monitoring-queries.yaml"

PROMETHEUS = DataSourceRef(type_val="prometheus", uid="prometheus")
POSTGRES = DataSourceRef(type_val="grafana-postgresql-datasource", uid="emms-postgres")
RATE = "$__rate_interval"
SERVICES = "identity|fep|collector|validator|control|analytics|archive"
POD = f'pod=~"emms-({SERVICES})-.+"'

# Prometheus and kube-state-metrics, present wherever kube-prometheus-stack runs.
EXTERNAL_METRICS = frozenset({
    "up", "kube_pod_status_ready", "kube_pod_container_status_restarts_total",
    # CloudNativePG's exporter, custom queries of deploy/k8s/base/database/monitoring-queries.yaml
    "cnpg_emms_collector_task_company",
})

TASK_COMPANY = "max by (namespace, task, company_id) (cnpg_emms_collector_task_company)"
"""task → company (the collector's task table, exported by the database's monitoring queries)."""

_DECLARED = re.compile(r"""\b(Counter|Gauge|Histogram|Summary)\(\s*["']([a-zA-Z_:][a-zA-Z0-9_:]*)["']""")


def declared_metrics(repo: Path = REPO) -> frozenset[str]:
    """Series names the code declares (with the _total/_bucket/_sum/_count suffixes they export)."""
    names: set[str] = set()
    sources = [*repo.glob("libs/*/src/**/*.py"), *repo.glob("services/*/src/**/*.py")]
    for path in sources:
        for kind, name in _DECLARED.findall(path.read_text()):
            if kind == "Counter":
                names.add(name if name.endswith("_total") else f"{name}_total")
            elif kind == "Histogram":
                names.update({name, f"{name}_bucket", f"{name}_sum", f"{name}_count"})
            elif kind == "Summary":
                names.update({name, f"{name}_sum", f"{name}_count"})
            else:
                names.add(name)
    return frozenset(names | cnpg_query_metrics())


def cnpg_query_metrics(path: Path = CNPG_QUERIES) -> set[str]:
    """cnpg_<query>_<column> of every non-label column of the CloudNativePG custom queries."""
    if not path.exists():
        return set()
    queries = yaml.safe_load(yaml.safe_load(path.read_text())["data"]["queries"])
    out: set[str] = set()
    for query, spec in queries.items():
        for column in spec["metrics"]:
            ((name, meta),) = column.items()
            if meta["usage"] != "LABEL":
                out.add(f"cnpg_{query}_{name}")
    return out


_IDENT = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_NOT_METRICS = frozenset({
    "by", "without", "on", "ignoring", "group_left", "group_right", "offset", "bool", "and", "or", "unless",
    "inf", "nan", "le",
})


def metrics_in(expr: str) -> set[str]:
    """Metric names a PromQL expression reads (strings, label matchers, groupings and functions removed)."""
    s = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    s = re.sub(r"\{[^}]*\}", "", s)
    s = re.sub(r"\[[^\]]*\]", "", s)
    s = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", s)
    s = re.sub(r"\$\w+", "", s)
    found = set()
    for m in _IDENT.finditer(s):
        rest = s[m.end():].lstrip()
        if rest.startswith("(") or m.group(0).lower() in _NOT_METRICS:
            continue
        if m.start() > 0 and (s[m.start() - 1].isdigit() or s[m.start() - 1] == "."):
            continue  # the unit or exponent of a number: 5m, 1e3
        found.add(m.group(0))
    return found


# --- panels ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Query:
    expr: str
    legend: str = ""


@dataclass
class PanelSpec:
    """One panel: its kind, queries and size; ``build`` turns it into an SDK builder."""

    kind: str
    title: str
    queries: tuple[Query, ...] = ()
    unit: str = ""
    width: int = 12
    height: int = 8
    description: str = ""
    sql: str = ""
    options: dict[str, Any] = field(default_factory=dict)

    def metrics(self) -> set[str]:
        return {m for q in self.queries for m in metrics_in(q.expr)}


def ts(title: str, *queries: Query, unit: str = "short", width: int = 12, description: str = "") -> PanelSpec:
    return PanelSpec("timeseries", title, queries, unit, width, 8, description)


def st(title: str, *queries: Query, unit: str = "short", width: int = 6, description: str = "") -> PanelSpec:
    return PanelSpec("stat", title, queries, unit, width, 5, description)


def sql_table(title: str, sql: str, width: int = 12, description: str = "") -> PanelSpec:
    return PanelSpec("sqltable", title, (), "", width, 8, description, sql)


def sql_ts(title: str, sql: str, unit: str = "short", width: int = 12, description: str = "") -> PanelSpec:
    """A time series from the PostgreSQL datasource (``format: time_series``: long rows become series)."""
    return PanelSpec("sqlts", title, (), unit, width, 8, description, sql)


class _SqlQuery(cogvariants.Dataquery):
    def __init__(self, ref_id: str, sql: str, fmt: str = "table") -> None:
        self.ref_id, self.sql, self.fmt = ref_id, sql, fmt

    def to_json(self) -> dict[str, object]:
        return {"refId": self.ref_id, "datasource": POSTGRES, "editorMode": "code", "format": self.fmt,
                "rawQuery": True, "rawSql": self.sql}


class _SqlQueryBuilder(cogbuilder.Builder[cogvariants.Dataquery]):
    def __init__(self, sql: str, fmt: str = "table") -> None:
        self._sql, self._fmt = sql, fmt

    def build(self) -> cogvariants.Dataquery:
        return _SqlQuery("A", self._sql, self._fmt)


def _prom_targets(spec: PanelSpec) -> list[prometheus.Dataquery]:
    return [prometheus.Dataquery().ref_id(chr(ord("A") + i)).expr(q.expr).legend_format(q.legend or "__auto")
            for i, q in enumerate(spec.queries)]


def _legend() -> common.VizLegendOptions:
    return (common.VizLegendOptions().show_legend(True).display_mode(common_models.LegendDisplayMode.LIST)
            .placement(common_models.LegendPlacement.BOTTOM).calcs([]))


def build_panel(spec: PanelSpec, panel_id: int, grid: GridPos, declared: frozenset[str]) -> Any:
    missing = sorted(m for m in spec.metrics() if m not in declared and m not in EXTERNAL_METRICS)
    if missing:
        names = ", ".join(f"`{m}`" for m in missing)
        note = (f"**Not instrumented yet.** This panel waits for {names}, which no service declares yet "
                f"(proposed in `deploy/prometheus/pending/README.md`). Re-run `tools/gen_dashboards.py` "
                f"once it exists.")
        return text.Panel().id(panel_id).title(spec.title).grid_pos(grid).content(note)
    if spec.kind == "sqltable":
        return (table.Panel().id(panel_id).title(spec.title).description(spec.description).grid_pos(grid)
                .datasource(POSTGRES).with_target(_SqlQueryBuilder(spec.sql)))
    if spec.kind == "sqlts":
        return (timeseries.Panel().legend(_legend()).line_width(1).fill_opacity(10).id(panel_id).title(spec.title)
                .description(spec.description).grid_pos(grid).datasource(POSTGRES).unit(spec.unit)
                .with_target(_SqlQueryBuilder(spec.sql, "time_series")))
    if spec.kind == "stat":
        panel: Any = stat.Panel()
    else:
        panel = timeseries.Panel().legend(_legend()).line_width(1).fill_opacity(10)
    panel = panel.id(panel_id).title(spec.title).grid_pos(grid).datasource(PROMETHEUS).unit(spec.unit)
    if spec.description:
        panel = panel.description(spec.description)
    for target in _prom_targets(spec):
        panel = panel.with_target(target)
    return panel


@dataclass
class DashboardSpec:
    folder: str
    file: str
    uid: str
    title: str
    description: str
    rows: list[tuple[str, list[PanelSpec]]]
    variables: list[Any] = field(default_factory=list)
    time_from: str = "now-6h"
    refresh: str = "30s"

    def panels(self) -> Iterable[PanelSpec]:
        return (p for _, panels in self.rows for p in panels)


def build_dashboard(spec: DashboardSpec, declared: frozenset[str]) -> dict[str, Any]:
    board = (dashboard.Dashboard(spec.title).uid(spec.uid).description(spec.description)
             .tags(["emms", spec.folder]).refresh(spec.refresh).time(spec.time_from, "now").timezone("browser")
             .tooltip(DashboardCursorSync.CROSSHAIR))
    for variable in spec.variables:
        board = board.with_variable(variable)
    y, panel_id = 0, 1
    for row_title, panels in spec.rows:
        board = board.with_row(dashboard.Row(row_title).id(panel_id).grid_pos(GridPos(h=1, w=24, x=0, y=y)))
        panel_id, y, x, row_height = panel_id + 1, y + 1, 0, 0
        for p in panels:
            if x + p.width > 24:
                x, y, row_height = 0, y + row_height, 0
            board = board.with_panel(build_panel(p, panel_id, GridPos(h=p.height, w=p.width, x=x, y=y), declared))
            panel_id, x, row_height = panel_id + 1, x + p.width, max(row_height, p.height)
        y += row_height
    data: dict[str, Any] = json.loads(JSONEncoder(sort_keys=True).encode(board.build()))
    return data


# --- the dashboards --------------------------------------------------------------------------------


def _lag(group_filter: str = "") -> str:
    sel = f"{{{group_filter}}}" if group_filter else ""
    return f"sum by (group, topic) (max by (group, topic, partition) (emms_bus_consumer_lag_messages{sel}))"


def _published(topic: str) -> str:
    # the label holds the broker-side name, which carries EMMS_TOPIC_PREFIX when one is set
    return f'sum(rate(emms_bus_published_total{{topic=~".*{topic}"}}[{RATE}]))'


def overview() -> DashboardSpec:
    ready = (f'sum by (service) (label_replace(kube_pod_status_ready{{condition="true", {POD}}}, '
             f'"service", "$1", "pod", "emms-([a-z]+)-.+"))')
    return DashboardSpec("platform", "overview.json", "emms-overview", "EMMS overview",
                         "Services up and ready, HTTP API, and the bus.", [
        ("Services", [
            st("Targets up", Query('sum by (service) (up{job=~"emms-.+"})', "{{service}}"), width=12,
               description="Scraped replicas per service (Prometheus `up`)."),
            st("Pods ready", Query(ready, "{{service}}"), width=12,
               description="Pods whose /readyz passes (database and broker reachable), from kube-state-metrics."),
            ts("Restarts (1 h)", Query(f"sum by (pod) (increase(kube_pod_container_status_restarts_total"
                                       f"{{{POD}}}[1h]))", "{{pod}}"), width=24),
        ]),
        ("HTTP API", [
            ts("Requests/s", Query(f"sum by (service) (rate(emms_http_requests_total[{RATE}]))", "{{service}}"),
               unit="reqps", width=8),
            ts("5xx ratio", Query(f'sum by (service) (rate(emms_http_requests_total{{status=~"5.."}}[{RATE}])) / '
                                  f"sum by (service) (rate(emms_http_requests_total[{RATE}]))", "{{service}}"),
               unit="percentunit", width=8),
            ts("Latency p95", Query(f"histogram_quantile(0.95, sum by (service, le) "
                                    f"(rate(emms_http_request_seconds_bucket[{RATE}])))", "{{service}}"),
               unit="s", width=8),
        ]),
        ("Bus", [
            ts("Published msg/s by topic", Query(f"sum by (topic) (rate(emms_bus_published_total[{RATE}]))",
                                                 "{{topic}}"), unit="ops", width=8),
            ts("Handled msg/s by group", Query(f"sum by (group) (rate(emms_bus_consumed_total[{RATE}]))", "{{group}}"),
               unit="ops", width=8),
            ts("Consumer lag", Query(_lag(), "{{group}} / {{topic}}"), width=8,
               description="Messages behind, per consumer group and topic (max per partition, then summed)."),
            ts("Dead-lettered (per 5 min)", Query("sum by (group, topic, reason) "
                                                  "(increase(emms_bus_dead_lettered_total[5m]))",
                                                  "{{group}} {{topic}} {{reason}}"), width=8,
               description="Messages sent to <topic>.dlq; each one needs a look (docs/operations.md)."),
            ts("Handler retries/s", Query(f"sum by (group) (rate(emms_bus_handler_retries_total[{RATE}]))",
                                          "{{group}}"), unit="ops", width=8),
            ts("Batch time p99", Query(f"histogram_quantile(0.99, sum by (group, le) "
                                       f"(rate(emms_bus_batch_seconds_bucket[{RATE}])))", "{{group}}"),
               unit="s", width=8, description="Handle + commit one batch; includes the database writes."),
        ]),
    ])


def fep() -> DashboardSpec:
    def r(metric: str, by: str, sel: str = "") -> str:
        return f"sum by ({by}) (rate({metric}{sel}[{RATE}]))"

    illegal_ratio = (f"sum by (port) (rate(emms_fep_illegal_frames_total[{RATE}])) / (sum by (port) "
                     f'(rate(emms_fep_frames_total{{direction="in"}}[{RATE}])) + sum by (port) '
                     f"(rate(emms_fep_illegal_frames_total[{RATE}])))")
    return DashboardSpec("field", "fep.json", "emms-fep", "EMMS FEP",
                         "Front-end processor: terminals online, frames, malformed frames, logins, downlink.", [
        ("Terminals", [
            st("Terminals online", Query("sum(emms_fep_sessions_online)")),
            st("Open links", Query("sum(emms_fep_connections)")),
            st("Live replicas", Query("max(emms_fep_replicas_live)"),
               description="Replicas with a recent heartbeat in fep.replicas."),
            st("Logins/min", Query(f"sum(rate(emms_fep_logins_total[{RATE}])) * 60")),
            ts("Terminals online per replica", Query("sum by (pod) (emms_fep_sessions_online)", "{{pod}}"), width=8),
            ts("Logins/s by port", Query(r("emms_fep_logins_total", "port"), "{{port}}"), unit="ops", width=8),
            ts("Sessions ended/s by reason", Query(r("emms_fep_sessions_closed_total", "reason"), "{{reason}}"),
               unit="ops", width=8),
        ]),
        ("Frames", [
            ts("Frames/s", Query(r("emms_fep_frames_total", "direction"), "{{direction}}"), unit="ops", width=8),
            ts("Bytes/s", Query(r("emms_fep_bytes_total", "direction"), "{{direction}}"), unit="Bps", width=8),
            ts("Heartbeats/s", Query(f"sum(rate(emms_fep_heartbeats_total[{RATE}]))", "heartbeats"),
               unit="ops", width=8),
            ts("Malformed frames/s by reason", Query(r("emms_fep_illegal_frames_total", "reason"), "{{reason}}"),
               unit="ops", width=8),
            ts("Malformed ratio by port", Query(illegal_ratio, "{{port}}"), unit="percentunit", width=8),
            ts("Links refused/s and garbage bytes/s",
               Query(r("emms_fep_links_refused_total", "reason"), "refused: {{reason}}"),
               Query(f"sum(rate(emms_fep_dropped_bytes_total[{RATE}]))", "garbage bytes"), width=8),
        ]),
        ("Downlink", [
            ts("Requests finished/s by outcome", Query(r("emms_fep_requests_total", "outcome"), "{{outcome}}"),
               unit="ops", width=8),
            ts("Round trip", *[Query(f"histogram_quantile({q}, sum by (le) "
                                     f"(rate(emms_fep_request_round_trip_seconds_bucket[{RATE}])))", f"p{int(q * 100)}")
                               for q in (0.5, 0.95)], unit="s", width=8),
            ts("Requests waiting", Query("sum(emms_fep_requests_in_flight)", "in flight"),
               Query("sum(emms_fep_requests_queued)", "queued"), Query("sum(emms_fep_requests_parked)", "parked"),
               width=8),
            ts("Sends/s (first, retry)", Query(r("emms_fep_request_sends_total", "attempt"), "{{attempt}}"),
               unit="ops", width=8),
            ts("Unmatched responses/s", Query(f"sum(rate(emms_fep_unmatched_responses_total[{RATE}]))", "unmatched"),
               unit="ops", width=8),
            ts("Active reports/s by kind", Query(r("emms_fep_active_reports_total", "kind"), "{{kind}}"),
               unit="ops", width=8),
        ]),
        ("Replica health", [
            ts("Publish queue", Query("sum by (pod) (emms_fep_publish_queue_messages)", "{{pod}}"), width=8),
            ts("Links paused (back-pressure)", Query("sum by (pod) (emms_fep_reading_paused_links)", "{{pod}}"),
               width=8),
            ts("Publish failures/s", Query(f"sum by (pod) (rate(emms_fep_publish_failures_total[{RATE}]))", "{{pod}}"),
               unit="ops", width=8),
            ts("Event-loop lag p99", Query(f"histogram_quantile(0.99, sum by (pod, le) "
                                           f"(rate(emms_fep_event_loop_lag_seconds_bucket[{RATE}])))", "{{pod}}"),
               unit="s", width=8),
            ts("Publish batch p99", Query(f"histogram_quantile(0.99, sum by (pod, le) "
                                          f"(rate(emms_fep_publish_batch_seconds_bucket[{RATE}])))", "{{pod}}"),
               unit="s", width=8),
            ts("Terminal clock deviation p95", Query(f"histogram_quantile(0.95, sum by (le) "
                                                     f"(rate(emms_fep_terminal_clock_deviation_seconds_bucket[{RATE}])))",
                                                     "p95"), unit="s", width=8),
        ]),
    ])


def collection() -> DashboardSpec:
    answered = (f'sum(rate(emms_fep_requests_total{{outcome="answered"}}[{RATE}])) / '
                f"sum(rate(emms_fep_requests_total[{RATE}]))")
    final = "max by (namespace, task) (emms_collector_task_success_final_ratio)"
    by_company = f"min by (company_id) ({final} * on (namespace, task) group_left (company_id) {TASK_COMPANY})"
    return DashboardSpec("field", "collection.json", "emms-collection", "EMMS collection",
                         "Collection success: downlink answers fleet-wide, per company and task, reading flow.", [
        ("Communication (FEP)", [
            st("Requests answered (range)", Query(answered.replace(RATE, "$__range")), unit="percentunit",
               description="Share of downlink requests answered by the terminal over the selected range."),
            ts("Requests answered ratio", Query(answered, "answered"), unit="percentunit", width=18),
        ]),
        ("Collection per company and task", [
            ts("Success after retries and back-fill, worst task per company", Query(by_company, "{{company_id}}"),
               unit="percentunit", description="Alert EmmsCollectionSuccessLow fires below 95 %, critical below 80 %."),
            ts("Success after retries and back-fill by task", Query(final, "{{task}}"), unit="percentunit"),
            ts("First-attempt success by task",
               Query("max by (task) (emms_collector_task_success_first_ratio)", "{{task}}"), unit="percentunit"),
            ts("Data completeness by task",
               Query("max by (task) (emms_collector_task_completeness_ratio)", "{{task}}"), unit="percentunit"),
            ts("Runs finished/s by status",
               Query(f"sum by (status) (rate(emms_collector_runs_finished_total[{RATE}]))", "{{status}}"), unit="ops"),
            ts("Open gaps (back-fill horizon)", Query("sum(emms_collector_gaps_open)", "open gaps")),
        ]),
        ("Flow", [
            ts("Uplink frames published/s", Query(_published("emms.uplink.frame.v1"), "uplink frames"),
               unit="ops", width=8),
            ts("Reading batches published/s", Query(_published("emms.reading.raw.v1"), "reading batches"),
               unit="ops", width=8),
            ts("Collector lag", Query(_lag('group=~"collector.*"'), "{{group}} / {{topic}}"), width=8),
        ]),
    ])


def archive() -> DashboardSpec:
    schema_size = (
        "SELECT n.nspname AS schema, sum(pg_total_relation_size(c.oid)) AS bytes\n"
        "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace\n"
        "WHERE c.relkind IN ('r', 'p', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema')\n"
        "GROUP BY n.nspname ORDER BY bytes DESC"
    )
    return DashboardSpec("data", "archive.json", "emms-archive", "EMMS archive",
                         "Archive ingest: rows written, write latency, consumer lag, database size and jobs.", [
        ("Ingest", [
            ts("Rows written/s by table", Query(f"sum by (table) (rate(emms_archive_rows_written_total[{RATE}]))",
                                                "{{table}}"), unit="rowsps"),
            ts("Write p99 by table", Query(f"histogram_quantile(0.99, sum by (table, le) "
                                           f"(rate(emms_archive_write_seconds_bucket[{RATE}])))", "{{table}}"),
               unit="s"),
            ts("Messages handled/s (archive groups)",
               Query(f'sum by (topic) (rate(emms_bus_consumed_total{{group=~"archive.*"}}[{RATE}]))', "{{topic}}"),
               unit="ops", width=8),
            ts("Batch time p99 (archive groups)",
               Query(f'histogram_quantile(0.99, sum by (group, le) (rate(emms_bus_batch_seconds_bucket'
                     f'{{group=~"archive.*"}}[{RATE}])))', "{{group}}"), unit="s", width=8),
            ts("Lag (archive groups)", Query(_lag('group=~"archive.*"'), "{{group}} / {{topic}}"), width=8),
        ]),
        ("Database", [
            sql_table("Size by schema", schema_size,
                      description="Tables, partitions and materialized views per schema (PostgreSQL data source)."),
            ts("TimescaleDB jobs: last run failed",
               Query("max by (proc_name, hypertable) (cnpg_timescaledb_job_stats_last_run_failed)",
                     "{{proc_name}} {{hypertable}}"),
               description="Continuous-aggregate refresh, compression and retention jobs (1 = last run failed)."),
        ]),
    ])


def control() -> DashboardSpec:
    def c(expr: str) -> str:
        return f"sum by (action, outcome) (increase({expr}[1h]))"
    balances = (
        "SELECT utility,\n"
        "       count(*) FILTER (WHERE balance <= 0) AS at_or_below_zero,\n"
        "       count(*) FILTER (WHERE balance > 0 AND balance <= 10) AS low_up_to_10,\n"
        "       count(*) AS open_accounts, min(balance) AS lowest_balance\n"
        "FROM control.account WHERE status = 'open' GROUP BY utility ORDER BY utility"
    )
    jobs = (
        "SELECT j.created_at, j.action, j.origin, j.requested_by, j.state, j.total,\n"
        "       count(*) FILTER (WHERE d.state = 'verified') AS verified,\n"
        "       count(*) FILTER (WHERE d.state = 'failed') AS failed\n"
        "FROM control.jobs j JOIN control.job_devices d USING (job_id)\n"
        "WHERE j.created_at > now() - interval '1 day' GROUP BY j.job_id ORDER BY j.created_at DESC LIMIT 50"
    )
    return DashboardSpec("field", "control.json", "emms-control", "EMMS control",
                         "Remote control (commands, trips, jobs) and balances of prepaid accounts.", [
        ("Commands", [
            ts("Device results by action and outcome (1 h)", Query(c("emms_control_commands_total"),
                                                                   "{{action}} {{outcome}}"),
               description="Final result per device: verified, confirmed (no read-back), failed, cancelled."),
            ts("Trips and valve closes verified / failed (1 h)",
               Query('sum by (action, outcome) (increase(emms_control_commands_total'
                     '{action=~"trip|valve_close"}[1h]))', "{{action}} {{outcome}}")),
            ts("Time to confirm p50 / p99",
               Query(f"histogram_quantile(0.5, sum by (le) (rate(emms_control_command_confirm_seconds_bucket"
                     f"[{RATE}])))", "p50"),
               Query(f"histogram_quantile(0.99, sum by (le) (rate(emms_control_command_confirm_seconds_bucket"
                     f"[{RATE}])))", "p99"), unit="s", width=8),
            ts("Time to verify p50 / p99",
               Query(f"histogram_quantile(0.5, sum by (le) (rate(emms_control_command_verify_seconds_bucket"
                     f"[{RATE}])))", "p50"),
               Query(f"histogram_quantile(0.99, sum by (le) (rate(emms_control_command_verify_seconds_bucket"
                     f"[{RATE}])))", "p99"), unit="s", width=8),
            ts("Retries by reason (1 h)", Query("sum by (reason) (increase(emms_control_command_retries_total[1h]))",
                                                "{{reason}}"), width=8),
            st("Jobs running", Query("max(emms_control_jobs_running)", "jobs")),
            st("Devices pending", Query("max(emms_control_devices_pending)", "devices")),
            sql_table("Jobs of the last day", jobs, description="From control.jobs / job_devices."),
        ]),
        ("Balances", [
            sql_table("Open accounts at or below zero (trip level) and low", balances,
                      description="From control.account: balances at or below zero, and up to 10 (alarm level)."),
        ]),
    ])


# --- analytics (issue 16 item 9): one dashboard per analysis family, SQL on the reporting views -----
#
# Every panel reads the views of analytics migration 0012 (schema ``reporting``, role ``emms_reporting``)
# through the datasource ``emms-postgres``. Template variables: company, region (with every region below),
# utility; the period is the dashboard's time range ($__timeFilter). Buckets are local (UTC+8) starts.
# tests/integration/analytics/test_analytics_dashboards.py runs every query on both storage modes.

MAIN_ITEMS = {"electricity": "energy.active.import.total", "water": "water.volume", "gas": "gas.volume",
              "heat": "heat.energy"}
"""The register whose increase is usage, per utility (the analytics service's default ``main_items``)."""
MAIN = "(utility, item) IN (" + ", ".join(f"('{u}', '{i}')" for u, i in MAIN_ITEMS.items()) + ")"
TOU = ("t1", "t2", "t3", "t4")
R = "reporting"


def scope(alias: str = "") -> str:
    """The dashboard's company / region (with every region below) / utility selection."""
    a = f"{alias}." if alias else ""
    return (f"{a}company_id IN ($company) AND {a}utility IN ($utility)\n"
            f"  AND {a}region_id IN (SELECT region_id FROM {R}.analytics_region_tree WHERE ancestor_id IN ($region))")


def _query_variable(name: str, label: str, sql: str) -> dashboard.QueryVariable:
    return (dashboard.QueryVariable(name).label(label).datasource(POSTGRES).query(sql)
            .refresh(VariableRefresh.ON_DASHBOARD_LOAD).sort(VariableSort.ALPHABETICAL_ASC)
            .multi(True).include_all(True).current(VariableOption(selected=True, text="All", value="$__all")))


def analytics_variables(utilities: tuple[str, ...]) -> list[Any]:
    company = _query_variable("company", "Company", f"SELECT company_id AS __value, coalesce(company_name, "
                              f"company_id) AS __text FROM {R}.analytics_company")
    region = _query_variable("region", "Region (and below)", f"SELECT region_id AS __value, coalesce(region_name, "
                             f"region_id) AS __text FROM {R}.analytics_region")
    utility = (dashboard.CustomVariable("utility").label("Utility").values(",".join(utilities))
               .multi(True).include_all(len(utilities) > 1)
               .current(VariableOption(selected=True, text=utilities[0] if len(utilities) == 1 else "All",
                                       value=utilities[0] if len(utilities) == 1 else "$__all")))
    return [company, region, utility]


def freshness() -> tuple[str, list[PanelSpec]]:
    """How far the figures above trail the bus (Prometheus): validated readings not yet in the rollups."""
    return ("Freshness", [
        ts("Analytics consumer lag", Query(_lag('group=~"analytics.*"'), "{{group}} / {{topic}}"), width=24,
           description="Messages the analytics service has not handled yet: the panels above lag by these."),
    ])


def _daily(item: str, label: str) -> str:
    return (f'SELECT bucket AS "time", sum(usage) AS "{label}"\nFROM {R}.analytics_usage_daily\n'
            f"WHERE $__timeFilter(bucket) AND item = '{item}'\n  AND {scope()}\nGROUP BY 1 ORDER BY 1")


def _monthly_by(item: str, key: str) -> str:
    return (f'SELECT bucket AS "time", {key}, sum(usage) AS usage\nFROM {R}.analytics_usage_monthly\n'
            f"WHERE $__timeFilter(bucket) AND item = '{item}'\n  AND {scope()}\nGROUP BY 1, 2 ORDER BY 1, 2")


def _same_period(item: str, key: str) -> str:
    """This period against the same period a year before, by ``key`` (comma-separated columns)."""
    n = key.count(",") + 1
    last_year = ("bucket BETWEEN $__timeFrom()::timestamptz - interval '1 year'"
                 " AND $__timeTo()::timestamptz - interval '1 year'")
    return (f"SELECT {key}, sum(usage) FILTER (WHERE $__timeFilter(bucket)) AS this_period,\n"
            f"       sum(usage) FILTER (WHERE {last_year}) AS same_period_last_year,\n"
            f"       sum(usage) FILTER (WHERE $__timeFilter(bucket)) / nullif(sum(usage) FILTER (WHERE {last_year}), 0)"
            f" - 1 AS growth_rate\n"
            f"FROM {R}.analytics_usage_daily\nWHERE item = '{item}' AND ($__timeFilter(bucket) OR {last_year})\n"
            f"  AND {scope()}\nGROUP BY {', '.join(str(i + 1) for i in range(n))} ORDER BY {n + 1} DESC NULLS LAST")


def _top_customers(item: str, limit: int = 20) -> str:
    return (f"SELECT customer_id, category, industry, sum(usage) AS usage,\n"
            f"       sum(usage) / nullif(sum(sum(usage)) OVER (), 0) AS share\n"
            f"FROM {R}.analytics_usage_daily\nWHERE $__timeFilter(bucket) AND item = '{item}'\n  AND {scope()}\n"
            f"GROUP BY 1, 2, 3 ORDER BY usage DESC LIMIT {limit}")


def _by_node(item: str, kinds: tuple[str, ...] = ()) -> str:
    """Usage of each network node with its subtree (a line and its transformers, a station and its buildings)."""
    kind = (" AND t.ancestor_kind IN (" + ", ".join(f"'{k}'" for k in kinds) + ")") if kinds else ""
    return (f"SELECT t.ancestor_kind AS kind, t.ancestor_id AS node_id, t.ancestor_name AS node_name,\n"
            f"       count(DISTINCT u.metering_point_id) AS metering_points, sum(u.usage) AS usage\n"
            f"FROM {R}.analytics_usage_daily u JOIN {R}.analytics_node_tree t ON t.node_id = u.node_id\n"
            f"WHERE $__timeFilter(u.bucket) AND u.item = '{item}'{kind}\n  AND {scope('u')}\n"
            f"GROUP BY 1, 2, 3 ORDER BY 1, usage DESC")


def _quality(item_filter: str) -> str:
    """Per network node (with its subtree): points, register values collected against one a day,
    estimated and held values."""
    days = "extract(epoch FROM $__timeTo()::timestamptz - $__timeFrom()::timestamptz)::float8 / 86400"
    return (f"WITH c AS (\n  SELECT node_id, metering_point_id, sum(collected) AS collected,"
            f" sum(estimated_values) AS estimated, sum(held) AS held\n"
            f"  FROM {R}.analytics_collected_daily\n  WHERE $__timeFilter(bucket) AND {item_filter}\n"
            f"    AND {scope()}\n  GROUP BY 1, 2)\n"
            f"SELECT t.ancestor_kind AS kind, t.ancestor_id AS node_id, t.ancestor_name AS node_name,\n"
            f"       count(DISTINCT c.metering_point_id) AS metering_points, sum(c.collected) AS collected,\n"
            f"       sum(c.collected)::float8 / nullif(count(DISTINCT c.metering_point_id) * {days}, 0)"
            f" AS completeness,\n"
            f"       sum(c.estimated)::float8 / nullif(sum(c.collected), 0) AS estimated_share, sum(c.held) AS held\n"
            f"FROM c JOIN {R}.analytics_node_tree t ON t.node_id = c.node_id\n"
            f"GROUP BY 1, 2, 3 ORDER BY completeness NULLS FIRST, 2")


def _intervals(item: str, label: str, bins: int = 5, cumulative: bool = False) -> str:
    """Customers counted by interval of a per-customer figure (total of a register, or mean of a curve)."""
    if cumulative:
        per = (f"SELECT customer_id, sum(usage) AS v FROM {R}.analytics_usage_daily\n"
               f"  WHERE $__timeFilter(bucket) AND item = '{item}' AND {scope()}\n  GROUP BY 1")
    else:
        per = (f"SELECT customer_id, avg(value) AS v FROM {R}.analytics_curve\n"
               f"  WHERE $__timeFilter(data_time) AND item = '{item}' AND {scope()}\n  GROUP BY 1")
    return (f"WITH per AS (\n  {per}),\nr AS (SELECT min(v) AS lo, max(v) AS hi FROM per)\n"
            f"SELECT width_bucket(per.v, r.lo, r.hi + 1e-9, {bins}) AS interval, min(per.v) AS \"{label} from\",\n"
            f"       max(per.v) AS \"{label} to\", count(*) AS customers\n"
            f"FROM per, r GROUP BY 1 ORDER BY 1")


def _curve(item: str, label: str, agg: str, step: str) -> str:
    return (f'SELECT $__timeGroupAlias(data_time, \'{step}\'), {agg}(value) AS "{label}"\n'
            f"FROM {R}.analytics_curve\nWHERE $__timeFilter(data_time) AND item = '{item}'\n  AND {scope()}\n"
            f"GROUP BY 1 ORDER BY 1")


def _load_per_point() -> str:
    return ("SELECT metering_point_id,\n"
            "       max(value) AS max_kw, (array_agg(data_time ORDER BY value DESC, data_time))[1] AS max_at,\n"
            "       min(value) AS min_kw, (array_agg(data_time ORDER BY value, data_time))[1] AS min_at,\n"
            "       avg(value) AS avg_kw,\n"
            "       avg(value) / nullif(max(value), 0) AS load_rate, count(*) AS samples\n"
            f"FROM {R}.analytics_curve\nWHERE $__timeFilter(data_time) AND item = 'power.active.total'\n"
            f"  AND {scope()}\nGROUP BY 1 ORDER BY max_kw DESC LIMIT 50")


def _unbalance() -> str:
    return ("WITH i AS (\n"
            "  SELECT metering_point_id, data_time, max(value) AS hi, min(value) AS lo, count(*) AS phases\n"
            f"  FROM {R}.analytics_curve\n"
            "  WHERE $__timeFilter(data_time) AND item IN ('current.a', 'current.b', 'current.c')\n"
            f"    AND {scope()}\n  GROUP BY 1, 2)\n"
            "SELECT metering_point_id, max((hi - lo) / hi) AS worst, avg((hi - lo) / hi) AS average,\n"
            "       count(*) AS instants\n"
            "FROM i WHERE phases = 3 AND hi > 0 GROUP BY 1 ORDER BY worst DESC LIMIT 50")


def electricity_analytics() -> DashboardSpec:
    e = MAIN_ITEMS["electricity"]
    tou = ",\n       ".join(f"sum(usage) FILTER (WHERE item = 'energy.active.import.{t}') AS {t}" for t in TOU)
    tou_sql = (f'SELECT bucket AS "time",\n       {tou}\nFROM {R}.analytics_usage_monthly\n'
               f"WHERE $__timeFilter(bucket) AND item IN ("
               + ", ".join(f"'energy.active.import.{t}'" for t in TOU) + f")\n  AND {scope()}\nGROUP BY 1 ORDER BY 1")
    return DashboardSpec("analytics", "electricity.json", "emms-analytics-electricity", "EMMS analytics: electricity",
                         "Energy by day, month, region, category, line and transformer; TOU split; load curves, "
                         "load rate and three-phase unbalance (R-4.5.3.1). Local (UTC+8) buckets.", [
        ("Energy", [
            sql_ts("Energy per local day", _daily(e, "energy"), unit="kwatth"),
            sql_ts("Energy per month by region", _monthly_by(e, "region_id"), unit="kwatth"),
            sql_table("Peak / valley split per month (TOU registers t1…t4)", tou_sql,
                      description="Usage of the tariff's time-of-use registers t1…t4 per local month."),
            sql_table("Top customers in the period", _top_customers(e)),
            sql_table("Energy by category and industry: this period and the same period a year before",
                      _same_period(e, "category, industry")),
            sql_table("Energy by line and transformer (with everything below)", _by_node(e)),
            sql_ts("Energy per local hour (peak hours)", _daily(e, "energy").replace("analytics_usage_daily",
                                                                                     "analytics_usage_hourly"),
                   unit="kwatth", width=24),
        ]),
        ("Load", [
            sql_ts("Active power, 15-minute load curve (sum of the selection)",
                   _curve("power.active.total", "active power", "sum", "15m"), unit="kwatt", width=24),
            sql_table("Load per metering point: maximum and minimum with their time, load rate", _load_per_point()),
            sql_table("Three-phase current unbalance (max − min) / max", _unbalance()),
        ]),
        ("Data quality", [
            sql_table("Collection per network node", _quality(f"item = '{e}'"), width=24,
                      description="Register values collected against one a day per metering point, estimated "
                                  "share and held values, per node with everything below it."),
        ]),
        freshness(),
    ], analytics_variables(("electricity",)), "now-90d", "5m")


def pipe_analytics(utility: str) -> DashboardSpec:
    item, title = MAIN_ITEMS[utility], utility.capitalize()
    return DashboardSpec("analytics", f"{utility}.json", f"emms-analytics-{utility}", f"EMMS analytics: {utility}",
                         f"{title} totals by day, month, category, network node, region and company, with the same "
                         f"period a year before (R-4.5.3.{2 if utility == 'water' else 3}). Local (UTC+8) buckets.", [
        ("Totals", [
            sql_ts(f"{title} per local day", _daily(item, "volume"), unit="m3"),
            sql_ts(f"{title} per month by company", _monthly_by(item, "company_id"), unit="m3"),
            sql_table("By category: this period and the same period a year before", _same_period(item, "category")),
            sql_table("By region: this period and the same period a year before", _same_period(item, "region_id")),
            sql_table("By network node / community (with everything below)", _by_node(item)),
            sql_table("Top customers in the period", _top_customers(item)),
        ]),
        ("Network", [
            sql_ts("Pressure (hourly mean)", _curve("pressure", "pressure", "avg", "1h"), unit="pressurembar",
                   description="Mean of the pressure curve values of the selection (MPa)."),
            sql_table("Collection per network node", _quality(f"item = '{item}'")),
        ]),
        freshness(),
    ], analytics_variables((utility,)), "now-90d", "5m")


def water_analytics() -> DashboardSpec:
    return pipe_analytics("water")


def gas_analytics() -> DashboardSpec:
    return pipe_analytics("gas")


_SEASON = ("(SELECT CASE WHEN extract(month FROM l) >= 7 THEN extract(year FROM l)::int || '-' ||"
           " (extract(year FROM l)::int + 1)\n"
           "   ELSE (extract(year FROM l)::int - 1) || '-' || extract(year FROM l)::int END\n"
           " FROM (SELECT $__timeTo()::timestamptz AT TIME ZONE 'Asia/Shanghai' AS l) x)")
"""The heating season of the range's end ('2025-2026': the winter starting in 2025; July on is the next one)."""


def _heating(item: str) -> str:
    """Per station / community / building (with its subtree): heat customers, heated and stopped households and
    area in the season of the range's end (no row for the season: heated), stop rates, and heat per m² — heat
    of the heated customers in the range over their heated area (the rule of ``/heat/heating``)."""
    return (f"WITH c AS (\n  SELECT h.customer_id, h.node_id, coalesce(h.heated_area_m2, 0) AS area,"
            f" coalesce(s.heating, true) AS heating\n"
            f"  FROM {R}.analytics_heat_customer h\n"
            f"  LEFT JOIN {R}.analytics_heating_season s ON s.customer_id = h.customer_id AND s.season = {_SEASON}\n"
            f"  WHERE {scope('h')}),\n"
            f"q AS (\n  SELECT customer_id, sum(usage) AS heat FROM {R}.analytics_usage_daily\n"
            f"  WHERE $__timeFilter(bucket) AND item = '{item}' AND {scope()}\n  GROUP BY 1)\n"
            f"SELECT t.ancestor_kind AS kind, t.ancestor_id AS node_id, t.ancestor_name AS node_name,"
            f" count(*) AS households,\n"
            f"       count(*) FILTER (WHERE c.heating) AS heated_households,"
            f" count(*) FILTER (WHERE NOT c.heating) AS stopped_households,\n"
            f"       coalesce(sum(c.area) FILTER (WHERE c.heating), 0) AS heated_area_m2,"
            f" coalesce(sum(c.area) FILTER (WHERE NOT c.heating), 0) AS stopped_area_m2,\n"
            f"       (count(*) FILTER (WHERE NOT c.heating))::float8 / count(*) AS stop_rate_households,\n"
            f"       sum(c.area) FILTER (WHERE NOT c.heating) / nullif(sum(c.area), 0) AS stop_rate_area,\n"
            f"       coalesce(sum(q.heat) FILTER (WHERE c.heating), 0) AS heat_kwh,\n"
            f"       sum(q.heat) FILTER (WHERE c.heating) / nullif(sum(c.area) FILTER (WHERE c.heating), 0)"
            f" AS heat_per_m2_kwh\n"
            f"FROM c LEFT JOIN q ON q.customer_id = c.customer_id\n"
            f"JOIN {R}.analytics_node_tree t ON t.node_id = c.node_id\n"
            f"WHERE t.ancestor_kind IN ('heat_exchange_station', 'area', 'building')\n"
            f"GROUP BY 1, 2, 3 ORDER BY 1, 2")


def heat_analytics() -> DashboardSpec:
    h = MAIN_ITEMS["heat"]
    return DashboardSpec("analytics", "heat.json", "emms-analytics-heat", "EMMS analytics: heat",
                         "Heat by building, community and heat-exchange station; supply temperature and thermal "
                         "power; customers by heat, temperature and power interval (R-4.5.3.4).", [
        ("Heat", [
            sql_ts("Heat per local day", _daily(h, "heat"), unit="kwatth"),
            sql_ts("Heat per month by region", _monthly_by(h, "region_id"), unit="kwatth"),
            sql_table("Heat per heat-exchange station, community and building",
                      _by_node(h, ("heat_exchange_station", "area", "building")), width=24),
            sql_table("Heat: this period and the same period a year before, by category", _same_period(h, "category")),
            sql_table("Customers by heat interval", _intervals(h, "heat kWh", cumulative=True)),
            sql_table("Heated and stopped households and area, heat per m² (season of the range's end)",
                      _heating(h), width=24),
        ]),
        ("Temperatures and power", [
            sql_ts("Supply temperature (hourly mean)", _curve("temperature.supply", "supply", "avg", "1h"),
                   unit="celsius"),
            sql_ts("Thermal power (hourly mean per meter)", _curve("heat.power", "thermal power", "avg", "1h"),
                   unit="kwatt"),
            sql_table("Customers by supply-temperature interval", _intervals("temperature.supply", "°C")),
            sql_table("Customers by thermal-power interval", _intervals("heat.power", "kW")),
            sql_table("Collection per network node", _quality(f"item = '{h}'"), width=24),
        ]),
        freshness(),
    ], analytics_variables(("heat",)), "now-90d", "5m")


def combined_analytics() -> DashboardSpec:
    by_utility = (f'SELECT bucket AS "time", utility, sum(usage) AS usage\nFROM {R}.analytics_usage_monthly\n'
                  f"WHERE $__timeFilter(bucket) AND {MAIN}\n  AND {scope()}\nGROUP BY 1, 2 ORDER BY 1, 2")
    shares = (f"SELECT utility, category, sum(usage) AS usage,\n"
              f"       sum(usage) / nullif(sum(sum(usage)) OVER (PARTITION BY utility), 0) AS share\n"
              f"FROM {R}.analytics_usage_daily\nWHERE $__timeFilter(bucket) AND {MAIN}\n  AND {scope()}\n"
              f"GROUP BY 1, 2 ORDER BY 1, 3 DESC")
    ranking = (f"SELECT * FROM (\n  SELECT utility, customer_id, category, sum(usage) AS usage,\n"
               f"         rank() OVER (PARTITION BY utility ORDER BY sum(usage) DESC) AS rank\n"
               f"  FROM {R}.analytics_usage_daily\n  WHERE $__timeFilter(bucket) AND {MAIN}\n    AND {scope()}\n"
               f"  GROUP BY 1, 2, 3) r\nWHERE rank <= 10 ORDER BY utility, rank")
    daily = by_utility.replace("analytics_usage_monthly", "analytics_usage_daily")
    return DashboardSpec("analytics", "combined.json", "emms-analytics-combined", "EMMS analytics: combined",
                         "The four utilities side by side: monthly and daily usage, shares by customer category, "
                         "growth against the same period a year before, top customers per utility (R-4.5.3.5).", [
        ("Usage", [
            sql_ts("Usage per month by utility (main registers)", by_utility),
            sql_ts("Usage per local day by utility", daily),
            sql_table("Share of each category in its utility's usage", shares),
            sql_table("By utility and category: this period and the same period a year before",
                      _same_period_main("utility, category")),
            sql_table("Top 10 customers per utility", ranking, width=24),
        ]),
        ("Data quality", [
            sql_table("Collection per network node (all utilities)", _quality(MAIN), width=24),
        ]),
        freshness(),
    ], analytics_variables(tuple(MAIN_ITEMS)), "now-90d", "5m")


def _same_period_main(key: str) -> str:
    return _same_period("-", key).replace("item = '-'", MAIN)


def key_customer_analytics() -> DashboardSpec:
    hand = (f"SELECT k.customer_id, k.utility, k.category, k.marked_at, sum(u.usage) AS usage,\n"
            f"       sum(u.estimated)::float8 / nullif(sum(u.intervals), 0) AS estimated_share\n"
            f"FROM {R}.analytics_key_customer k\n"
            f"LEFT JOIN {R}.analytics_usage_daily u ON u.customer_id = k.customer_id AND $__timeFilter(u.bucket)\n"
            f"  AND (u.utility, u.item) IN (" + ", ".join(f"('{u}', '{i}')" for u, i in MAIN_ITEMS.items()) + ")\n"
            f"WHERE {scope('k')}\nGROUP BY 1, 2, 3, 4 ORDER BY usage DESC NULLS LAST")
    hand_daily = (f'SELECT u.bucket AS "time", u.customer_id, sum(u.usage) AS usage\n'
                  f"FROM {R}.analytics_usage_daily u\n"
                  f"JOIN {R}.analytics_key_customer k ON k.customer_id = u.customer_id\n"
                  f"WHERE $__timeFilter(u.bucket) AND (u.utility, u.item) IN ("
                  + ", ".join(f"('{u}', '{i}')" for u, i in MAIN_ITEMS.items()) + f")\n  AND {scope('u')}\n"
                  f"GROUP BY 1, 2 ORDER BY 1, 2")
    by_rule = (f"SELECT * FROM (\n  SELECT utility, customer_id, category, sum(usage) AS usage,\n"
               f"         sum(estimated)::float8 / nullif(sum(intervals), 0) AS estimated_share,\n"
               f"         rank() OVER (PARTITION BY utility ORDER BY sum(usage) DESC) AS rank\n"
               f"  FROM {R}.analytics_usage_daily\n  WHERE $__timeFilter(bucket) AND {MAIN}\n    AND {scope()}\n"
               f"  GROUP BY 1, 2, 3) r\nWHERE rank <= 20 ORDER BY utility, rank")
    chosen = (f"SELECT rule_id, rank, customer_id, utility, category, region_id, usage,\n"
              f"       period_from AS \"from\", period_to AS \"to\", chosen_at\n"
              f"FROM {R}.analytics_key_customer_by_rule\nWHERE {scope()}\nORDER BY rule_id, rank")
    curves = (f"SELECT $__timeGroupAlias(c.data_time, '15m'), c.customer_id, sum(c.value) AS \"active power\"\n"
              f"FROM {R}.analytics_curve c JOIN {R}.analytics_key_customer k ON k.customer_id = c.customer_id\n"
              f"WHERE $__timeFilter(c.data_time) AND c.item = 'power.active.total'\n  AND {scope('c')}\n"
              f"GROUP BY 1, 2 ORDER BY 1, 2")
    return DashboardSpec("analytics", "key_customers.json", "emms-analytics-key-customers",
                         "EMMS analytics: key customers",
                         "Hand-chosen key customers (analytics.key_customer) with usage, curves and data quality; "
                         "key customers chosen by the rules (analytics.key_customer_chosen) and the top 20 by usage"
                         " per utility (R-4.5.4.2).", [
        ("Hand-chosen", [
            sql_table("Key customers: usage and estimated share in the period", hand),
            sql_ts("Key customers: usage per local day", hand_daily),
            sql_ts("Key customers: 15-minute load curves", curves, unit="kwatt", width=24),
        ]),
        ("By rule", [
            sql_table("Key customers chosen by the rules (as last evaluated), with rank and usage", chosen, width=24,
                      description="The service evaluates every rule (PUT /api/v1/analytics/key-customers/rules/…)"
                                  " every key_customer_refresh_s and at once when it changes."),
            sql_table("Top 20 customers by usage per utility, with their estimated share", by_rule, width=24),
            sql_table("Collection per network node", _quality(MAIN), width=24),
        ]),
        freshness(),
    ], analytics_variables(tuple(MAIN_ITEMS)), "now-90d", "5m")


# --- operations (faults, tickets, availability, operating status; services/operations) -------------------


def operating_status() -> DashboardSpec:
    return DashboardSpec("operations", "status.json", "emms-operating-status", "EMMS operating status",
                         "The master (services ready, consumer lag), the channels (FEP ports) and the fleet"
                         " (installed / in operation / online terminals), as the operations service sees them.", [
        ("Master", [
            st("Services ready", Query("max by (service) (emms_operations_service_up)", "{{service}}"), width=12,
               description="1 when the service answered /readyz ready at the operations service's last poll."),
            st("Consumer lag (messages)", Query("sum(max by (group) (emms_operations_consumer_lag_messages))",
                                                "all groups"), width=12,
               description="End offsets minus committed offsets of every consumer group (operations service)."),
            ts("Consumer lag by group", Query("max by (group) (emms_operations_consumer_lag_messages)", "{{group}}"),
               width=24),
        ]),
        ("Channels", [
            ts("Links per port", Query("sum by (port) (emms_fep_connections)", "{{port}}"), width=8),
            ts("Frames in per port/s", Query(f'sum by (port) (rate(emms_fep_frames_total{{direction="in"}}[{RATE}]))',
                                             "{{port}}"), unit="ops", width=8),
            ts("Illegal frame ratio per port", Query(
                f"sum by (port) (rate(emms_fep_illegal_frames_total[{RATE}])) / (sum by (port) "
                f'(rate(emms_fep_frames_total{{direction="in"}}[{RATE}])) + sum by (port) '
                f"(rate(emms_fep_illegal_frames_total[{RATE}])))", "{{port}}"), unit="percentunit", width=8,
               description="A port above 5 % over one poll is a `port_illegal_frames` fault."),
        ]),
        ("Fleet", [
            st("Terminals", Query("max by (state) (emms_operations_terminals)", "{{state}}"), width=12,
               description="Installed (master data), in operation (status active), online / offline (sessions),"
                           " never seen (in operation, no session yet)."),
            st("Online rate", Query('max(emms_operations_terminals{state="online"}) / '
                                    'max(emms_operations_terminals{state="in_operation"})', "online"),
               unit="percentunit", width=12),
            ts("Online and offline terminals", Query('max by (state) (emms_operations_terminals'
                                                     '{state=~"online|offline"})', "{{state}}"), width=12),
            ts("Downlink success", Query(f'sum(rate(emms_fep_requests_total{{outcome="answered"}}[{RATE}])) / '
                                         f"sum(rate(emms_fep_requests_total[{RATE}]))", "answered"),
               unit="percentunit", width=12,
               description="Per terminal: GET /operations/api/v1/status (worst terminals over 7 days)."),
        ]),
    ], time_from="now-24h", refresh="1m")


def faults_tickets() -> DashboardSpec:
    return DashboardSpec("operations", "faults.json", "emms-faults", "EMMS faults and tickets",
                         "Active faults by kind and level (master / channel / terminal / meter); fault tickets open"
                         " and overdue by severity.", [
        ("Faults", [
            st("Active faults", Query("sum by (level) (max by (kind, level, severity) "
                                      "(emms_operations_faults_active))", "{{level}}"), width=12),
            st("Critical faults", Query('sum(max by (kind, level) (emms_operations_faults_active'
                                        '{severity="critical"}))', "critical"), width=12),
            ts("Active faults by kind", Query("sum by (kind) (max by (kind, level, severity) "
                                              "(emms_operations_faults_active))", "{{kind}}"), width=24),
        ]),
        ("Tickets", [
            st("Open tickets", Query("max by (severity) (emms_operations_tickets_open)", "{{severity}}"), width=12),
            st("Overdue tickets", Query("max by (severity) (emms_operations_tickets_overdue)", "{{severity}}"),
               width=12, description="Past their due time: the escalation worker escalated them."),
            ts("Open tickets by severity", Query("max by (severity) (emms_operations_tickets_open)", "{{severity}}"),
               width=12),
            ts("Overdue tickets by severity", Query("max by (severity) (emms_operations_tickets_overdue)",
                                                    "{{severity}}"), width=12),
        ]),
    ], time_from="now-7d", refresh="1m")


def availability() -> DashboardSpec:
    return DashboardSpec("operations", "availability.json", "emms-availability", "EMMS availability",
                         "Availability of the month so far: up time / (observed − planned maintenance), the master"
                         " from its services' readiness polls, the fleet from the terminals' sessions"
                         " (docs/operations.md). Months and years: GET /operations/api/v1/availability/….", [
        ("This month", [
            st("Master", Query('max(emms_operations_availability_ratio{subject="master"})', "master"),
               unit="percentunit", width=12),
            st("Fleet (terminals)", Query('max(emms_operations_availability_ratio{subject="fleet"})', "fleet"),
               unit="percentunit", width=12),
            ts("Availability by subject", Query("max by (subject) (emms_operations_availability_ratio)",
                                                "{{subject}}"), unit="percentunit", width=24),
        ]),
        ("Up / down", [
            ts("Services ready", Query("max by (service) (emms_operations_service_up)", "{{service}}"), width=12),
            ts("Terminals offline", Query('max(emms_operations_terminals{state="offline"})', "offline"), width=12),
        ]),
    ], time_from="now-30d", refresh="5m")


def clocks() -> DashboardSpec:
    """Clock deviations by level (R-4.6.1): master (NTP), terminals, meters; syncs and their results."""
    by_level = ("SELECT date_trunc('minute', requested_at) AS time, level,\n"
                "  max(abs(deviation_before_s)) AS \"worst deviation found\"\n"
                "FROM reporting.clock_sync WHERE $__timeFilter(requested_at) AND deviation_before_s IS NOT NULL\n"
                "GROUP BY 1, 2 ORDER BY 1, 2")
    after = ("SELECT date_trunc('minute', finished_at) AS time, level,\n"
             "  max(abs(deviation_after_s)) AS \"worst deviation left\"\n"
             "FROM reporting.clock_sync WHERE $__timeFilter(finished_at) AND deviation_after_s IS NOT NULL\n"
             "GROUP BY 1, 2 ORDER BY 1, 2")
    worst = ("SELECT terminal, round(deviation_s::numeric, 1) AS deviation_s, source, observed_at, last_result,\n"
             "  last_sync_at FROM reporting.clock_terminal WHERE online\n"
             "ORDER BY abs(deviation_s) DESC NULLS LAST LIMIT 20")
    collectors = ("SELECT terminal, collector, round(deviation_s::numeric, 1) AS deviation_s, observed_at,\n"
                  "  last_result, last_sync_at FROM reporting.clock_collector\n"
                  "ORDER BY abs(deviation_s) DESC NULLS LAST LIMIT 20")
    waiting = ("SELECT id, terminal, meter_id, round(deviation_before_s::numeric, 1) AS deviation_s, outcome,\n"
               "  requested_at, detail FROM reporting.clock_sync\n"
               "WHERE level = 'meter' AND outcome IN ('awaiting_approval', 'approved') AND finished_at IS NULL\n"
               "ORDER BY requested_at LIMIT 50")
    return DashboardSpec("field", "clocks.json", "emms-clocks", "EMMS clocks",
                         "Clock deviations by level — master (against NTP), terminals, meters — and the syncs.", [
        ("Master", [
            ts("Master clock offset per server", Query("emms_master_clock_offset_seconds", "{{pod}} → {{server}}"),
               unit="s", width=12, description="Master − NTP server, delay compensated. Alert EmmsMasterClockOffset "
                                               "compares the median per pod with the tolerance."),
            ts("Median offset per pod (answering servers)",
               Query("quantile by (pod) (0.5, emms_master_clock_offset_seconds and on (pod, server) "
                     "(emms_master_clock_reachable == 1))", "{{pod}}"), unit="s", width=6),
            st("NTP servers answering", Query("sum(emms_master_clock_reachable)"), width=6),
        ]),
        ("Terminals and meters", [
            ts("Worst deviation by level", Query("max by (level) (emms_clock_deviation_max_seconds)", "{{level}}"),
               unit="s", width=8, description="Terminals: the worst online terminal at each sync pass; meters: "
                                               "the last meter clock read."),
            st("Terminals out of tolerance", Query("max(emms_collector_clocks_out_of_tolerance)"), width=4),
            ts("Syncs/s by outcome",
               Query(f"sum by (outcome) (rate(emms_collector_clock_syncs_total[{RATE}]))", "{{outcome}}"),
               unit="ops", width=12),
            sql_ts("Worst deviation found by level (measurements)", by_level, unit="s"),
            sql_ts("Worst deviation left by level (after syncs)", after, unit="s"),
            sql_table("Worst terminal clocks now", worst),
            sql_table("Worst collector clocks now", collectors),
            sql_table("Meter syncs waiting for approval or sending", waiting),
        ]),
    ], time_from="now-24h", refresh="1m")


def supply_quality_analytics() -> DashboardSpec:
    """Built in its own module (issue 17), which imports this one's helpers as ``gen_dashboards``."""
    import importlib.util

    sys.modules.setdefault("gen_dashboards", sys.modules[__name__])
    loaded = importlib.util.spec_from_file_location("gen_dashboards_quality",
                                                    Path(__file__).with_name("gen_dashboards_quality.py"))
    assert loaded is not None and loaded.loader is not None
    module = importlib.util.module_from_spec(loaded)
    loaded.loader.exec_module(module)
    spec: DashboardSpec = module.supply_quality_analytics()
    return spec


def loss_analytics() -> DashboardSpec:
    """Built in its own module (issue 17, R-4.5.6), like the supply-quality one."""
    import importlib.util

    sys.modules.setdefault("gen_dashboards", sys.modules[__name__])
    loaded = importlib.util.spec_from_file_location("gen_dashboards_loss",
                                                    Path(__file__).with_name("gen_dashboards_loss.py"))
    assert loaded is not None and loaded.loader is not None
    module = importlib.util.module_from_spec(loaded)
    loaded.loader.exec_module(module)
    spec: DashboardSpec = module.loss_analytics()
    return spec


ANALYTICS_SPECS: tuple[Callable[[], DashboardSpec], ...] = (
    electricity_analytics, water_analytics, gas_analytics, heat_analytics, combined_analytics, key_customer_analytics,
    supply_quality_analytics, loss_analytics)

DASHBOARDS_SPECS: tuple[Callable[[], DashboardSpec], ...] = (overview, fep, collection, clocks, archive, control,
                                                             *ANALYTICS_SPECS, operating_status, faults_tickets,
                                                             availability)

FOLDER_TITLES = {"platform": "EMMS platform", "field": "EMMS field", "data": "EMMS data",
                 "analytics": "EMMS analytics", "operations": "EMMS operations", "loss": "EMMS loss"}


def render(declared: frozenset[str] | None = None) -> dict[Path, str]:
    """Path → content of every generated file."""
    declared = declared_metrics() if declared is None else declared
    files: dict[Path, str] = {}
    folders: dict[str, list[str]] = {}
    for make in DASHBOARDS_SPECS:
        spec = make()
        data = build_dashboard(spec, declared)
        files[DASHBOARDS / spec.folder / spec.file] = json.dumps(data, indent=2, sort_keys=True) + "\n"
        folders.setdefault(spec.folder, []).append(f"dashboards/{spec.folder}/{spec.file}")
    files[GRAFANA / "kustomization.yaml"] = _kustomization(folders)
    return files


def _kustomization(folders: dict[str, list[str]]) -> str:
    body = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "generatorOptions": {"disableNameSuffixHash": True, "labels": {"grafana_dashboard": "1"}},
        "configMapGenerator": [
            {"name": f"emms-dashboards-{folder}", "files": sorted(paths),
             "options": {"annotations": {"grafana_folder": FOLDER_TITLES[folder]}}}
            for folder, paths in sorted(folders.items())
        ],
    }
    return ("# GENERATED by tools/gen_dashboards.py — do not edit.\n"
            "# Dashboards as ConfigMaps for Grafana's dashboard sidecar (kube-prometheus-stack);\n"
            "# without the sidecar, mount deploy/grafana/provisioning and dashboards/ instead.\n"
            + yaml.safe_dump(body, sort_keys=False))


def main(argv: list[str]) -> int:
    files = render()
    if "--check" in argv:
        existing = set(DASHBOARDS.glob("*/*.json"))
        stale = [p for p, text in files.items() if not p.exists() or p.read_text() != text]
        stale += sorted(existing - set(files))
        for p in stale:
            print(f"stale: {p.relative_to(REPO)}")
        if stale:
            print("run .venv/bin/python tools/gen_dashboards.py")
        return 1 if stale else 0
    for old in DASHBOARDS.glob("*/*.json"):
        if old not in files:
            old.unlink()
    for path, text_ in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text_)
        print(f"wrote {path.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
