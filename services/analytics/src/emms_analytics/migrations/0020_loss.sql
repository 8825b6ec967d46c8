-- Loss analysis (R-4.5.6): loss models (an input set and an output set of metering points with signs and
-- multipliers), their versions, thresholds per model class, daily results and the abnormal losses found.

-- A model: edited by hand (source 'manual') or generated from the network topology (source 'generated',
-- one per transformer / district-metered area / pressure zone / heat-exchange station node). Dimensions
-- (region, line, voltage level, company, utility) are what loss summaries group by.
CREATE TABLE IF NOT EXISTS {schema}.loss_model (
    model_id        text        PRIMARY KEY,
    name            text        NOT NULL,
    utility         text        NOT NULL,
    model_class     text        NOT NULL,
    source          text        NOT NULL CHECK (source IN ('manual', 'generated')),
    node_id         text,
    item            text        NOT NULL,
    region_id       text,
    company_id      text,
    line_id         text,
    voltage_level   text,
    current_version integer     NOT NULL DEFAULT 1,
    active          boolean     NOT NULL DEFAULT true,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX IF NOT EXISTS loss_model_node ON {schema}.loss_model (node_id) WHERE source = 'generated';

-- Every version of a model's member sets; a version is in force from valid_from until the next one
-- (the first one also for the days before it: the topology before it is not known).
CREATE TABLE IF NOT EXISTS {schema}.loss_model_version (
    model_id    text        NOT NULL REFERENCES {schema}.loss_model (model_id) ON DELETE CASCADE,
    version     integer     NOT NULL,
    valid_from  timestamptz NOT NULL DEFAULT now(),
    reason      text        NOT NULL,
    actor       text        NOT NULL,
    fingerprint text        NOT NULL,
    PRIMARY KEY (model_id, version)
);

CREATE TABLE IF NOT EXISTS {schema}.loss_model_member (
    model_id          text             NOT NULL,
    version           integer          NOT NULL,
    metering_point_id text             NOT NULL,
    side              text             NOT NULL CHECK (side IN ('input', 'output')),
    sign              double precision NOT NULL DEFAULT 1 CHECK (sign IN (-1, 1)),
    multiplier        double precision NOT NULL DEFAULT 1 CHECK (multiplier > 0),
    PRIMARY KEY (model_id, version, metering_point_id),
    FOREIGN KEY (model_id, version) REFERENCES {schema}.loss_model_version (model_id, version) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS loss_model_member_point ON {schema}.loss_model_member (metering_point_id);

-- Thresholds per model class (a class without a row uses the service's defaults).
CREATE TABLE IF NOT EXISTS {schema}.loss_threshold (
    model_class text             PRIMARY KEY,
    max_rate    double precision NOT NULL,
    min_rate    double precision NOT NULL DEFAULT 0,
    max_change  double precision NOT NULL,
    updated_at  timestamptz      NOT NULL DEFAULT now()
);

-- The daily run's results (one row per model and local day; a rerun overwrites it).
CREATE TABLE IF NOT EXISTS {schema}.loss_daily (
    model_id   text             NOT NULL,
    day        date             NOT NULL,
    version    integer          NOT NULL,
    input      double precision,
    output     double precision,
    loss       double precision,
    rate       double precision,
    complete   boolean          NOT NULL,
    reason     text,
    flags      text[]           NOT NULL DEFAULT '{}',
    computed_at timestamptz     NOT NULL DEFAULT now(),
    PRIMARY KEY (model_id, day)
);
CREATE INDEX IF NOT EXISTS loss_daily_day ON {schema}.loss_daily (day);

-- Abnormal losses (negative, above the class's threshold, sudden change) with the members ranked by how
-- much each one's pattern explains the loss; one row per model, day and kind (a rerun replaces it).
CREATE TABLE IF NOT EXISTS {schema}.loss_anomaly (
    model_id  text             NOT NULL,
    day       date             NOT NULL,
    kind      text             NOT NULL CHECK (kind IN ('negative', 'above_threshold', 'sudden_change')),
    rate      double precision,
    detail    text             NOT NULL,
    ranked    jsonb            NOT NULL DEFAULT '[]',
    raised_at timestamptz      NOT NULL DEFAULT now(),
    PRIMARY KEY (model_id, day, kind)
);

-- When the topology last changed (a master-data change of nodes, points, installations or customers: the
-- service's clock, and the newest change time the changes carried — a new version is in force from it) and
-- when the generated models were last brought up to date.
CREATE TABLE IF NOT EXISTS {schema}.loss_topology (
    only_row     boolean     PRIMARY KEY DEFAULT true CHECK (only_row),
    changed_at   timestamptz,
    as_of        timestamptz,
    generated_at timestamptz
);
INSERT INTO {schema}.loss_topology (changed_at) VALUES (now()) ON CONFLICT DO NOTHING;
