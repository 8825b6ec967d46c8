"""The supply-quality dashboard (issue 17, R-4.5.5.1–4), registered by ``tools/gen_dashboards.py``.

SQL panels read the views of analytics migration 0031 (``reporting.sq_voltage``, ``sq_power_factor``,
``sq_harmonic``, ``sq_pressure``) as ``emms_reporting``; the limits are those chosen through
``/api/v1/analytics/supply-quality/limits``. The last row shows the analyses' runs (Prometheus).
``tests/integration/analytics/test_analytics_supply_quality.py`` runs every SQL panel as the role on both
storage modes and compares the figures with the service's answers.
"""

from __future__ import annotations

from gen_dashboards import RATE, DashboardSpec, Query, R, analytics_variables, freshness, scope, sql_table, sql_ts, ts

ALL = ("electricity", "water", "gas", "heat")


def _voltage_hourly() -> str:
    return ("SELECT $__timeGroupAlias(data_time, '1h'), level,\n"
            "  avg(CASE WHEN within THEN 1.0 ELSE 0.0 END) AS \"qualification rate\"\n"
            f"FROM {R}.sq_voltage\nWHERE $__timeFilter(data_time) AND {scope()}\nGROUP BY 1, 2 ORDER BY 1, 2")


def _voltage_levels() -> str:
    return ("SELECT level, count(DISTINCT metering_point_id) AS points, count(*) AS \"values\",\n"
            "  count(*) FILTER (WHERE within) AS within, avg(CASE WHEN within THEN 1.0 ELSE 0.0 END) AS rate\n"
            f"FROM {R}.sq_voltage\nWHERE $__timeFilter(data_time) AND {scope()}\nGROUP BY level ORDER BY level")


def _voltage_points() -> str:
    return ("SELECT metering_point_id, level, count(*) AS \"values\", count(*) FILTER (WHERE within) AS within,\n"
            "  avg(CASE WHEN within THEN 1.0 ELSE 0.0 END) AS rate, min(value) AS min_v, max(value) AS max_v,\n"
            "  min(lower_v) AS lower_v, max(upper_v) AS upper_v\n"
            f"FROM {R}.sq_voltage\nWHERE $__timeFilter(data_time) AND {scope()}\n"
            "GROUP BY metering_point_id, level ORDER BY rate, metering_point_id LIMIT 100")


def _power_factor() -> str:
    return ("SELECT customer_id, category, count(*) AS \"values\", min(value) AS min, max(value) AS max,\n"
            "  avg(value) AS average, max(value) - min(value) AS range, min(pf_min) AS pf_min, max(pf_max) AS pf_max,\n"
            "  count(*) FILTER (WHERE value < pf_min OR value > pf_max) AS instants_outside,\n"
            "  avg(value) < min(pf_min) OR avg(value) > max(pf_max) AS outside\n"
            f"FROM {R}.sq_power_factor\nWHERE $__timeFilter(data_time) AND {scope()}\n"
            "GROUP BY customer_id, category ORDER BY outside DESC, average, customer_id LIMIT 200")


def _harmonic_violations() -> str:
    return ("SELECT metering_point_id, phase, order_of, max(value) AS max_pct, max(limit_pct) AS limit_pct,\n"
            "  count(*) FILTER (WHERE value > limit_pct) AS instants_over\n"
            f"FROM {R}.sq_harmonic\nWHERE $__timeFilter(data_time) AND quantity = 'voltage' AND {scope()}\n"
            "GROUP BY metering_point_id, phase, order_of HAVING max(value) > max(limit_pct)\n"
            "ORDER BY metering_point_id, phase, order_of")


def _thd_hourly() -> str:
    return ("SELECT $__timeGroupAlias(data_time, '1h'), phase, max(value) AS \"voltage THD\"\n"
            f"FROM {R}.sq_harmonic\nWHERE $__timeFilter(data_time) AND item LIKE 'thd.voltage.%' AND {scope()}\n"
            "GROUP BY 1, 2 ORDER BY 1, 2")


def _pressure_customers() -> str:
    return ("SELECT utility, customer_id, count(*) AS \"values\", count(*) FILTER (WHERE NOT within) AS abnormal,\n"
            "  avg(CASE WHEN within THEN 0.0 ELSE 1.0 END) AS abnormal_share, min(value) AS min_mpa,\n"
            "  max(value) AS max_mpa\n"
            f"FROM {R}.sq_pressure\nWHERE $__timeFilter(data_time) AND {scope()}\n"
            "GROUP BY utility, customer_id ORDER BY abnormal_share DESC, utility, customer_id LIMIT 200")


