-- Operations: terminals' and services' up/down history, faults, tickets, maintenance, the duty log.

CREATE TABLE IF NOT EXISTS {schema}.inbox (
    consumer text NOT NULL, message_id uuid NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, message_id));

-- Terminal master data (emms.masterdata.change.v1, entity terminal): what the fleet is and its make.
CREATE TABLE {schema}.terminals (
    terminal_id text PRIMARY KEY,            -- the archive's id
    terminal    text UNIQUE,                 -- the 1376.1 session key "AAAA-TTTTT" (NULL: address in no known form)
    kind        text,
    model       text,
    vendor      text,
    firmware    text,
    company_id  text,
    region_id   text,
    status      text NOT NULL DEFAULT 'active',
    updated_at  timestamptz NOT NULL DEFAULT now());

-- Meter → terminal (meter_installation), for locating a meter's faults.
CREATE TABLE {schema}.meters (
    meter_id    text PRIMARY KEY,
    terminal    text,
    active      boolean NOT NULL DEFAULT true,
    installed_at timestamptz NOT NULL DEFAULT now(),
    last_reading_at timestamptz);

-- Every session change a FEP published (emms.terminal.session.v1): the terminals' up/down history.
CREATE TABLE {schema}.session_events (
    terminal      text NOT NULL,
    at            timestamptz NOT NULL,
    online        boolean NOT NULL,
    connection_id text NOT NULL,
    reason        text NOT NULL DEFAULT '',
    PRIMARY KEY (terminal, at, online, connection_id));

-- The latest session state per terminal (the newest event wins; redeliveries and reordering change nothing).
CREATE TABLE {schema}.terminal_state (
    terminal   text PRIMARY KEY,
    online     boolean NOT NULL,
    since      timestamptz NOT NULL,
    connection_id text NOT NULL,
    first_seen timestamptz NOT NULL);

-- Downlink outcomes per terminal and day (emms.downlink.result.v1): communication success rates.
CREATE TABLE {schema}.terminal_requests_daily (
    terminal  text NOT NULL,
    day       date NOT NULL,
    requests  bigint NOT NULL DEFAULT 0,
    answered  bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (terminal, day));

-- The master's services polled (/readyz): the master's up/down history.
CREATE TABLE {schema}.service_health (
    service    text NOT NULL,
    checked_at timestamptz NOT NULL,
    up         boolean NOT NULL,
    detail     text NOT NULL DEFAULT '',
    PRIMARY KEY (service, checked_at));
CREATE INDEX service_health_at ON {schema}.service_health (checked_at);

-- Planned maintenance windows, excluded from availability (level master: subject a service or '*';
-- level terminal: subject a terminal or '*').
CREATE TABLE {schema}.planned_maintenance (
    id        bigserial PRIMARY KEY,
    level     text NOT NULL CHECK (level IN ('master', 'terminal')),
    subject   text NOT NULL,
    starts_at timestamptz NOT NULL,
    ends_at   timestamptz NOT NULL CHECK (ends_at > starts_at),
    reason    text NOT NULL,
    created_by text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now());

