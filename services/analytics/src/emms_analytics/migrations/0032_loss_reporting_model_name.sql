-- The loss views name the model's name `model_name` (0021 called it `name`): in the reporting schema a bare
-- `name` reads as a person's, and the views carry no personal data (tests/unit/deploy/test_deploy_reporting_role.py
-- checks every reporting column). A view's columns cannot be renamed in place: dropped and made again.
DROP VIEW IF EXISTS reporting.loss_daily;
DROP VIEW IF EXISTS reporting.loss_anomaly;

CREATE VIEW reporting.loss_daily AS
SELECT d.model_id, m.name AS model_name, m.model_class, m.utility, m.source, m.company_id, m.region_id, m.line_id,
       m.voltage_level, d.day, (d.day::timestamp AT TIME ZONE (SELECT local_tz FROM {schema}.calendar)) AS bucket,
       d.version, d.input, d.output, d.loss, d.rate, d.complete, d.reason, array_to_string(d.flags, ', ') AS flags
FROM {schema}.loss_daily d
JOIN {schema}.loss_model m ON m.model_id = d.model_id;

CREATE VIEW reporting.loss_anomaly AS
SELECT a.model_id, m.name AS model_name, m.model_class, m.utility, m.company_id, m.region_id, m.line_id, a.day,
       (a.day::timestamp AT TIME ZONE (SELECT local_tz FROM {schema}.calendar)) AS bucket, a.kind, a.rate, a.detail,
       (SELECT string_agg(r ->> 'metering_point_id' || ' (' || (r ->> 'score') || ')', ', ' ORDER BY n)
        FROM jsonb_array_elements(a.ranked) WITH ORDINALITY AS x(r, n) WHERE n <= 3) AS top_points
FROM {schema}.loss_anomaly a
JOIN {schema}.loss_model m ON m.model_id = a.model_id;

GRANT SELECT ON reporting.loss_daily, reporting.loss_anomaly TO emms_reporting;
