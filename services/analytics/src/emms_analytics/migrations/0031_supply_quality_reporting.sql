-- Supply quality for Grafana (issue 17): views of the schema ``reporting`` read by ``emms_reporting`` (created by
-- 0012). Raw meter values (no CT multiplier: voltage, power factor, harmonic content and pressure are not
-- scaled), judged by the limits of migration 0030 as the API judges them. No personal data.

-- Every phase-voltage value with the limits of the point's voltage level (default 0.22kV) and the verdict.
CREATE OR REPLACE VIEW reporting.sq_voltage AS
SELECT c.data_time, p.metering_point_id, p.customer_id, p.company_id, p.region_id, p.utility, p.node_id,
       lv.level, right(c.item, 1) AS phase, c.value,
       lv.nominal_v * (1 - lv.lower_pct / 100) AS lower_v, lv.nominal_v * (1 + lv.upper_pct / 100) AS upper_v,
       c.value BETWEEN lv.nominal_v * (1 - lv.lower_pct / 100) AND lv.nominal_v * (1 + lv.upper_pct / 100)
           AS within
FROM {schema}.curve_value c
JOIN {schema}.meter_period pe ON pe.meter_id = c.meter_id AND c.data_time >= pe.valid_from
                              AND (pe.valid_to IS NULL OR c.data_time < pe.valid_to)
JOIN reporting.analytics_point p ON p.metering_point_id = pe.metering_point_id
LEFT JOIN {schema}.sq_point_level pl ON pl.metering_point_id = p.metering_point_id
JOIN {schema}.sq_voltage_level lv ON lv.level = coalesce(pl.level, '0.22kV')
WHERE c.item IN ('voltage.a', 'voltage.b', 'voltage.c') AND c.value IS NOT NULL;

-- Every total power-factor value with the customer's limits (its own, else its category's, else 0.90 … 1.00).
CREATE OR REPLACE VIEW reporting.sq_power_factor AS
SELECT c.data_time, p.metering_point_id, p.customer_id, p.company_id, p.region_id, p.utility, p.category,
       c.value,
       coalesce(lc.pf_min, lk.pf_min, 0.90) AS pf_min, coalesce(lc.pf_max, lk.pf_max, 1.00) AS pf_max
FROM {schema}.curve_value c
JOIN {schema}.meter_period pe ON pe.meter_id = c.meter_id AND c.data_time >= pe.valid_from
                              AND (pe.valid_to IS NULL OR c.data_time < pe.valid_to)
JOIN reporting.analytics_point p ON p.metering_point_id = pe.metering_point_id
LEFT JOIN {schema}.sq_pf_limit lc ON lc.scope_kind = 'customer' AND lc.scope_id = p.customer_id
LEFT JOIN {schema}.sq_pf_limit lk ON lk.scope_kind = 'category' AND lk.scope_id = p.category
WHERE c.item = 'power_factor.total' AND c.value IS NOT NULL;

-- Harmonic content and THD values (%), with the voltage limits (THD 5, odd orders 4, even 2; currents: none).
CREATE OR REPLACE VIEW reporting.sq_harmonic AS
SELECT c.data_time, p.metering_point_id, p.company_id, p.region_id, p.utility, c.item,
       split_part(c.item, '.', 2) AS quantity, split_part(c.item, '.', 3) AS phase,
       CASE WHEN c.item LIKE 'thd.%' THEN 'thd' ELSE split_part(c.item, '.', 4) END AS order_of,
       c.value,
       CASE WHEN c.item LIKE 'thd.voltage.%' THEN 5.0
            WHEN c.item LIKE 'harmonic.voltage.%' AND substr(split_part(c.item, '.', 4), 2)::int % 2 = 1 THEN 4.0
            WHEN c.item LIKE 'harmonic.voltage.%' THEN 2.0 END AS limit_pct
FROM {schema}.curve_value c
JOIN {schema}.meter_period pe ON pe.meter_id = c.meter_id AND c.data_time >= pe.valid_from
                              AND (pe.valid_to IS NULL OR c.data_time < pe.valid_to)
JOIN reporting.analytics_point p ON p.metering_point_id = pe.metering_point_id
WHERE (c.item LIKE 'thd.%' OR c.item LIKE 'harmonic.%') AND c.value IS NOT NULL;

-- Every pressure value (water, gas, heat; MPa) with its utility's limits and the verdict.
CREATE OR REPLACE VIEW reporting.sq_pressure AS
SELECT c.data_time, p.metering_point_id, p.customer_id, p.company_id, p.region_id, p.utility, p.node_id,
       c.value, l.min_mpa, l.max_mpa, c.value BETWEEN l.min_mpa AND l.max_mpa AS within
FROM {schema}.curve_value c
JOIN {schema}.meter_period pe ON pe.meter_id = c.meter_id AND c.data_time >= pe.valid_from
                              AND (pe.valid_to IS NULL OR c.data_time < pe.valid_to)
JOIN reporting.analytics_point p ON p.metering_point_id = pe.metering_point_id
JOIN {schema}.sq_pressure_limit l ON l.utility = p.utility
WHERE c.item = 'pressure' AND c.value IS NOT NULL;

GRANT SELECT ON reporting.sq_voltage, reporting.sq_power_factor, reporting.sq_harmonic, reporting.sq_pressure
    TO emms_reporting;