-- Faults, located: level master (subject: a service), channel (a FEP port), terminal, meter.
CREATE TABLE {schema}.faults (
    fault_id   bigserial PRIMARY KEY,
    kind       text NOT NULL,                -- terminal_offline, meter_silent, port_illegal_frames, service_unhealthy, meter_alarm
    level      text NOT NULL CHECK (level IN ('master', 'channel', 'terminal', 'meter')),
    subject    text NOT NULL,
    terminal   text,
    meter_id   text,
    severity   text NOT NULL CHECK (severity IN ('critical', 'major', 'minor')),
    summary    text NOT NULL,
    detail     jsonb NOT NULL DEFAULT '{}',
    source_key text,                         -- the message that opened it (an ERC's event), for idempotency
    detected_at timestamptz NOT NULL,
    cleared_at timestamptz);
CREATE UNIQUE INDEX faults_one_active ON {schema}.faults (kind, subject) WHERE cleared_at IS NULL;
CREATE UNIQUE INDEX faults_source ON {schema}.faults (source_key) WHERE source_key IS NOT NULL;
CREATE INDEX faults_detected ON {schema}.faults (detected_at);

CREATE TABLE {schema}.tickets (
    ticket_id   bigserial PRIMARY KEY,
    fault_id    bigint REFERENCES {schema}.faults (fault_id),
    title       text NOT NULL,
    level       text NOT NULL,
    subject     text NOT NULL,
    severity    text NOT NULL CHECK (severity IN ('critical', 'major', 'minor')),
    state       text NOT NULL DEFAULT 'open'
                CHECK (state IN ('open', 'assigned', 'in_progress', 'escalated', 'resolved', 'closed')),
    assignee    text,
    due_at      timestamptz NOT NULL,
    escalations integer NOT NULL DEFAULT 0,
    closing_reason text,
    created_by  text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    resolved_at timestamptz,
    closed_at   timestamptz);
CREATE UNIQUE INDEX tickets_one_per_fault ON {schema}.tickets (fault_id) WHERE fault_id IS NOT NULL;
CREATE INDEX tickets_state ON {schema}.tickets (state, due_at);

CREATE TABLE {schema}.ticket_history (
    id         bigserial PRIMARY KEY,
    ticket_id  bigint NOT NULL REFERENCES {schema}.tickets (ticket_id),
    at         timestamptz NOT NULL DEFAULT now(),
    from_state text,
    to_state   text NOT NULL,
    actor      text NOT NULL,
    note       text NOT NULL DEFAULT '');
CREATE INDEX ticket_history_ticket ON {schema}.ticket_history (ticket_id, id);

CREATE TABLE {schema}.maintenance (
    id           bigserial PRIMARY KEY,
    ticket_id    bigint REFERENCES {schema}.tickets (ticket_id),
    device_kind  text NOT NULL CHECK (device_kind IN ('master', 'channel', 'terminal', 'meter')),
    device_id    text NOT NULL,
    action       text NOT NULL,
    performed_by text NOT NULL,
    performed_at timestamptz NOT NULL,
    note         text NOT NULL DEFAULT '',
    recorded_by  text NOT NULL,
    recorded_at  timestamptz NOT NULL DEFAULT now());
CREATE INDEX maintenance_device ON {schema}.maintenance (device_kind, device_id, performed_at);

-- The duty log: append-only. No UPDATE / DELETE: the trigger refuses them for every role (the owner too).
CREATE TABLE {schema}.duty_log (
    id        bigserial PRIMARY KEY,
    entry_id  text NOT NULL UNIQUE,
    service   text NOT NULL,
    category  text NOT NULL,
    action    text NOT NULL,
    actor     text NOT NULL,
    at        timestamptz NOT NULL,
    outcome   text NOT NULL,
    target    text,
    terminal  text,
    meter_id  text,
    reason    text,
    detail    jsonb NOT NULL DEFAULT '{}',
    logged_at timestamptz NOT NULL DEFAULT now());
CREATE INDEX duty_log_at ON {schema}.duty_log (at, id);
CREATE INDEX duty_log_actor ON {schema}.duty_log (actor, at);
CREATE INDEX duty_log_target ON {schema}.duty_log (target, at);

CREATE FUNCTION {schema}.duty_log_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the duty log is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER duty_log_no_change BEFORE UPDATE OR DELETE ON {schema}.duty_log
    FOR EACH ROW EXECUTE FUNCTION {schema}.duty_log_immutable();
CREATE TRIGGER duty_log_no_truncate BEFORE TRUNCATE ON {schema}.duty_log
    FOR EACH STATEMENT EXECUTE FUNCTION {schema}.duty_log_immutable();
REVOKE UPDATE, DELETE, TRUNCATE ON {schema}.duty_log FROM PUBLIC;
