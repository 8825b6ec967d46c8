-- The terminal's online state in the key-customer answer (R-4.5.4.2): the concentrator each metering point
-- is read through (from the archive's meter installation: terminal_address), and the latest session
-- state of each terminal from the FEP (emms.terminal.session.v1; the newest last_seen wins).
ALTER TABLE {schema}.metering_point ADD COLUMN IF NOT EXISTS terminal text;

CREATE TABLE IF NOT EXISTS {schema}.terminal_session (
    terminal     text        PRIMARY KEY,
    state        text        NOT NULL,
    since        timestamptz NOT NULL,
    last_seen    timestamptz NOT NULL,
    fep_instance text        NOT NULL,
    reason       text        NOT NULL DEFAULT ''
);
