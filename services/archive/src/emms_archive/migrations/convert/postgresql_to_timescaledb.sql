-- Move a schema laid out for plain PostgreSQL (0004: native monthly partitions) to the
-- TimescaleDB layout (0005), keeping every row: the migration runner runs this file once, in one
-- transaction under the schema's migration lock, when a schema migrated in postgresql mode first
-- meets a server with TimescaleDB (see emms_db.migrations). It ends in exactly the state that
-- 0005 and then 0006 give a new database (tests/integration/foundation/test_storage_upgrade.py
-- compares the two catalogs), then the later migrations go on in timescaledb mode.
--
-- Create-and-copy, not create_hypertable(migrate_data): a natively partitioned table cannot
-- become a hypertable. The old tables are renamed, their indexes too (index names are
-- schema-wide), 0005 runs as written (spliced in by the runner at the marker below), the new
-- hypertables are filled with INSERT … SELECT and the old ones dropped.
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

-- 0005's two functions are replaced by its own text below.
DROP FUNCTION {schema}.ensure_partitions(timestamptz, timestamptz);
DROP FUNCTION {schema}.drop_partitions_before(text, timestamptz);

-- The TimescaleDB layout: the runner puts the text of every mode=timescaledb migration here.
-- emms: timescaledb-migrations

-- The rows (same columns in the same order: tests/unit/archive checks 0004 and 0005 agree).
INSERT INTO {schema}.reading_raw SELECT * FROM {schema}.reading_raw_plain;
INSERT INTO {schema}.reading_validated SELECT * FROM {schema}.reading_validated_plain;
INSERT INTO {schema}.event SELECT * FROM {schema}.event_plain;
INSERT INTO {schema}.anomaly SELECT * FROM {schema}.anomaly_plain;
-- Views on the old tables (e.g. 0010's reporting views) followed the rename; point each at the new
-- table of the same name, keeping its text (CREATE OR REPLACE: its columns and grants stay).
DO $$
DECLARE
    v record;
BEGIN
    FOR v IN
        SELECT DISTINCT r.ev_class::regclass AS view, pg_get_viewdef(r.ev_class) AS def
        FROM pg_depend d JOIN pg_rewrite r ON r.oid = d.objid
        WHERE d.classid = 'pg_rewrite'::regclass AND r.ev_class <> d.refobjid
          AND d.refobjid IN ('{schema}.reading_raw_plain'::regclass, '{schema}.reading_validated_plain'::regclass,
                             '{schema}.event_plain'::regclass, '{schema}.anomaly_plain'::regclass)
    LOOP
        EXECUTE format('CREATE OR REPLACE VIEW %s AS %s', v.view,
                       regexp_replace(v.def, '\m(reading_raw|reading_validated|event|anomaly)_plain\M', '\1', 'g'));
    END LOOP;
END
$$;
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
