-- Remote control (issue 15, items 5, 7, 8): device topology from master data, protected customers,
-- groups, command jobs with one row per device, the downlink requests they sent, and the immutable
-- command / parameter log (the database refuses UPDATE, DELETE and TRUNCATE on it).

-- ---- topology (from emms.masterdata.change.v1) -------------------------------------------------
CREATE TABLE {schema}.devices (
    meter_id      text PRIMARY KEY,
    terminal      text,                                  -- AAAA-TTTTT
    pn            integer,
    port          integer,
    protocol      text NOT NULL DEFAULT '',              -- dlt645-2007 / cjt188-2004 / …
    meter_address text NOT NULL DEFAULT '',
    utility       text NOT NULL DEFAULT '',
    customer_id   text,
    company_id    text,
    category      text,
    protection    text,                                  -- a protected class from master data (key, medical…)
    active        boolean NOT NULL DEFAULT true,
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX devices_terminal ON {schema}.devices (terminal);
CREATE INDEX devices_customer ON {schema}.devices (customer_id);

CREATE TABLE {schema}.customers (
    customer_id text PRIMARY KEY,
    company_id  text,
    region_id   text,
    category    text,
    protection  text,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE {schema}.regions (
    region_id  text PRIMARY KEY,
    parent_id  text,
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX regions_parent ON {schema}.regions (parent_id);

CREATE OR REPLACE FUNCTION {schema}.region_subtree(roots text[]) RETURNS SETOF text
LANGUAGE sql STABLE AS $$
    WITH RECURSIVE t(id) AS (
        SELECT unnest(roots)
        UNION
        SELECT r.region_id FROM {schema}.regions r JOIN t ON r.parent_id = t.id
    )
    SELECT id FROM t
$$;

-- A device's owner: its customer's company and region; the meter's own company without a customer.
CREATE OR REPLACE VIEW {schema}.device_owner AS
SELECT d.meter_id, d.customer_id, COALESCE(c.company_id, d.company_id) AS company_id, c.region_id
FROM {schema}.devices d
LEFT JOIN {schema}.customers c ON c.customer_id = d.customer_id;

-- Protection marked through control's API (per customer or meter), beside master data's mark.
CREATE TABLE {schema}.protected (
    kind       text NOT NULL CHECK (kind IN ('customer', 'meter')),
    id         text NOT NULL,
    class      text NOT NULL,
    reason     text NOT NULL,
    marked_by  text NOT NULL,
    marked_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (kind, id)
);

-- ---- groups ---------------------------------------------------------------------------------------
CREATE TABLE {schema}.groups (
    group_id    text PRIMARY KEY,
    name        text NOT NULL,
    description text NOT NULL DEFAULT '',
    created_by  text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE {schema}.group_members (
    group_id text NOT NULL REFERENCES {schema}.groups (group_id) ON DELETE CASCADE,
    meter_id text NOT NULL,
    PRIMARY KEY (group_id, meter_id)
);

-- ---- jobs -----------------------------------------------------------------------------------------
CREATE TABLE {schema}.jobs (
    job_id              uuid PRIMARY KEY,
    action              text NOT NULL,
    origin              text NOT NULL,
    reason              text NOT NULL,
    requested_by        text NOT NULL,
    params              jsonb NOT NULL DEFAULT '{}',
    target              jsonb NOT NULL DEFAULT '{}',
    override_protection boolean NOT NULL DEFAULT false,
    override_reason     text,
    state               text NOT NULL CHECK (state IN ('awaiting_confirmation', 'scheduled', 'running', 'done',
                                                         'cancelled', 'expired')),
    not_before          timestamptz,
    confirm_by          timestamptz,
    confirmed_by        text,
    confirmed_at        timestamptz,
    cancelled_by        text,
    total               integer NOT NULL,
    created_at          timestamptz NOT NULL DEFAULT now(),
    started_at          timestamptz,
    finished_at         timestamptz
);
CREATE INDEX jobs_open ON {schema}.jobs (state) WHERE state IN ('awaiting_confirmation', 'scheduled', 'running');
CREATE INDEX jobs_operator ON {schema}.jobs (requested_by, created_at);
CREATE INDEX jobs_created ON {schema}.jobs (created_at);

-- One row per device of a job. step: command → verify; state: pending (not sent / to resend),
-- sent (a request is out), then final: verified, confirmed (no read-back exists), failed, cancelled.
CREATE TABLE {schema}.job_devices (
    job_id         uuid NOT NULL REFERENCES {schema}.jobs (job_id),
    meter_id       text NOT NULL,                        -- the meter; '' for a terminal-wide command
    terminal       text NOT NULL,
    seq            integer NOT NULL,
    step           text NOT NULL DEFAULT 'command' CHECK (step IN ('command', 'verify')),
    state          text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'verified', 'confirmed',
                                                                     'failed', 'cancelled')),
    attempts       integer NOT NULL DEFAULT 0,
    request_id     text,
    due_at         timestamptz,                          -- a sent request with no result by then is resent
    retry_reason   text,
    sent_at        timestamptz,
    confirmed_at   timestamptz,
    finished_at    timestamptz,
    outcome        text,
    reason         text,
    verified_state text,
    PRIMARY KEY (job_id, meter_id, terminal)
);
CREATE INDEX job_devices_pending ON {schema}.job_devices (job_id, seq) WHERE state = 'pending';
CREATE INDEX job_devices_sent ON {schema}.job_devices (terminal) WHERE state = 'sent';
CREATE INDEX job_devices_due ON {schema}.job_devices (due_at) WHERE state = 'sent';

-- Every downlink request control sent, for correlating results (late ones too) by request id.
CREATE TABLE {schema}.requests (
    request_id  text PRIMARY KEY,
    job_id      uuid NOT NULL,
    meter_id    text NOT NULL,
    terminal    text NOT NULL,
    step        text NOT NULL,
    attempt     integer NOT NULL,
    sent_at     timestamptz NOT NULL DEFAULT now(),
    outcome     text,
    detail      text,
    answered_at timestamptz
);
CREATE INDEX requests_job ON {schema}.requests (job_id, meter_id);

-- ---- the immutable command / parameter log (R-4.6.7, control's part of the duty log) ---------------
CREATE TABLE {schema}.command_log (
    log_id         bigserial PRIMARY KEY,
    at             timestamptz NOT NULL DEFAULT now(),
    kind           text NOT NULL CHECK (kind IN ('command', 'parameter')),
    event          text NOT NULL,                        -- submitted, confirmed_by, sent, result, retry, final…
    job_id         uuid,
    meter_id       text,
    terminal       text,
    operator       text NOT NULL,
    origin         text NOT NULL,
    action         text NOT NULL,
    request_id     text,
    outcome        text,
    verified_state text,
    detail         jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX command_log_at ON {schema}.command_log (at);
CREATE INDEX command_log_meter ON {schema}.command_log (meter_id, at);
CREATE INDEX command_log_job ON {schema}.command_log (job_id, log_id);
CREATE INDEX command_log_operator ON {schema}.command_log (operator, at);

CREATE TRIGGER command_log_insert_only BEFORE UPDATE OR DELETE ON {schema}.command_log
    FOR EACH ROW EXECUTE FUNCTION {schema}.refuse_change();
CREATE TRIGGER command_log_no_truncate BEFORE TRUNCATE ON {schema}.command_log
    FOR EACH STATEMENT EXECUTE FUNCTION {schema}.refuse_change();
