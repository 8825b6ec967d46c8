-- Master data (archives, R-4.6.4 / R-4.6.10 / R-4.2.4). Every entity is keyed by the
-- id the source system gives it (natural key), so imports and syncs are idempotent upserts.
-- Utility is one of electricity / water / gas / heat everywhere.
CREATE EXTENSION IF NOT EXISTS btree_gist;

CREATE TABLE {schema}.company (
    id          text PRIMARY KEY,
    name        text NOT NULL,
    utilities   text[] NOT NULL DEFAULT '{}',
    address     text,
    phone       text,
    status      text NOT NULL DEFAULT 'active',
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE {schema}.region (
    id          text PRIMARY KEY,
    name        text NOT NULL,
    parent_id   text REFERENCES {schema}.region (id),
    level       integer NOT NULL CHECK (level >= 1),
    code        text,
    status      text NOT NULL DEFAULT 'active',
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX region_parent ON {schema}.region (parent_id);

-- Which company serves which region for which utility (R-4.6.10).
CREATE TABLE {schema}.service_area (
    company_id  text NOT NULL REFERENCES {schema}.company (id),
    region_id   text NOT NULL REFERENCES {schema}.region (id),
    utility     text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (company_id, region_id, utility)
);

-- Network topology per utility: lines, transformers, pipe networks, stations, buildings, units, floors.
CREATE TABLE {schema}.network_node (
    id          text PRIMARY KEY,
    utility     text NOT NULL,
    kind        text NOT NULL,
    name        text NOT NULL,
    parent_id   text REFERENCES {schema}.network_node (id),
    company_id  text NOT NULL REFERENCES {schema}.company (id),
    region_id   text REFERENCES {schema}.region (id),
    status      text NOT NULL DEFAULT 'active',
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX network_node_parent ON {schema}.network_node (parent_id);

CREATE TABLE {schema}.terminal (
    id          text PRIMARY KEY,
    kind        text NOT NULL,
    address     text NOT NULL UNIQUE,
    protocol    text NOT NULL,
    parent_id   text REFERENCES {schema}.terminal (id),
    model       text,
    company_id  text NOT NULL REFERENCES {schema}.company (id),
    region_id   text REFERENCES {schema}.region (id),
    status      text NOT NULL DEFAULT 'active',
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE {schema}.customer (
    id          text PRIMARY KEY,
    name        text NOT NULL,
    party_id    text NOT NULL,
    utility     text NOT NULL,
    category    text NOT NULL,
    industry    text,
    company_id  text NOT NULL REFERENCES {schema}.company (id),
    region_id   text NOT NULL REFERENCES {schema}.region (id),
    address     text,
    status      text NOT NULL DEFAULT 'active',
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX customer_party ON {schema}.customer (party_id);
CREATE INDEX customer_region ON {schema}.customer (region_id);
CREATE INDEX customer_company ON {schema}.customer (company_id);

CREATE TABLE {schema}.metering_point (
    id          text PRIMARY KEY,
    customer_id text NOT NULL REFERENCES {schema}.customer (id),
    utility     text NOT NULL,
    name        text,
    node_id     text REFERENCES {schema}.network_node (id),
    terminal_id text REFERENCES {schema}.terminal (id),
    pn          integer CHECK (pn BETWEEN 0 AND 2040),
    port        integer CHECK (port BETWEEN 1 AND 31),
    baud_rate   integer,
    status      text NOT NULL DEFAULT 'active',
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (terminal_id, pn)
);
CREATE INDEX metering_point_customer ON {schema}.metering_point (customer_id);
CREATE INDEX metering_point_node ON {schema}.metering_point (node_id);

CREATE TABLE {schema}.meter (
    id              text PRIMARY KEY,
    utility         text NOT NULL,
    model           text,
    manufacturer    text,
    protocol        text NOT NULL,
    address         text NOT NULL,
    multiplier      double precision NOT NULL DEFAULT 1 CHECK (multiplier > 0),
    ct_ratio        double precision NOT NULL DEFAULT 1 CHECK (ct_ratio > 0),
    pt_ratio        double precision NOT NULL DEFAULT 1 CHECK (pt_ratio > 0),
    register_digits integer NOT NULL DEFAULT 8 CHECK (register_digits BETWEEN 1 AND 12),
    company_id      text NOT NULL REFERENCES {schema}.company (id),
    status          text NOT NULL DEFAULT 'active',
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX meter_address ON {schema}.meter (address);

-- Which meter measured a metering point when: a replacement closes one period and opens the next,
-- so readings before and after stay attributable. No overlaps per point and per meter.
CREATE TABLE {schema}.meter_period (
    id                bigserial PRIMARY KEY,
    metering_point_id text NOT NULL REFERENCES {schema}.metering_point (id),
    meter_id          text NOT NULL REFERENCES {schema}.meter (id),
    valid_from        timestamptz NOT NULL,
    valid_to          timestamptz,
    reason            text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    CHECK (valid_to IS NULL OR valid_to > valid_from),
    EXCLUDE USING gist (metering_point_id WITH =, tstzrange(valid_from, valid_to) WITH &&),
    EXCLUDE USING gist (meter_id WITH =, tstzrange(valid_from, valid_to) WITH &&)
);
CREATE INDEX meter_period_meter ON {schema}.meter_period (meter_id, valid_from);
CREATE INDEX meter_period_point ON {schema}.meter_period (metering_point_id, valid_from);

CREATE TABLE {schema}.custom_group (
    id          text PRIMARY KEY,
    name        text NOT NULL,
    description text,
    company_id  text REFERENCES {schema}.company (id),
    owner       text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE {schema}.group_member (
    group_id    text NOT NULL REFERENCES {schema}.custom_group (id),
    member_kind text NOT NULL CHECK (member_kind IN ('customer', 'metering_point', 'meter')),
    member_id   text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (group_id, member_kind, member_id)
);

-- A region and every region below it (scope checks and region queries).
CREATE FUNCTION {schema}.region_subtree(roots text[]) RETURNS SETOF text
LANGUAGE sql STABLE AS $$
    WITH RECURSIVE t(id) AS (
        SELECT id FROM {schema}.region WHERE id = ANY(roots)
        UNION
        SELECT r.id FROM {schema}.region r JOIN t ON r.parent_id = t.id
    )
    SELECT id FROM t
$$;
