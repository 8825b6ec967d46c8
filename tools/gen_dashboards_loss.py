"""The loss dashboard (issue 17, R-4.5.6), registered by ``tools/gen_dashboards.py`` (folder ``loss``).

SQL panels read the views of analytics migration 0021 (``reporting.loss_daily``, ``reporting.loss_anomaly``: the
daily run's results) as ``emms_reporting``. Drill-down: utility → line → transformer area / zone / station (the
``line`` and ``model`` variables), then the chosen models' days and abnormal losses with their top-ranked points.
The last rows show the runs (Prometheus). ``tests/integration/analytics/test_analytics_loss.py`` runs every SQL
panel as the role and compares the figures with the service's ``/loss`` answers.
"""

from __future__ import annotations

from typing import Any

from gen_dashboards import POSTGRES, RATE, DashboardSpec, Query, R, analytics_variables, sql_table, sql_ts, ts
from grafana_foundation_sdk.builders import dashboard
from grafana_foundation_sdk.models.dashboard import VariableOption, VariableRefresh, VariableSort

ALL = ("electricity", "water", "gas", "heat")


def scope(alias: str = "") -> str:
    a = f"{alias}." if alias else ""
    return (f"{a}company_id IN ($company) AND {a}utility IN ($utility) AND coalesce({a}line_id, '') IN ($line)\n"
            f"  AND {a}model_id IN ($model)\n"
            f"  AND {a}region_id IN (SELECT region_id FROM {R}.analytics_region_tree WHERE ancestor_id IN ($region))")


def _variable(name: str, label: str, sql: str) -> Any:
    return (dashboard.QueryVariable(name).label(label).datasource(POSTGRES).query(sql)
            .refresh(VariableRefresh.ON_TIME_RANGE_CHANGED).sort(VariableSort.ALPHABETICAL_ASC)
            .multi(True).include_all(True).current(VariableOption(selected=True, text="All", value="$__all")))


def by_model() -> str:
    return ("SELECT model_id, min(model_name) AS name, min(model_class) AS class, min(line_id) AS line,\n"
            "  CASE WHEN bool_and(complete) THEN sum(input) END AS input,\n"
            "  CASE WHEN bool_and(complete) THEN sum(output) END AS output,\n"
            "  CASE WHEN bool_and(complete) THEN sum(loss) END AS loss,\n"
            "  CASE WHEN bool_and(complete) AND sum(input) > 0 THEN sum(loss) / sum(input) END AS rate,\n"
            "  count(*) AS days, count(*) FILTER (WHERE NOT complete) AS incomplete_days,\n"
            "  count(*) FILTER (WHERE flags <> '') AS abnormal_days\n"
            f"FROM {R}.loss_daily\nWHERE $__timeFilter(bucket) AND {scope()}\n"
            "GROUP BY model_id ORDER BY rate DESC NULLS FIRST, model_id LIMIT 500")


def by_line() -> str:
    return ("SELECT coalesce(line_id, '(none)') AS line, utility, count(DISTINCT model_id) AS models,\n"
            "  CASE WHEN bool_and(complete) THEN sum(loss) END AS loss,\n"
            "  CASE WHEN bool_and(complete) AND sum(input) > 0 THEN sum(loss) / sum(input) END AS rate,\n"
            "  count(DISTINCT model_id) FILTER (WHERE flags <> '') AS abnormal_models\n"
            f"FROM {R}.loss_daily\nWHERE $__timeFilter(bucket) AND {scope()}\n"
            "GROUP BY 1, 2 ORDER BY rate DESC NULLS FIRST, 1")


def rate_by_class() -> str:
    return ("SELECT bucket AS \"time\", model_class,\n"
            "  sum(loss) FILTER (WHERE complete) / nullif(sum(input) FILTER (WHERE complete), 0) AS rate\n"
            f"FROM {R}.loss_daily\nWHERE $__timeFilter(bucket) AND {scope()}\nGROUP BY 1, 2 ORDER BY 1, 2")


def days() -> str:
    return ("SELECT day, model_id, version, input, output, loss, rate, complete, reason, flags\n"
            f"FROM {R}.loss_daily\nWHERE $__timeFilter(bucket) AND {scope()}\nORDER BY model_id, day LIMIT 2000")


def anomalies() -> str:
    return ("SELECT day, model_id, kind, rate, detail, top_points\n"
            f"FROM {R}.loss_anomaly\nWHERE $__timeFilter(bucket) AND {scope()}\nORDER BY day DESC, model_id, kind"
            " LIMIT 500")


def loss_analytics() -> DashboardSpec:
    runs = "sum by (outcome) (rate(emms_analytics_loss_runs_total[" + RATE + "]))"
    p95 = "histogram_quantile(0.95, sum by (le) (rate(emms_analytics_loss_run_seconds_bucket[" + RATE + "])))"
    states = "sum by (state) (emms_analytics_loss_models)"
    raised = "sum by (kind) (increase(emms_analytics_loss_anomalies_total[" + RATE + "]))"
    line = _variable("line", "Line / network (drill-down)",
                     f"SELECT DISTINCT coalesce(line_id, '') AS __value, coalesce(line_id, '(none)') AS __text"
                     f" FROM {R}.loss_daily WHERE $__timeFilter(bucket) AND utility IN ($utility)")
    model = _variable("model", "Area / zone / station (drill-down)",
                      f"SELECT DISTINCT model_id AS __value, model_name AS __text FROM {R}.loss_daily"
                      f" WHERE $__timeFilter(bucket) AND utility IN ($utility) AND coalesce(line_id, '') IN ($line)")
    return DashboardSpec(
        "loss", "loss.json", "emms-analytics-loss", "EMMS analytics: loss",
        "Loss and loss rate of the loss models (R-4.5.6) from the daily runs: by area, by line, by class; drill down "
        "with the line and model variables; abnormal losses with the points that explain them best.", [
            ("Loss by area", [
                sql_table("Loss by area (highest rate first; incomplete first)", by_model(), width=24,
                          description="Sum of the days in the range; no figure when a day of the model is "
                                      "incomplete (a member lacked data)."),
                sql_table("Loss by line / network", by_line()),
                sql_ts("Daily loss rate by model class", rate_by_class(), unit="percentunit"),
            ]),
            ("Drill-down: the chosen areas", [
                sql_table("Days of the chosen areas", days(), width=24),
                sql_table("Abnormal losses and the points that explain them", anomalies(), width=24),
            ]),
            ("Runs", [
                ts("Daily runs per second by outcome", Query(runs, "{{outcome}}"), unit="ops", width=6),
                ts("Run time p95", Query(p95, "p95"), unit="s", width=6),
                ts("Models of the last run", Query(states, "{{state}}"), width=6),
                ts("Abnormal losses raised", Query(raised, "{{kind}}"), width=6),
            ]),
        ], [*analytics_variables(ALL), line, model], "now-30d", "5m")
