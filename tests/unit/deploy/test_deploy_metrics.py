"""Dashboards and alert rules only query metrics that exist.

A metric "exists" when the code declares it — ``Counter("…")``, ``Gauge("…")``,
``Histogram("…")``, ``Summary("…")`` anywhere in ``libs/*/src`` or ``services/*/src``
(so metrics other engineers add to ``services/*/src/*/metrics.py`` count) — or
when the database exporter's custom queries define it, or it is one of the few
well-known series of Prometheus and kube-state-metrics listed below. This module
has its own scanner and PromQL reader on purpose: it does not trust the generator's.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from deploy_harness import DEPLOY, REPO

DECLARATION = re.compile(r"""\b(Counter|Gauge|Histogram|Summary)\(\s*["']([a-zA-Z_:][a-zA-Z0-9_:]*)["']""")
EXTERNAL = {
    "up",  # Prometheus, per scrape target
    "kube_pod_status_ready", "kube_pod_container_status_restarts_total",  # kube-state-metrics
    "kube_deployment_status_replicas_available", "kube_statefulset_status_replicas_ready",
    "cnpg_collector_up",  # CloudNativePG's instance exporter
    "cnpg_pg_replication_lag", "cnpg_pg_stat_archiver_failed_count",  # CloudNativePG's default queries
    "cnpg_pg_stat_archiver_seconds_since_last_archival",
    # the Barman Cloud plugin's backup metrics (with or without the exporter's cnpg_ prefix)
    "barman_cloud_cloudnative_pg_io_last_available_backup_timestamp",
    "barman_cloud_cloudnative_pg_io_last_failed_backup_timestamp",
    "kubelet_volume_stats_available_bytes", "kubelet_volume_stats_capacity_bytes",  # kubelet
    "certmanager_certificate_expiration_timestamp_seconds",  # cert-manager
}
SUFFIXES = {"Counter": ("_total",), "Gauge": ("",), "Histogram": ("_bucket", "_sum", "_count", ""),
            "Summary": ("_sum", "_count", "")}


def declared_in_code(repo: Path = REPO) -> set[str]:
    names: set[str] = set()
    for path in [*repo.glob("libs/*/src/**/*.py"), *repo.glob("services/*/src/**/*.py")]:
        for kind, name in DECLARATION.findall(path.read_text()):
            base = name.removesuffix("_total") if kind == "Counter" else name
            names.update(base + s for s in SUFFIXES[kind])
    return names


def declared_by_database_queries() -> set[str]:
    cm = yaml.safe_load((DEPLOY / "k8s/base/database/monitoring-queries.yaml").read_text())
    out = set()
    for query, spec in yaml.safe_load(cm["data"]["queries"]).items():
        for column in spec["metrics"]:
            ((name, meta),) = column.items()
            if meta["usage"] != "LABEL":
                out.add(f"cnpg_{query}_{name}")
    return out


def recorded_by_rules() -> set[str]:
    return {r["record"] for f in (DEPLOY / "prometheus/rules").glob("*.yaml")
            for g in yaml.safe_load(f.read_text())["groups"] for r in g["rules"] if "record" in r}


def known_metrics() -> set[str]:
    return declared_in_code() | declared_by_database_queries() | recorded_by_rules() | EXTERNAL


KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "offset", "bool", "and", "or",
            "unless", "inf", "nan"}


def series_in(expr: str) -> set[str]:
    """Metric names read by a PromQL expression."""
    s = re.sub(r'"(?:[^"\\]|\\.)*"', "", expr)          # strings
    s = re.sub(r"\{[^}]*\}", "", s)                      # label matchers
    s = re.sub(r"\[[^\]]*\]", "", s)                     # ranges, subqueries
    s = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", s)
    s = re.sub(r"\$\w+", "", s)                          # Grafana variables
    s = re.sub(r"\b\d+(\.\d+)?([eE][+-]?\d+)?[smhdwy]?\b", "", s)  # numbers, durations
    out = set()
    for m in re.finditer(r"[a-zA-Z_:][a-zA-Z0-9_:]*", s):
        if s[m.end():].lstrip().startswith("(") or m.group(0).lower() in KEYWORDS:
            continue
        out.add(m.group(0))
    return out


def dashboard_exprs(path: Path) -> list[str]:
    data: dict[str, Any] = json.loads(path.read_text())
    return [t["expr"] for p in data["panels"] for t in p.get("targets", []) if "expr" in t]


def rule_exprs(path: Path) -> list[str]:
    return [str(r["expr"]) for g in yaml.safe_load(path.read_text())["groups"] for r in g["rules"]]


DASHBOARD_FILES = sorted((DEPLOY / "grafana/dashboards").glob("*/*.json"))
RULE_FILES = sorted((DEPLOY / "prometheus/rules").glob("*.yaml"))
PENDING_FILES = sorted((DEPLOY / "prometheus/pending").glob("*.yaml"))


def undeclared(exprs: list[str], known: set[str]) -> set[str]:
    return {m for e in exprs for m in series_in(e)} - known


def test_the_promql_reader_finds_metrics_and_nothing_else() -> None:
    expr = ('histogram_quantile(0.99, sum by (group, le) (rate(emms_bus_batch_seconds_bucket{group=~"a.*"}'
            '[$__rate_interval]))) > 2.5 and on (namespace) up{job="x"} offset 30m == 0 unless absent(foo_total)')
    assert series_in(expr) == {"emms_bus_batch_seconds_bucket", "up", "foo_total"}


def test_the_scanner_sees_the_shared_and_service_metrics() -> None:
    names = declared_in_code()
    assert {"emms_bus_dead_lettered_total", "emms_bus_batch_seconds_bucket", "emms_http_requests_total",
            "emms_fep_sessions_online"} <= names


def test_a_dashboard_with_an_undeclared_metric_fails(tmp_path: Path) -> None:
    bad = {"panels": [{"targets": [{"expr": "sum(rate(emms_nobody_declares_this_total[5m]))"}]}]}
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    assert undeclared(dashboard_exprs(tmp_path / "bad.json"), known_metrics()) == {"emms_nobody_declares_this_total"}


def test_a_metric_declared_in_a_service_counts(tmp_path: Path) -> None:
    src = tmp_path / "services" / "demo" / "src" / "emms_demo"
    src.mkdir(parents=True)
    (src / "metrics.py").write_text('X = Counter("emms_demo_things", "d")\nH = Histogram(\n    "emms_demo_s", "d")\n')
    assert {"emms_demo_things_total", "emms_demo_s_bucket", "emms_demo_s_count"} <= declared_in_code(tmp_path)


@pytest.mark.parametrize("path", DASHBOARD_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_dashboards_query_only_declared_metrics(path: Path) -> None:
    exprs = dashboard_exprs(path)
    assert exprs, f"{path.name} has no Prometheus query"
    assert undeclared(exprs, known_metrics()) == set()


@pytest.mark.parametrize("path", RULE_FILES, ids=lambda p: p.name)
def test_alert_rules_query_only_declared_metrics(path: Path) -> None:
    assert undeclared(rule_exprs(path), known_metrics()) == set()


@pytest.mark.parametrize("path", PENDING_FILES, ids=lambda p: p.name)
def test_pending_rules_still_wait_for_a_metric(path: Path) -> None:
    missing = undeclared(rule_exprs(path), known_metrics())
    assert missing, (f"every metric of pending/{path.name} is now declared: move it to deploy/prometheus/rules/, "
                     f"add promtool tests and run deploy/prometheus/gen_prometheusrules.py")


def test_dashboards_cover_what_ops_expect() -> None:
    exprs = " ".join(e for p in DASHBOARD_FILES for e in dashboard_exprs(p))
    for metric in ("up", "kube_pod_status_ready", "emms_http_requests_total", "emms_bus_published_total",
                   "emms_bus_consumer_lag_messages", "emms_bus_dead_lettered_total", "emms_fep_sessions_online",
                   "emms_fep_frames_total", "emms_fep_illegal_frames_total", "emms_fep_logins_total",
                   "emms_fep_requests_total"):
        assert metric in exprs, f"no dashboard shows {metric}"
