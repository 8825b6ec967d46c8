-- emms: mode=timescaledb
-- Readings, events and anomalies as TimescaleDB hypertables, with compression and retention
-- policies. Same columns and keys as 0004 (the native-partitioning path); chunks are created by
-- TimescaleDB, so ensure_partitions is a no-op here and the writers call it the same way.
CREATE TABLE {schema}.reading_raw (
    metering_point_id text NOT NULL,
    item              text NOT NULL,
    data_time         timestamptz NOT NULL,
    source            text NOT NULL,
    meter_id          text NOT NULL,
    value             double precision,
    unit              text NOT NULL,
    collected_at      timestamptz NOT NULL,
    quality           integer NOT NULL DEFAULT 0,
    terminal          text,
    pn                integer,
    batch_id          text,
    stored_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (metering_point_id, item, data_time, source)
);

CREATE TABLE {schema}.reading_validated (
    metering_point_id text NOT NULL,
    item              text NOT NULL,
    data_time         timestamptz NOT NULL,
    validated_at      timestamptz NOT NULL,
    status            text NOT NULL,
    meter_id          text NOT NULL,
    value             double precision,
    unit              text NOT NULL,
    method            text NOT NULL DEFAULT '',
    raw_source        text,
    rules_failed      text[] NOT NULL DEFAULT '{}',
    stored_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (metering_point_id, item, data_time, validated_at, status)
);

CREATE TABLE {schema}.event (
    event_id          uuid NOT NULL,
    occurred_at       timestamptz NOT NULL,
    terminal          text NOT NULL,
    meter_id          text,
    metering_point_id text,
    code              text NOT NULL,
    event_class       text NOT NULL,
    received_at       timestamptz NOT NULL,
    detail            jsonb NOT NULL DEFAULT '{}',
    stored_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (occurred_at, event_id)
);

CREATE TABLE {schema}.anomaly (
    anomaly_id        text NOT NULL,
    data_time         timestamptz NOT NULL,
    meter_id          text NOT NULL,
    metering_point_id text,
    rule              text NOT NULL,
    item              text NOT NULL,
    severity          text NOT NULL,
    detail            jsonb NOT NULL DEFAULT '{}',
    detected_at       timestamptz NOT NULL,
    stored_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (data_time, anomaly_id)
);

SELECT create_hypertable('{schema}.reading_raw', 'data_time', chunk_time_interval => INTERVAL '7 days');
SELECT create_hypertable('{schema}.reading_validated', 'data_time', chunk_time_interval => INTERVAL '7 days');
SELECT create_hypertable('{schema}.event', 'occurred_at', chunk_time_interval => INTERVAL '30 days');
SELECT create_hypertable('{schema}.anomaly', 'data_time', chunk_time_interval => INTERVAL '30 days');

-- Columnar compression of cold chunks: one segment per metering point, ordered as queried.
ALTER TABLE {schema}.reading_raw SET (
    timescaledb.compress,
    timescaledb.compress_segmentby = 'metering_point_id',
    timescaledb.compress_orderby = 'item, data_time, source'
);
ALTER TABLE {schema}.reading_validated SET (
    timescaledb.compress,
    timescaledb.compress_segmentby = 'metering_point_id',
    timescaledb.compress_orderby = 'item, data_time, validated_at, status'
);
SELECT add_compression_policy('{schema}.reading_raw', INTERVAL '45 days');
SELECT add_compression_policy('{schema}.reading_validated', INTERVAL '45 days');

-- Retention: whole chunks only. Raw and validated readings are kept 10 years, events and
-- anomalies 5 years; change with remove_retention_policy / add_retention_policy.
SELECT add_retention_policy('{schema}.reading_raw', INTERVAL '10 years');
SELECT add_retention_policy('{schema}.reading_validated', INTERVAL '10 years');
SELECT add_retention_policy('{schema}.event', INTERVAL '5 years');
SELECT add_retention_policy('{schema}.anomaly', INTERVAL '5 years');

CREATE FUNCTION {schema}.ensure_partitions(t_from timestamptz, t_to timestamptz) RETURNS integer
LANGUAGE sql IMMUTABLE AS $$ SELECT 0 $$;

-- Retention is the policy above; the function exists so the maintenance worker is mode-blind.
CREATE FUNCTION {schema}.drop_partitions_before(tbl text, before timestamptz) RETURNS integer
LANGUAGE sql AS $$ SELECT 0 $$;