def _pressure_hourly() -> str:
    return ("SELECT $__timeGroupAlias(data_time, '1h'), utility,\n"
            "  count(*) FILTER (WHERE NOT within) AS \"values outside the limits\"\n"
            f"FROM {R}.sq_pressure\nWHERE $__timeFilter(data_time) AND {scope()}\nGROUP BY 1, 2 ORDER BY 1, 2")


def _heat_deviation() -> str:
    return ("SELECT metering_point_id, node_id, count(*) AS \"values\", avg(value) AS mean_flow,\n"
            "  max(abs(value - mean)) / nullif(avg(value), 0) AS flow_deviation\n"
            "FROM (SELECT metering_point_id, node_id, value, avg(value) OVER (PARTITION BY metering_point_id) AS mean\n"
            f"      FROM {R}.analytics_curve\n"
            "      WHERE $__timeFilter(data_time) AND item = 'flow.rate' AND utility = 'heat'\n"
            f"        AND {scope()}) x\n"
            "GROUP BY metering_point_id, node_id ORDER BY flow_deviation DESC NULLS LAST, metering_point_id LIMIT 100")


def _heat_delta_t() -> str:
    return ("SELECT $__timeGroupAlias(data_time, '1h'),\n"
            "  avg(value) FILTER (WHERE item = 'temperature.supply')\n"
            "  - avg(value) FILTER (WHERE item = 'temperature.return') AS \"supply − return\"\n"
            f"FROM {R}.analytics_curve\n"
            "WHERE $__timeFilter(data_time) AND item IN ('temperature.supply', 'temperature.return')\n"
            f"  AND utility = 'heat' AND {scope()}\nGROUP BY 1 ORDER BY 1")


def supply_quality_analytics() -> DashboardSpec:
    runs = "sum by (analysis, outcome) (rate(emms_analytics_supply_quality_runs_total[" + RATE + "]))"
    p95 = ("histogram_quantile(0.95, sum by (le, analysis) "
           "(rate(emms_analytics_supply_quality_run_seconds_bucket[" + RATE + "])))")
    lacking = "sum by (analysis) (increase(emms_analytics_supply_quality_incomplete_total[" + RATE + "]))"
    return DashboardSpec(
        "analytics", "supply_quality.json", "emms-analytics-supply-quality", "EMMS analytics: supply quality",
        "Voltage qualification per level, power factor against customer limits, harmonics, water / gas / heat "
        "pressure (R-4.5.5.1–4). Raw meter values judged by the limits of /supply-quality/limits.", [
            ("Voltage", [
                sql_ts("Voltage qualification rate per level (hourly)", _voltage_hourly(), unit="percentunit"),
                sql_table("Voltage qualification per level in the period", _voltage_levels()),
                sql_table("Points by voltage qualification (worst first)", _voltage_points(), width=24),
            ]),
            ("Power factor", [
                sql_table("Power factor per customer against its limits", _power_factor(), width=24,
                          description="Limits: the customer's own, else its category's, else 0.90 … 1.00; "
                                      "outside = the period's average below the minimum or above the maximum."),
            ]),
            ("Harmonics", [
                sql_ts("Voltage THD, highest per hour and phase", _thd_hourly(), unit="percent"),
                sql_table("Harmonic violations (voltage: THD 5 %, odd 4 %, even 2 %)", _harmonic_violations()),
            ]),
            ("Pressure", [
                sql_table("Pressure per customer: abnormal share", _pressure_customers()),
                sql_ts("Pressure values outside the limits per hour", _pressure_hourly()),
            ]),
            ("Heat", [
                sql_table("Heat: flow deviation per meter (constant-flow systems)", _heat_deviation(),
                          description="max |flow − mean| / mean of each heat meter's flow in the period."),
                sql_ts("Heat: supply − return temperature (hourly mean)", _heat_delta_t(), unit="celsius"),
            ]),
            ("Runs", [
                ts("Analyses per second by outcome", Query(runs, "{{analysis}} {{outcome}}"), unit="ops", width=8),
                ts("Run time p95", Query(p95, "{{analysis}}"), unit="s", width=8),
                ts("Points / customers / nodes answered incomplete", Query(lacking, "{{analysis}}"), width=8),
            ]),
            freshness(),
        ], analytics_variables(ALL), "now-7d", "5m")
