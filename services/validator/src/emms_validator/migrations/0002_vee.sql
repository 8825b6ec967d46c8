-- VEE state, findings, held readings, gaps, the audit of published versions, configuration.

-- Master data VEE needs per meter (from emms.masterdata.change.v1) and the meter's event state.
CREATE TABLE IF NOT EXISTS {schema}.meters (
    meter_id          text PRIMARY KEY,
    utility           text NOT NULL DEFAULT '',
    meter_type        text NOT NULL DEFAULT '',
    customer_id       text NOT NULL DEFAULT '',
    customer_category text NOT NULL DEFAULT '',
    register_modulus  double precision,
    multiplier        double precision NOT NULL DEFAULT 1,
    active            boolean NOT NULL DEFAULT true,
    state             jsonb NOT NULL DEFAULT '{}'::jsonb,
    updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS meters_customer ON {schema}.meters (customer_id);

-- Last-known state per meter item: the baseline in columns; interval, runs, recent values and the history
-- profile packed into one array of doubles (emms_validator.state.SeriesState.pack).
CREATE TABLE IF NOT EXISTS {schema}.series_state (
    meter_id   text NOT NULL,
    item       text NOT NULL,
    last_time  timestamptz,
    last_value double precision,
    packed     bytea NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (meter_id, item)
);

-- Every finding of every rule (R-4.5.4.1) and its handling workflow.
CREATE TABLE IF NOT EXISTS {schema}.anomalies (
    anomaly_id    text PRIMARY KEY,
    meter_id      text NOT NULL,
    item          text NOT NULL,
    rule          text NOT NULL,
    data_time     timestamptz NOT NULL,
    severity      text NOT NULL,
    action        text NOT NULL,
    detail        jsonb NOT NULL DEFAULT '{}'::jsonb,
    detected_at   timestamptz NOT NULL,
    status        text NOT NULL DEFAULT 'new' CHECK (status IN ('new', 'acknowledged', 'resolved', 'dismissed')),
    status_by     text,
    status_at     timestamptz,
    note          text NOT NULL DEFAULT '',
    handed_off_at timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS anomalies_meter ON {schema}.anomalies (meter_id, data_time DESC);
CREATE INDEX IF NOT EXISTS anomalies_rule ON {schema}.anomalies (rule, detected_at DESC);
CREATE INDEX IF NOT EXISTS anomalies_status ON {schema}.anomalies (status, severity, detected_at DESC);
CREATE INDEX IF NOT EXISTS anomalies_handoff ON {schema}.anomalies (created_at) WHERE handed_off_at IS NULL;

CREATE TABLE IF NOT EXISTS {schema}.anomaly_transitions (
    id          bigserial PRIMARY KEY,
    anomaly_id  text NOT NULL REFERENCES {schema}.anomalies (anomaly_id),
    from_status text NOT NULL,
    to_status   text NOT NULL,
    actor       text NOT NULL,
    note        text NOT NULL DEFAULT '',
    at          timestamptz NOT NULL DEFAULT now(),
    handed_off_at timestamptz
);
CREATE INDEX IF NOT EXISTS anomaly_transitions_of ON {schema}.anomaly_transitions (anomaly_id, id);

-- Readings held back from publication (R-4.3.1): awaiting back-fill, repaired, unrepaired, edited.
CREATE TABLE IF NOT EXISTS {schema}.held (
    meter_id     text NOT NULL,
    item         text NOT NULL,
    data_time    timestamptz NOT NULL,
    unit         text NOT NULL DEFAULT '',
    raw_value    double precision,
    raw_source   text NOT NULL,
    prev_time    timestamptz,
    prev_value   double precision,
    rules        text[] NOT NULL,
    status       text NOT NULL CHECK (status IN ('awaiting_backfill', 'repaired', 'unrepaired', 'edited')),
    held_at      timestamptz NOT NULL,
    deadline     timestamptz NOT NULL,
    repair_value double precision,
    repair_source text,
    resolved_at  timestamptz,
    resolved_by  text,
    PRIMARY KEY (meter_id, item, data_time)
);
CREATE INDEX IF NOT EXISTS held_open ON {schema}.held (status, deadline) WHERE status IN ('awaiting_backfill', 'unrepaired');

-- Gaps found between received points, their back-fill and estimation.
CREATE TABLE IF NOT EXISTS {schema}.gaps (
    meter_id   text NOT NULL,
    item       text NOT NULL,
    prev_time  timestamptz NOT NULL,
    next_time  timestamptz NOT NULL,
    prev_value double precision,
    next_value double precision,
    interval_s double precision NOT NULL,
    missing    integer NOT NULL,
    filled     integer NOT NULL DEFAULT 0,
    estimated  text NOT NULL DEFAULT '',
    status     text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'filled', 'expired')),
    found_at   timestamptz NOT NULL,
    deadline   timestamptz NOT NULL,
    PRIMARY KEY (meter_id, item, prev_time)
);
CREATE INDEX IF NOT EXISTS gaps_open ON {schema}.gaps (meter_id, item, next_time) WHERE status = 'open';

-- Every published value other than "valid as collected": held, estimated, repaired, edited (the audit trail).
CREATE TABLE IF NOT EXISTS {schema}.versions (
    message_id uuid PRIMARY KEY,
    meter_id   text NOT NULL,
    item       text NOT NULL,
    data_time  timestamptz NOT NULL,
    status     text NOT NULL,
    value      double precision,
    method     text NOT NULL DEFAULT '',
    raw_value  double precision,
    raw_source text,
    rules      text[] NOT NULL DEFAULT '{}',
    actor      text NOT NULL,
    reason     text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS versions_point ON {schema}.versions (meter_id, item, data_time, created_at);

-- Rule configuration per scope (global, utility, meter_type, customer_category, meter) and its audit.
CREATE TABLE IF NOT EXISTS {schema}.rule_overrides (
    scope       text NOT NULL,
    scope_value text NOT NULL,
    rule        text NOT NULL,
    override    jsonb NOT NULL,
    updated_by  text NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (scope, scope_value, rule)
);
CREATE TABLE IF NOT EXISTS {schema}.rule_override_log (
    id          bigserial PRIMARY KEY,
    scope       text NOT NULL,
    scope_value text NOT NULL,
    rule        text NOT NULL,
    override    jsonb,
    actor       text NOT NULL,
    at          timestamptz NOT NULL DEFAULT now()
);

-- Key customers (R-4.5.4.2): marked by hand or by rule; their anomalies are always important.
CREATE TABLE IF NOT EXISTS {schema}.key_customers (
    customer_id text PRIMARY KEY,
    source      text NOT NULL CHECK (source IN ('manual', 'rule')),
    reason      text NOT NULL DEFAULT '',
    marked_by   text NOT NULL,
    marked_at   timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS {schema}.key_customer_rules (
    rule_id               text PRIMARY KEY,
    customer_category     text,
    utility               text,
    min_daily_consumption double precision,
    created_by            text NOT NULL,
    created_at            timestamptz NOT NULL DEFAULT now(),
    CHECK (customer_category IS NOT NULL OR min_daily_consumption IS NOT NULL)
);
