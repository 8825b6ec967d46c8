-- Validated readings the analyses need (the validator's output, latest version per key; the raw
-- layer is the archive's and stays untouched), and the usage between consecutive register values.

-- Cumulative registers (energy, volume, heat): the base of every usage figure. A held value is
-- kept with value NULL (it is no value until released).
CREATE TABLE IF NOT EXISTS {schema}.register_value (
    meter_id     text             NOT NULL,
    item         text             NOT NULL,
    data_time    timestamptz      NOT NULL,
    value        double precision,
    status       text             NOT NULL,
    validated_at timestamptz      NOT NULL,
    PRIMARY KEY (meter_id, item, data_time)
);

-- Instantaneous values (load curves: power, voltage, current, power factor; pressure; state).
CREATE TABLE IF NOT EXISTS {schema}.curve_value (
    meter_id     text             NOT NULL,
    item         text             NOT NULL,
    data_time    timestamptz      NOT NULL,
    value        double precision,
    status       text             NOT NULL,
    validated_at timestamptz      NOT NULL,
    PRIMARY KEY (meter_id, item, data_time)
);

-- The register increase of one meter between two consecutive values of an item, in register
-- units (× the meter's multiplier when answered). ``at`` is the interval's last microsecond
-- (its end minus 1 µs), so an interval ending exactly at a bucket boundary belongs to the bucket
-- it measured. A register roll-over is repaired (+ 10^digits); any other decrease is not usage
-- and has no row.
CREATE TABLE IF NOT EXISTS {schema}.usage_interval (
    meter_id  text             NOT NULL,
    item      text             NOT NULL,
    at        timestamptz      NOT NULL,
    starts_at timestamptz      NOT NULL,
    delta     double precision NOT NULL,
    estimated boolean          NOT NULL DEFAULT false,
    PRIMARY KEY (meter_id, item, at)
);

-- The rollups' calendar: the zone of every local bucket (fixed when the schema was made; the
-- service refuses to start with another local_tz).
CREATE TABLE IF NOT EXISTS {schema}.calendar (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    local_tz text    NOT NULL
);
INSERT INTO {schema}.calendar (local_tz) VALUES ('Asia/Shanghai') ON CONFLICT DO NOTHING;

-- Hand-chosen key customers (rule-chosen ones are computed on demand).
CREATE TABLE IF NOT EXISTS {schema}.key_customer (
    customer_id text        PRIMARY KEY,
    reason      text        NOT NULL DEFAULT '',
    marked_by   text        NOT NULL,
    marked_at   timestamptz NOT NULL DEFAULT now()
);

-- TimescaleDB: windows of interval usage that late or corrected data changed, refreshed in the
-- continuous aggregates by the service (emms_analytics.rollups); unused on plain PostgreSQL.
CREATE TABLE IF NOT EXISTS {schema}.refresh_window (
    id bigserial   PRIMARY KEY,
    lo timestamptz NOT NULL,
    hi timestamptz NOT NULL
);
