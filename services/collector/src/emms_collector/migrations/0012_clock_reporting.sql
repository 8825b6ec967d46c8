-- Reporting views of the clock hierarchy (R-4.6.1) for Grafana's PostgreSQL datasource (dashboard
-- "EMMS clocks", tools/gen_dashboards.py): measurements and syncs by level, the latest clock per terminal
-- and per collector (views named clock_*). The views run with their owner's rights: `emms_reporting` reads them and nothing of
-- this schema. No personal data (the approver of a meter sync is left out).
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'emms_reporting') THEN
        CREATE ROLE emms_reporting NOLOGIN;
    END IF;
END
$$;

CREATE SCHEMA IF NOT EXISTS reporting;
REVOKE ALL ON SCHEMA reporting FROM PUBLIC;

CREATE OR REPLACE VIEW reporting.clock_sync AS
SELECT id, terminal, meter_id, collector, level, requested_at, deviation_before_s, round_trip_ms, set_to, outcome,
       deviation_after_s, detail, finished_at
FROM {schema}.clock_sync;

CREATE OR REPLACE VIEW reporting.clock_terminal AS
SELECT terminal, deviation_s, observed_at, source, online, last_sync_at, last_result
FROM {schema}.terminal_clock;

CREATE OR REPLACE VIEW reporting.clock_collector AS
SELECT terminal, collector, deviation_s, observed_at, last_sync_at, last_result
FROM {schema}.collector_clock;

GRANT USAGE ON SCHEMA reporting TO emms_reporting;
GRANT SELECT ON reporting.clock_sync, reporting.clock_terminal, reporting.clock_collector TO emms_reporting;
