-- emms: mode=timescaledb
-- emms: transactional=false
-- TimescaleDB: interval usage is a hypertable; hourly → daily → monthly hierarchical continuous
-- aggregates in the local calendar, real-time (materialized_only = false), with refresh
-- policies; the service refreshes the windows new and late data touched (emms_analytics.rollups).
SELECT create_hypertable('{schema}.usage_interval', 'at', chunk_time_interval => interval '30 days',
                         if_not_exists => true);

CREATE MATERIALIZED VIEW IF NOT EXISTS {schema}.usage_hourly
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT meter_id, item, time_bucket(interval '1 hour', at, 'Asia/Shanghai') AS bucket,
       sum(delta) AS usage, count(*) AS intervals, count(*) FILTER (WHERE estimated) AS estimated
FROM {schema}.usage_interval
GROUP BY meter_id, item, time_bucket(interval '1 hour', at, 'Asia/Shanghai')
WITH NO DATA;

CREATE MATERIALIZED VIEW IF NOT EXISTS {schema}.usage_daily
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT meter_id, item, time_bucket(interval '1 day', bucket, 'Asia/Shanghai') AS bucket,
       sum(usage) AS usage, sum(intervals)::bigint AS intervals, sum(estimated)::bigint AS estimated
FROM {schema}.usage_hourly
GROUP BY meter_id, item, time_bucket(interval '1 day', bucket, 'Asia/Shanghai')
WITH NO DATA;

CREATE MATERIALIZED VIEW IF NOT EXISTS {schema}.usage_monthly
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT meter_id, item, time_bucket(interval '1 month', bucket, 'Asia/Shanghai') AS bucket,
       sum(usage) AS usage, sum(intervals)::bigint AS intervals, sum(estimated)::bigint AS estimated
FROM {schema}.usage_daily
GROUP BY meter_id, item, time_bucket(interval '1 month', bucket, 'Asia/Shanghai')
WITH NO DATA;

-- The policies are the safety net behind the service's targeted refreshes (a window it recorded
-- but had not refreshed when it stopped): the recent past, in one batch each.
SELECT add_continuous_aggregate_policy('{schema}.usage_hourly', start_offset => interval '7 days',
       end_offset => NULL, schedule_interval => interval '5 minutes', if_not_exists => true,
       buckets_per_batch => 0);
SELECT add_continuous_aggregate_policy('{schema}.usage_daily', start_offset => interval '40 days',
       end_offset => NULL, schedule_interval => interval '15 minutes', if_not_exists => true,
       buckets_per_batch => 0);
SELECT add_continuous_aggregate_policy('{schema}.usage_monthly', start_offset => interval '400 days',
       end_offset => NULL, schedule_interval => interval '1 hour', if_not_exists => true,
       buckets_per_batch => 0);
