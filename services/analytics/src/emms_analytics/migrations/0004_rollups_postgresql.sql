-- emms: mode=postgresql
-- Plain PostgreSQL: rollup tables the service keeps up to date itself, bucket by bucket, in the
-- transaction that stores the readings (hourly from intervals, daily from hourly, monthly from daily).
CREATE TABLE IF NOT EXISTS {schema}.usage_hourly (
    meter_id  text             NOT NULL,
    item      text             NOT NULL,
    bucket    timestamptz      NOT NULL,
    usage     double precision NOT NULL,
    intervals bigint           NOT NULL,
    estimated bigint           NOT NULL,
    PRIMARY KEY (meter_id, item, bucket)
);
CREATE TABLE IF NOT EXISTS {schema}.usage_daily (LIKE {schema}.usage_hourly INCLUDING ALL);
CREATE TABLE IF NOT EXISTS {schema}.usage_monthly (LIKE {schema}.usage_hourly INCLUDING ALL);
CREATE INDEX IF NOT EXISTS usage_daily_bucket ON {schema}.usage_daily (bucket);
CREATE INDEX IF NOT EXISTS usage_monthly_bucket ON {schema}.usage_monthly (bucket);
