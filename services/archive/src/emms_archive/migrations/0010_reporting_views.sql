-- The reporting schema: read-only views for Grafana's PostgreSQL datasource (business dashboards)
-- and the role that may read them and nothing else. The views run with their owner's rights
-- (not security_invoker), so `emms_reporting` needs no right on the archive's tables: it cannot
-- read them directly, nor any other schema. No personal data (customer names, addresses) is exposed.
-- On Kubernetes the role (and the login role `emms_grafana` in it) is created by CloudNativePG's
-- managed roles (deploy/k8s/base/database/cluster.yaml), since the application owner may not create
-- roles; elsewhere (tests, make up: a superuser) this creates it.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'emms_reporting') THEN
        CREATE ROLE emms_reporting NOLOGIN;
    END IF;
END
$$;

CREATE SCHEMA IF NOT EXISTS reporting;
REVOKE ALL ON SCHEMA reporting FROM PUBLIC;

-- Where each metering point is: company, region, utility, customer category.
CREATE VIEW reporting.metering_point AS
SELECT mp.id AS metering_point_id, mp.utility, mp.status, c.company_id, c.region_id,
       c.category AS customer_category, mp.terminal_id
FROM {schema}.metering_point mp
JOIN {schema}.customer c ON c.id = mp.customer_id;

-- The newest version of each validated reading (held readings are not figures yet).
CREATE VIEW reporting.reading AS
SELECT DISTINCT ON (r.metering_point_id, r.item, r.data_time)
       r.metering_point_id, r.item, r.data_time, r.value, r.unit, r.status, r.validated_at
FROM {schema}.reading_validated r
WHERE r.status <> 'held'
ORDER BY r.metering_point_id, r.item, r.data_time, r.validated_at DESC;

-- The latest value of each item of each metering point.
CREATE VIEW reporting.latest_value AS
SELECT DISTINCT ON (r.metering_point_id, r.item)
       r.metering_point_id, mp.company_id, mp.utility, r.item, r.data_time, r.value, r.unit, r.status
FROM reporting.reading r
JOIN reporting.metering_point mp USING (metering_point_id)
ORDER BY r.metering_point_id, r.item, r.data_time DESC;

-- Per metering point, item and UTC day: the first and last value (a register's usage is last - first),
-- the extremes and how many readings there were.
CREATE VIEW reporting.daily_usage AS
SELECT r.metering_point_id, mp.company_id, mp.utility, r.item, date_trunc('day', r.data_time) AS day,
       (array_agg(r.value ORDER BY r.data_time))[1] AS first_value,
       (array_agg(r.value ORDER BY r.data_time DESC))[1] AS last_value,
       (array_agg(r.value ORDER BY r.data_time DESC))[1] - (array_agg(r.value ORDER BY r.data_time))[1] AS usage,
       min(r.value) AS min_value, max(r.value) AS max_value, count(*) AS readings, min(r.unit) AS unit
FROM reporting.reading r
JOIN reporting.metering_point mp USING (metering_point_id)
GROUP BY r.metering_point_id, mp.company_id, mp.utility, r.item, date_trunc('day', r.data_time);

-- Meters and metering points per company and utility (the fleet a dashboard's rates divide by).
CREATE VIEW reporting.fleet AS
SELECT company_id, utility, count(*) AS metering_points,
       count(*) FILTER (WHERE status = 'active') AS active_metering_points
FROM reporting.metering_point
GROUP BY company_id, utility;

GRANT USAGE ON SCHEMA reporting TO emms_reporting;
GRANT SELECT ON ALL TABLES IN SCHEMA reporting TO emms_reporting;
