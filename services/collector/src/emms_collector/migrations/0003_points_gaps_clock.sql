-- The local measurement-point table and master-data mirrors, the gap index, clock records, manual jobs.

-- Which meter sits behind which terminal and pn: maintained from MasterDataChange events
-- (and the simulator's manifest for tests and `make up`), never fetched per reading.
CREATE TABLE IF NOT EXISTS {schema}.point (
    meter_id           text        PRIMARY KEY,
    terminal           text        NOT NULL,
    pn                 integer     NOT NULL CHECK (pn BETWEEN 0 AND 2040),
    utility            text        NOT NULL,
    protocol           text        NOT NULL DEFAULT '',
    meter_address      text        NOT NULL DEFAULT '',
    port               integer,
    metering_point_id  text,
    customer_id        text,
    region_id          text,
    category           text,
    valid_from         timestamptz,
    valid_to           timestamptz,
    active             boolean     NOT NULL DEFAULT true,
    source             text        NOT NULL DEFAULT 'masterdata',
    updated_at         timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX IF NOT EXISTS point_terminal_pn ON {schema}.point (terminal, pn) WHERE active;
CREATE INDEX IF NOT EXISTS point_region ON {schema}.point (region_id) WHERE active;

CREATE TABLE IF NOT EXISTS {schema}.md_customer (
    id         text PRIMARY KEY,
    region_id  text,
    category   text,
    utility    text,
    company_id text
);

CREATE TABLE IF NOT EXISTS {schema}.md_terminal (
    id         text PRIMARY KEY,
    address    text,
    terminal   text,
    region_id  text,
    status     text
);

CREATE TABLE IF NOT EXISTS {schema}.md_group_member (
    group_id     text NOT NULL,
    member_kind  text NOT NULL,
    member_id    text NOT NULL,
    PRIMARY KEY (group_id, member_kind, member_id)
);

-- Gaps: a (meter, item, data time) a run expected and did not get. Filled by back-fill,
-- by a later active report or manual read; abandoned after too many attempts (still listed).
CREATE TABLE IF NOT EXISTS {schema}.gap (
    meter_id         text        NOT NULL,
    item             text        NOT NULL,
    data_time        timestamptz NOT NULL,
    task_type        text        NOT NULL,
    task_id          text,
    run_id           bigint,
    terminal         text        NOT NULL,
    found_at         timestamptz NOT NULL DEFAULT now(),
    attempts         integer     NOT NULL DEFAULT 0,
    last_attempt_at  timestamptz,
    state            text        NOT NULL DEFAULT 'open',
    filled_at        timestamptz,
    filled_by        text,
    reason           text        NOT NULL DEFAULT '',
    origin           text        NOT NULL DEFAULT 'run',
    PRIMARY KEY (meter_id, item, data_time),
    CONSTRAINT gap_state CHECK (state IN ('open', 'filled', 'abandoned'))
);
CREATE INDEX IF NOT EXISTS gap_open ON {schema}.gap (data_time) WHERE state = 'open';
CREATE INDEX IF NOT EXISTS gap_run ON {schema}.gap (run_id);

-- Terminal clocks: the latest deviation per terminal, and every sync with its result (R-4.6.1).
CREATE TABLE IF NOT EXISTS {schema}.terminal_clock (
    terminal       text        PRIMARY KEY,
    deviation_s    double precision,
    observed_at    timestamptz,
    source         text        NOT NULL DEFAULT '',
    online         boolean     NOT NULL DEFAULT true,
    last_sync_at   timestamptz,
    last_result    text        NOT NULL DEFAULT '',
    syncs          integer     NOT NULL DEFAULT 0
);

CREATE TABLE IF NOT EXISTS {schema}.clock_sync (
    id                 bigserial   PRIMARY KEY,
    terminal           text        NOT NULL,
    meter_id           text,
    level              text        NOT NULL DEFAULT 'terminal',
    requested_at       timestamptz NOT NULL DEFAULT now(),
    deviation_before_s double precision,
    round_trip_ms      double precision,
    set_to             timestamptz,
    outcome            text        NOT NULL DEFAULT 'pending',
    deviation_after_s  double precision,
    approved_by        text,
    detail             text        NOT NULL DEFAULT '',
    finished_at        timestamptz
);
CREATE INDEX IF NOT EXISTS clock_sync_terminal ON {schema}.clock_sync (terminal, requested_at DESC);

-- Manual reads (召测) kept as jobs a client can poll.
CREATE TABLE IF NOT EXISTS {schema}.manual_job (
    id            text        PRIMARY KEY,
    requested_by  text        NOT NULL,
    reason        text        NOT NULL DEFAULT '',
    request       jsonb       NOT NULL,
    status        text        NOT NULL DEFAULT 'running',
    results       jsonb       NOT NULL DEFAULT '[]',
    created_at    timestamptz NOT NULL DEFAULT now(),
    finished_at   timestamptz
);
CREATE INDEX IF NOT EXISTS manual_job_created ON {schema}.manual_job (created_at);

-- Event pointers per terminal: the next record to read of the important (F1) and normal (F2) queues.
CREATE TABLE IF NOT EXISTS {schema}.terminal_events (
    terminal       text        PRIMARY KEY,
    next_important smallint    NOT NULL DEFAULT 0,
    next_normal    smallint    NOT NULL DEFAULT 0,
    ec_important   smallint,
    ec_normal      smallint,
    read_at        timestamptz
);
