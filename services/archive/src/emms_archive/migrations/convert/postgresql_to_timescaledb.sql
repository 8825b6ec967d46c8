-- Move a schema laid out for plain PostgreSQL (0004: native monthly partitions) to the
-- TimescaleDB layout (0005), keeping every row: the migration runner runs this file once, in one
-- transaction under the schema's migration lock, when a schema migrated in postgresql mode first
-- meets a server with TimescaleDB (see emms_db.migrations). It ends in exactly the state that
-- 0005 and then 0006 give a new database (tests/integration/foundation/test_storage_upgrade.py
-- compares the two catalogs), then the later migrations go on in timescaledb mode.
--
-- Create-and-copy, not create_hypertable(migrate_data): a natively partitioned table cannot
-- become a hypertable. The old tables are renamed, their indexes too (index names are
-- schema-wide), the new hypertables are filled with INSERT … SELECT and the old ones dropped.
ALTER TABLE {schema}.reading_raw RENAME TO reading_raw_plain;
ALTER TABLE {schema}.reading_validated RENAME TO reading_validated_plain;
ALTER TABLE {schema}.event RENAME TO event_plain;
ALTER TABLE {schema}.anomaly RENAME TO anomaly_plain;
ALTER INDEX {schema}.reading_raw_pkey RENAME TO reading_raw_plain_pkey;
ALTER INDEX {schema}.reading_validated_pkey RENAME TO reading_validated_plain_pkey;
ALTER INDEX {schema}.event_pkey RENAME TO event_plain_pkey;
ALTER INDEX {schema}.anomaly_pkey RENAME TO anomaly_plain_pkey;
ALTER INDEX {schema}.event_point RENAME TO event_plain_point;
ALTER INDEX {schema}.event_terminal RENAME TO event_plain_terminal;
ALTER INDEX {schema}.anomaly_point RENAME TO anomaly_plain_point;
ALTER INDEX {schema}.anomaly_meter RENAME TO anomaly_plain_meter;

-- The TimescaleDB layout, as in 0005.
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

CREATE OR REPLACE FUNCTION {schema}.ensure_partitions(t_from timestamptz, t_to timestamptz) RETURNS integer
LANGUAGE sql IMMUTABLE AS $$ SELECT 0 $$;

-- Retention is the policy above; the function exists so the maintenance worker is mode-blind.
CREATE OR REPLACE FUNCTION {schema}.drop_partitions_before(tbl text, before timestamptz) RETURNS integer
LANGUAGE sql AS $$ SELECT 0 $$;

-- The rows (same columns in the same order: tests/unit/archive checks 0004 and 0005 agree).
INSERT INTO {schema}.reading_raw SELECT * FROM {schema}.reading_raw_plain;
INSERT INTO {schema}.reading_validated SELECT * FROM {schema}.reading_validated_plain;
INSERT INTO {schema}.event SELECT * FROM {schema}.event_plain;
INSERT INTO {schema}.anomaly SELECT * FROM {schema}.anomaly_plain;
DROP TABLE {schema}.reading_raw_plain, {schema}.reading_validated_plain,
           {schema}.event_plain, {schema}.anomaly_plain;

-- What 0006 put on the four tables.
CREATE INDEX event_point ON {schema}.event (metering_point_id, occurred_at);
CREATE INDEX event_terminal ON {schema}.event (terminal, occurred_at);
CREATE INDEX anomaly_point ON {schema}.anomaly (metering_point_id, data_time);
CREATE INDEX anomaly_meter ON {schema}.anomaly (meter_id, data_time);
CREATE TRIGGER reading_raw_insert_only BEFORE UPDATE OR DELETE ON {schema}.reading_raw
    FOR EACH ROW EXECUTE FUNCTION {schema}.refuse_change();
CREATE TRIGGER reading_raw_no_truncate BEFORE TRUNCATE ON {schema}.reading_raw
    FOR EACH STATEMENT EXECUTE FUNCTION {schema}.refuse_change();
CREATE TRIGGER reading_validated_insert_only BEFORE UPDATE OR DELETE ON {schema}.reading_validated
    FOR EACH ROW EXECUTE FUNCTION {schema}.refuse_change();
CREATE TRIGGER reading_validated_no_truncate BEFORE TRUNCATE ON {schema}.reading_validated
    FOR EACH STATEMENT EXECUTE FUNCTION {schema}.refuse_change();
REVOKE UPDATE, DELETE, TRUNCATE ON {schema}.reading_raw, {schema}.reading_validated FROM PUBLIC;
