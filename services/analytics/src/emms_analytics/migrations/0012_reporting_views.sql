-- Reporting views over the analytics rollups, for Grafana's PostgreSQL datasource (the analytics
-- dashboards of tools/gen_dashboards.py, folder deploy/grafana/dashboards/analytics). Both storage
-- modes, the same columns: the rollup relations usage_hourly / usage_daily / usage_monthly are tables
-- on plain PostgreSQL and continuous aggregates on TimescaleDB. The views run with their owner's
-- rights: `emms_reporting` reads them and nothing of this schema. No personal data (customer names,
-- parties, who marked a key customer). Every bucket is a local start (analytics.calendar, UTC+8).
-- A meter's usage counts for the metering point it measured while the bucket overlaps the meter's
-- period there, × the meter's multiplier: the same rule as the service's /usage (repository/usage.py).
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'emms_reporting') THEN
        CREATE ROLE emms_reporting NOLOGIN;
    END IF;
END
$$;

CREATE SCHEMA IF NOT EXISTS reporting;
REVOKE ALL ON SCHEMA reporting FROM PUBLIC;

-- A heat customer sits on a floor / unit / building node (archive migration 0011): kept here so the
-- heat panels can group by building and station when the metering point itself names no node.
ALTER TABLE {schema}.customer ADD COLUMN IF NOT EXISTS node_id text;

-- Every metering point with what the dashboards filter and group by.
CREATE OR REPLACE VIEW reporting.analytics_point AS
SELECT mp.metering_point_id, mp.customer_id, c.company_id, c.region_id, c.category, c.industry,
       COALESCE(mp.utility, c.utility) AS utility, COALESCE(mp.node_id, c.node_id) AS node_id
FROM {schema}.metering_point mp
LEFT JOIN {schema}.customer c ON c.customer_id = mp.customer_id;

CREATE OR REPLACE VIEW reporting.analytics_company AS
SELECT company_id, name AS company_name FROM {schema}.company;

-- Regions, and each region with itself and every region above it (a filter on a region takes the
-- regions below it: region_id IN (SELECT region_id FROM reporting.analytics_region_tree WHERE ancestor_id IN …)).
CREATE OR REPLACE VIEW reporting.analytics_region AS
SELECT region_id, name AS region_name, parent_id FROM {schema}.region;

CREATE OR REPLACE VIEW reporting.analytics_region_tree AS
WITH RECURSIVE t(region_id, ancestor_id, depth) AS (
    SELECT region_id, region_id, 0 FROM {schema}.region
    UNION
    SELECT t.region_id, r.parent_id, t.depth + 1
    FROM t JOIN {schema}.region r ON r.region_id = t.ancestor_id
    WHERE r.parent_id IS NOT NULL AND t.depth < 32
)
SELECT region_id, ancestor_id, depth FROM t;

-- Network nodes (lines, transformers, pipe networks, heat-exchange stations, communities, buildings,
-- units, floors), and each node with itself and every node above it and that node's kind.
CREATE OR REPLACE VIEW reporting.analytics_node AS
SELECT node_id, name AS node_name, kind, utility, parent_id, company_id, region_id FROM {schema}.network_node;

CREATE OR REPLACE VIEW reporting.analytics_node_tree AS
WITH RECURSIVE t(node_id, ancestor_id, depth) AS (
    SELECT node_id, node_id, 0 FROM {schema}.network_node
    UNION
    SELECT t.node_id, n.parent_id, t.depth + 1
    FROM t JOIN {schema}.network_node n ON n.node_id = t.ancestor_id
    WHERE n.parent_id IS NOT NULL AND t.depth < 32
)
SELECT t.node_id, t.ancestor_id, a.kind AS ancestor_kind, a.name AS ancestor_name, t.depth
FROM t LEFT JOIN {schema}.network_node a ON a.node_id = t.ancestor_id;

-- Usage per metering point, item and local hour / day / month.
CREATE OR REPLACE VIEW reporting.analytics_usage_hourly AS
SELECT u.bucket, p.metering_point_id, p.customer_id, p.company_id, p.region_id, p.category, p.industry,
       p.utility, p.node_id, u.item, u.usage * coalesce(m.multiplier, 1) AS usage, u.intervals, u.estimated
FROM {schema}.usage_hourly u
JOIN {schema}.meter_period pe ON pe.meter_id = u.meter_id AND u.bucket + interval '1 hour' > pe.valid_from
                              AND (pe.valid_to IS NULL OR u.bucket < pe.valid_to)
