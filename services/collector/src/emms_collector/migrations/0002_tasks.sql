-- Collection tasks, templates by meter type, and the runs the scheduler creates (R-4.2.1, R-4.2.3a, R-4.6.5).

CREATE TABLE IF NOT EXISTS {schema}.task (
    id             text        PRIMARY KEY,
    name           text        NOT NULL,
    task_type      text        NOT NULL,
    target         jsonb       NOT NULL,
    items          text[]      NOT NULL DEFAULT '{}',
    valid_from     timestamptz,
    valid_to       timestamptz,
    period         jsonb       NOT NULL,
    priority       smallint    NOT NULL DEFAULT 5 CHECK (priority BETWEEN 0 AND 9),
    retries        smallint    NOT NULL DEFAULT 2 CHECK (retries BETWEEN 0 AND 10),
    retry_delay_s  real        NOT NULL DEFAULT 30,
    backfill_days  integer     NOT NULL DEFAULT 7,
    enabled        boolean     NOT NULL DEFAULT true,
    auto           boolean     NOT NULL DEFAULT false,
    template_id    text,
    -- the scheduler's cursor: every slot up to here has its run row (or was recorded missed)
    planned_until  timestamptz,
    version        integer     NOT NULL DEFAULT 1,
    created_by     text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    deleted_at     timestamptz
);
CREATE INDEX IF NOT EXISTS task_live ON {schema}.task (enabled) WHERE deleted_at IS NULL;
CREATE UNIQUE INDEX IF NOT EXISTS task_template_once ON {schema}.task (template_id)
    WHERE auto AND deleted_at IS NULL;

-- Explicit members of a task (kept from master-data changes for tasks made from templates).
CREATE TABLE IF NOT EXISTS {schema}.task_member (
    task_id   text        NOT NULL REFERENCES {schema}.task (id) ON DELETE CASCADE,
    meter_id  text        NOT NULL,
    added_at  timestamptz NOT NULL DEFAULT now(),
    reason    text        NOT NULL DEFAULT '',
    PRIMARY KEY (task_id, meter_id)
);
CREATE INDEX IF NOT EXISTS task_member_meter ON {schema}.task_member (meter_id);

-- Task templates by meter type: a new or replaced meter of that type joins the template's task.
CREATE TABLE IF NOT EXISTS {schema}.template (
    id          text        PRIMARY KEY,
    name        text        NOT NULL,
    utility     text        NOT NULL,
    protocol    text,
    spec        jsonb       NOT NULL,
    enabled     boolean     NOT NULL DEFAULT true,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- One row per (task, slot, kind): the unique key is what keeps several replicas and restarts
-- from running a slot twice. A running row is leased; a lapsed lease lets another replica resume it.
CREATE TABLE IF NOT EXISTS {schema}.task_run (
    id            bigserial   PRIMARY KEY,
    task_id       text        NOT NULL REFERENCES {schema}.task (id) ON DELETE CASCADE,
    due_at        timestamptz NOT NULL,
    kind          text        NOT NULL DEFAULT 'scheduled',
    data_time     timestamptz,
    status        text        NOT NULL DEFAULT 'pending',
    priority      smallint    NOT NULL DEFAULT 5,
    claimed_by    text,
    lease_until   timestamptz,
    claims        integer     NOT NULL DEFAULT 0,
    started_at    timestamptz,
    finished_at   timestamptz,
    expected      integer     NOT NULL DEFAULT 0,
    ok_first      integer     NOT NULL DEFAULT 0,
    ok_retry      integer     NOT NULL DEFAULT 0,
    ok_final      integer     NOT NULL DEFAULT 0,
    meters        integer     NOT NULL DEFAULT 0,
    requests      integer     NOT NULL DEFAULT 0,
    detail        text        NOT NULL DEFAULT '',
    gaps_opened   boolean     NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT task_run_status CHECK (status IN ('pending', 'running', 'done', 'failed', 'missed', 'cancelled')),
    CONSTRAINT task_run_once UNIQUE (task_id, due_at, kind)
);
CREATE INDEX IF NOT EXISTS task_run_ready ON {schema}.task_run (priority, due_at)
    WHERE status IN ('pending', 'running');
CREATE INDEX IF NOT EXISTS task_run_task ON {schema}.task_run (task_id, due_at DESC);

-- Per run, per meter: the items expected and those collected, first-try outcome, failure reason.
CREATE TABLE IF NOT EXISTS {schema}.run_meter (
    run_id      bigint      NOT NULL REFERENCES {schema}.task_run (id) ON DELETE CASCADE,
    meter_id    text        NOT NULL,
    terminal    text        NOT NULL,
    items       text[]      NOT NULL,
    collected   text[]      NOT NULL DEFAULT '{}',
    first_ok    boolean,
    first_count smallint    NOT NULL DEFAULT 0,
    run_count   smallint    NOT NULL DEFAULT 0,
    attempts    smallint    NOT NULL DEFAULT 0,
    state       text        NOT NULL DEFAULT 'pending',
    reason      text        NOT NULL DEFAULT '',
    via         text        NOT NULL DEFAULT '',
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (run_id, meter_id),
    CONSTRAINT run_meter_state CHECK (state IN ('pending', 'ok', 'partial', 'failed'))
);
CREATE INDEX IF NOT EXISTS run_meter_open ON {schema}.run_meter (run_id) WHERE state IN ('pending', 'partial');
