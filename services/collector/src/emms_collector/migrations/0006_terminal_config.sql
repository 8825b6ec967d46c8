-- Terminal management (R-4.6.3) and automatic meter parameters (R-4.6.5).

-- Parameters per terminal and Fn: as the master wants them (desired) and as the terminal last reported
-- them (AFN0A read-back). state: in_sync | pending (a push not finished) | drift (read back different
-- from desired) | unknown (never read back).
CREATE TABLE IF NOT EXISTS {schema}.terminal_param (
    terminal     text        NOT NULL,
    fn           integer     NOT NULL CHECK (fn BETWEEN 1 AND 248),
    desired      jsonb,
    desired_at   timestamptz,
    desired_by   text,
    reported     jsonb,
    reported_at  timestamptz,
    state        text        NOT NULL DEFAULT 'unknown',
    drift_since  timestamptz,
    PRIMARY KEY (terminal, fn)
);
CREATE INDEX IF NOT EXISTS terminal_param_drift ON {schema}.terminal_param (state) WHERE state = 'drift';

-- One push: AFN04 set → AFN00 confirm → AFN0A read back → compared. state:
-- pending (to send; waiting_online: the terminal was offline, retried on its next login) | sending (claimed,
-- lease) | readback (confirmed, the read-back still to do) | done (read back equal) | mismatch (confirmed,
-- read back different) | denied (AFN00 deny) | failed (rejected, or no answer after max attempts).
CREATE TABLE IF NOT EXISTS {schema}.param_push (
    id              bigserial   PRIMARY KEY,
    terminal        text        NOT NULL,
    fn              integer     NOT NULL,
    value           jsonb       NOT NULL,
    kind            text        NOT NULL DEFAULT 'operator',
    state           text        NOT NULL DEFAULT 'pending',
    attempts        integer     NOT NULL DEFAULT 0,
    waiting_online  boolean     NOT NULL DEFAULT false,
    next_try_at     timestamptz NOT NULL DEFAULT now(),
    lease_until     timestamptz,
    claimed_by      text,
    requested_by    text        NOT NULL,
    requested_at    timestamptz NOT NULL DEFAULT now(),
    confirmed_at    timestamptz,
    finished_at     timestamptz,
    reported        jsonb,
    detail          text        NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS param_push_due ON {schema}.param_push (next_try_at)
    WHERE state IN ('pending', 'sending', 'readback');
CREATE INDEX IF NOT EXISTS param_push_terminal ON {schema}.param_push (terminal, requested_at DESC);

-- Terminals seen logging in. status: new (not in master data at its first login: its version and
-- configuration are read and shown for an operator to accept) | accepted | known (in master data).
CREATE TABLE IF NOT EXISTS {schema}.terminal_registry (
    terminal      text        PRIMARY KEY,
    status        text        NOT NULL,
    first_seen    timestamptz NOT NULL,
    last_seen     timestamptz NOT NULL,
    peer          text        NOT NULL DEFAULT '',
    read_state    text        NOT NULL DEFAULT 'due',
    read_at       timestamptz,
    read_detail   text        NOT NULL DEFAULT '',
    version       jsonb,
    config        jsonb,
    accepted_by   text,
    accepted_at   timestamptz
);

-- Meters a concentrator's measurement-point table (AFN0A F10) holds that master data lacks, for an
-- operator to adopt (state: listed | adopted | gone).
CREATE TABLE IF NOT EXISTS {schema}.unknown_meter (
    terminal       text        NOT NULL,
    pn             integer     NOT NULL,
    serial         integer     NOT NULL,
    port           integer     NOT NULL,
    protocol_code  integer     NOT NULL,
    meter_address  text        NOT NULL,
    state          text        NOT NULL DEFAULT 'listed',
    found_at       timestamptz NOT NULL DEFAULT now(),
    seen_at        timestamptz NOT NULL DEFAULT now(),
    adopted_by     text,
    adopted_at     timestamptz,
    meter_id       text,
    PRIMARY KEY (terminal, pn)
);

-- Operator actions on terminals (parameter sets, reads, resets, accepting a new terminal, adopting a
-- meter): who, what, when, the outcome — append only.
CREATE TABLE IF NOT EXISTS {schema}.terminal_action (
    id           bigserial   PRIMARY KEY,
    at           timestamptz NOT NULL DEFAULT now(),
    actor        text        NOT NULL,
    terminal     text        NOT NULL,
    action       text        NOT NULL,
    detail       jsonb       NOT NULL DEFAULT '{}',
    outcome      text        NOT NULL DEFAULT '',
    finished_at  timestamptz
);
CREATE INDEX IF NOT EXISTS terminal_action_terminal ON {schema}.terminal_action (terminal, at DESC);
