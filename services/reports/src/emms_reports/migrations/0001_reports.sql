-- Report definitions with every version kept, schedules and the delivery history.
CREATE TABLE IF NOT EXISTS {schema}.definition (
    definition_id text        PRIMARY KEY,
    name          text        NOT NULL,
    latest        integer     NOT NULL,
    created_by    text        NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    deleted_at    timestamptz
);

CREATE TABLE IF NOT EXISTS {schema}.definition_version (
    definition_id text        NOT NULL REFERENCES {schema}.definition (definition_id),
    version       integer     NOT NULL,
    body          jsonb       NOT NULL,
    changed_by    text        NOT NULL,
    changed_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (definition_id, version)
);

CREATE TABLE IF NOT EXISTS {schema}.schedule (
    schedule_id   text        PRIMARY KEY,
    report        text        NOT NULL,          -- a dedicated report's name or a definition id
    format        text        NOT NULL,
    cadence       text        NOT NULL,          -- daily | monthly
    at_hour       integer     NOT NULL DEFAULT 1,
    target_kind   text        NOT NULL,          -- file | webhook
    target        text        NOT NULL,
    enabled       boolean     NOT NULL DEFAULT true,
    created_by    text        NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    run_for       timestamptz NOT NULL,          -- the due moment of the next run: its period ends there
    next_run_at   timestamptz NOT NULL           -- when to try it (later than run_for after a failure)
);

CREATE INDEX IF NOT EXISTS schedule_due ON {schema}.schedule (next_run_at) WHERE enabled;

-- One row per delivery attempt of a schedule's run; (schedule_id, period_start) is the run.
CREATE TABLE IF NOT EXISTS {schema}.delivery (
    delivery_id   bigserial   PRIMARY KEY,
    schedule_id   text        NOT NULL REFERENCES {schema}.schedule (schedule_id),
    period_start  timestamptz NOT NULL,
    period_end    timestamptz NOT NULL,
    started_at    timestamptz NOT NULL DEFAULT now(),
    finished_at   timestamptz,
    status        text        NOT NULL,          -- delivered | failed
    rows          bigint,
    bytes         bigint,
    location      text,
    error         text
);

CREATE INDEX IF NOT EXISTS delivery_by_schedule ON {schema}.delivery (schedule_id, started_at DESC);
