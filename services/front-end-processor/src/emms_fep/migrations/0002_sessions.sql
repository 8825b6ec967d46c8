-- Who is online where: one row per terminal, written by the replica holding (or last holding) it.
CREATE TABLE IF NOT EXISTS {schema}.sessions (
    terminal          text             PRIMARY KEY,
    state             text             NOT NULL CHECK (state IN ('online', 'offline')),
    fep_instance      text             NOT NULL,
    connection_id     text             NOT NULL,
    port              text             NOT NULL,
    peer              text             NOT NULL,
    since             timestamptz      NOT NULL,
    last_seen         timestamptz      NOT NULL,
    reason            text             NOT NULL DEFAULT '',
    terminal_clock    timestamptz,
    clock_deviation_s double precision,
    updated_at        timestamptz      NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS sessions_state_replica ON {schema}.sessions (state, fep_instance);

-- The live FEP replicas: each refreshes its row; a row older than the dead-after time is a dead replica.
CREATE TABLE IF NOT EXISTS {schema}.replicas (
    replica     text        PRIMARY KEY,
    started_at  timestamptz NOT NULL,
    last_seen   timestamptz NOT NULL,
    sessions    integer     NOT NULL DEFAULT 0,
    connections integer     NOT NULL DEFAULT 0
);
