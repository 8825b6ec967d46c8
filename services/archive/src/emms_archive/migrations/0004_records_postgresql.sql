-- emms: mode=postgresql
-- Readings, events and anomalies on plain PostgreSQL: native range partitioning by month
-- (UTC). The same tables exist as hypertables in 0005 when TimescaleDB is present; the columns,
-- keys and queries are identical (tests/unit/archive checks the two files agree).
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
) PARTITION BY RANGE (data_time);

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
) PARTITION BY RANGE (data_time);

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
) PARTITION BY RANGE (occurred_at);

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
) PARTITION BY RANGE (data_time);

-- Create the monthly partitions covering [t_from, t_to] of every time-partitioned table.
-- Called by the writers before a batch (outside the batch's transaction) and ahead of time by
-- the maintenance worker; serialised by an advisory lock so concurrent writers do not collide.
CREATE FUNCTION {schema}.ensure_partitions(t_from timestamptz, t_to timestamptz) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    m      date := date_trunc('month', t_from AT TIME ZONE 'UTC')::date;
    last_m date := date_trunc('month', t_to AT TIME ZONE 'UTC')::date;
    tbl    text;
    part   text;
    made   integer := 0;
BEGIN
    IF t_to < t_from THEN
        RAISE EXCEPTION 'ensure_partitions: % is before %', t_to, t_from;
    END IF;
    PERFORM pg_advisory_xact_lock(hashtext('{schema}.ensure_partitions'));
    WHILE m <= last_m LOOP
        FOREACH tbl IN ARRAY ARRAY['reading_raw', 'reading_validated', 'event', 'anomaly'] LOOP
            part := format('%s_p%s', tbl, to_char(m, 'YYYYMM'));
            IF to_regclass(format('{schema}.%I', part)) IS NULL THEN
                EXECUTE format('CREATE TABLE {schema}.%I PARTITION OF {schema}.%I FOR VALUES FROM (%L) TO (%L)',
                               part, tbl, m::timestamp AT TIME ZONE 'UTC',
                               (m + interval '1 month')::timestamp AT TIME ZONE 'UTC');
                made := made + 1;
            END IF;
        END LOOP;
        m := (m + interval '1 month')::date;
    END LOOP;
    RETURN made;
END
$$;

-- Retention: drop whole monthly partitions that end before `before` (never single rows).
CREATE FUNCTION {schema}.drop_partitions_before(tbl text, before timestamptz) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    part    record;
    dropped integer := 0;
BEGIN
    FOR part IN
        SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) AS bound
        FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = format('{schema}.%I', tbl)::regclass
    LOOP
        IF (regexp_match(part.bound, 'TO \(''([^'']+)''\)'))[1]::timestamptz <= before THEN
            EXECUTE format('DROP TABLE {schema}.%I', part.relname);
            dropped := dropped + 1;
        END IF;
    END LOOP;
    RETURN dropped;
END
$$;
