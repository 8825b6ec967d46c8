-- What both storage modes share on top of 0004 / 0005: secondary indexes, the insert-only
-- guards of raw and validated readings, and the holding table of readings whose meter is not
-- (yet) on a metering point at their data time.
CREATE INDEX event_point ON {schema}.event (metering_point_id, occurred_at);
CREATE INDEX event_terminal ON {schema}.event (terminal, occurred_at);
CREATE INDEX anomaly_point ON {schema}.anomaly (metering_point_id, data_time);
CREATE INDEX anomaly_meter ON {schema}.anomaly (meter_id, data_time);

-- Raw readings stay unique and authentic (R-4.3.1): the database refuses UPDATE and DELETE
-- (row triggers, inherited by every partition / chunk) and TRUNCATE of the table. Validated
-- rows are versioned by validated_at, so they are insert-only as well.
CREATE TRIGGER reading_raw_insert_only BEFORE UPDATE OR DELETE ON {schema}.reading_raw
    FOR EACH ROW EXECUTE FUNCTION {schema}.refuse_change();
CREATE TRIGGER reading_raw_no_truncate BEFORE TRUNCATE ON {schema}.reading_raw
    FOR EACH STATEMENT EXECUTE FUNCTION {schema}.refuse_change();
CREATE TRIGGER reading_validated_insert_only BEFORE UPDATE OR DELETE ON {schema}.reading_validated
    FOR EACH ROW EXECUTE FUNCTION {schema}.refuse_change();
CREATE TRIGGER reading_validated_no_truncate BEFORE TRUNCATE ON {schema}.reading_validated
    FOR EACH STATEMENT EXECUTE FUNCTION {schema}.refuse_change();
REVOKE UPDATE, DELETE, TRUNCATE ON {schema}.reading_raw, {schema}.reading_validated FROM PUBLIC;

-- Readings (raw or validated) whose meter had no period on any metering point at their data
-- time. Kept whole (payload) until the archive catches up, then moved by the re-attribution
-- worker. Keyed like the reading, so redelivery stays idempotent here too.
CREATE TABLE {schema}.reading_unmatched (
    layer       text NOT NULL CHECK (layer IN ('raw', 'validated')),
    meter_id    text NOT NULL,
    item        text NOT NULL,
    data_time   timestamptz NOT NULL,
    variant     text NOT NULL,
    payload     jsonb NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (layer, meter_id, item, data_time, variant)
);
CREATE INDEX reading_unmatched_meter ON {schema}.reading_unmatched (meter_id);