JOIN reporting.analytics_point p ON p.metering_point_id = pe.metering_point_id
LEFT JOIN {schema}.meter m ON m.meter_id = u.meter_id;

CREATE OR REPLACE VIEW reporting.analytics_usage_daily AS
SELECT u.bucket, p.metering_point_id, p.customer_id, p.company_id, p.region_id, p.category, p.industry,
       p.utility, p.node_id, u.item, u.usage * coalesce(m.multiplier, 1) AS usage, u.intervals, u.estimated
FROM {schema}.usage_daily u
JOIN {schema}.meter_period pe ON pe.meter_id = u.meter_id AND u.bucket + interval '1 day' > pe.valid_from
                              AND (pe.valid_to IS NULL OR u.bucket < pe.valid_to)
JOIN reporting.analytics_point p ON p.metering_point_id = pe.metering_point_id
LEFT JOIN {schema}.meter m ON m.meter_id = u.meter_id;

CREATE OR REPLACE VIEW reporting.analytics_usage_monthly AS
SELECT u.bucket, p.metering_point_id, p.customer_id, p.company_id, p.region_id, p.category, p.industry,
       p.utility, p.node_id, u.item, u.usage * coalesce(m.multiplier, 1) AS usage, u.intervals, u.estimated
FROM {schema}.usage_monthly u
JOIN {schema}.meter_period pe ON pe.meter_id = u.meter_id AND u.bucket + interval '1 month' > pe.valid_from
                              AND (pe.valid_to IS NULL OR u.bucket < pe.valid_to)
JOIN reporting.analytics_point p ON p.metering_point_id = pe.metering_point_id
LEFT JOIN {schema}.meter m ON m.meter_id = u.meter_id;

-- Curve values (load: active / reactive power, voltage, current, power factor; heat: supply
-- temperature, thermal power; pressure; state) per metering point, × the meter's multiplier as the
-- service's load figures (repository/curves.py).
CREATE OR REPLACE VIEW reporting.analytics_curve AS
SELECT c.data_time, p.metering_point_id, p.customer_id, p.company_id, p.region_id, p.category, p.utility,
       p.node_id, c.item, c.value * coalesce(m.multiplier, 1) AS value, c.status
FROM {schema}.curve_value c
JOIN {schema}.meter_period pe ON pe.meter_id = c.meter_id AND c.data_time >= pe.valid_from
                              AND (pe.valid_to IS NULL OR c.data_time < pe.valid_to)
JOIN reporting.analytics_point p ON p.metering_point_id = pe.metering_point_id
LEFT JOIN {schema}.meter m ON m.meter_id = c.meter_id
WHERE c.value IS NOT NULL;

-- Register values collected per metering point, item and local day (data quality: a held value is
-- no value; estimated values are counted apart). A value belongs to the local day of its data time.
CREATE OR REPLACE VIEW reporting.analytics_collected_daily AS
SELECT date_trunc('day', r.data_time, cal.local_tz) AS bucket, p.metering_point_id, p.company_id, p.region_id,
       p.utility, p.node_id, r.item,
       count(*) FILTER (WHERE r.value IS NOT NULL) AS collected,
       count(*) FILTER (WHERE r.value IS NOT NULL AND r.status = 'estimated') AS estimated_values,
       count(*) FILTER (WHERE r.value IS NULL) AS held
FROM {schema}.register_value r
CROSS JOIN {schema}.calendar cal
JOIN {schema}.meter_period pe ON pe.meter_id = r.meter_id AND r.data_time >= pe.valid_from
                              AND (pe.valid_to IS NULL OR r.data_time < pe.valid_to)
JOIN reporting.analytics_point p ON p.metering_point_id = pe.metering_point_id
GROUP BY 1, 2, 3, 4, 5, 6, 7;

-- Hand-chosen key customers (the reason and who marked them are left out).
CREATE OR REPLACE VIEW reporting.analytics_key_customer AS
SELECT k.customer_id, c.company_id, c.region_id, c.utility, c.category, c.industry, k.marked_at
FROM {schema}.key_customer k
LEFT JOIN {schema}.customer c ON c.customer_id = k.customer_id;

GRANT USAGE ON SCHEMA reporting TO emms_reporting;
GRANT SELECT ON reporting.analytics_point, reporting.analytics_company, reporting.analytics_region,
    reporting.analytics_region_tree, reporting.analytics_node, reporting.analytics_node_tree,
    reporting.analytics_usage_hourly, reporting.analytics_usage_daily, reporting.analytics_usage_monthly,
    reporting.analytics_curve, reporting.analytics_collected_daily, reporting.analytics_key_customer
    TO emms_reporting;
