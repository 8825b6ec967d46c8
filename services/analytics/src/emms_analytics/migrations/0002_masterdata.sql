-- The analytics service's copy of the master data it groups by, kept from emms.masterdata.change.v1
-- (the archive's after images; a partial update changes only the columns it carries).
CREATE TABLE IF NOT EXISTS {schema}.company (
    company_id text PRIMARY KEY,
    name       text
);

CREATE TABLE IF NOT EXISTS {schema}.region (
    region_id text PRIMARY KEY,
    name      text,
    parent_id text
);
CREATE INDEX IF NOT EXISTS region_parent ON {schema}.region (parent_id);

CREATE TABLE IF NOT EXISTS {schema}.customer (
    customer_id text PRIMARY KEY,
    name        text,
    party_id    text,
    utility     text,
    category    text,
    industry    text,
    company_id  text,
    region_id   text,
    active      boolean NOT NULL DEFAULT true
);
CREATE INDEX IF NOT EXISTS customer_region ON {schema}.customer (region_id);
CREATE INDEX IF NOT EXISTS customer_company ON {schema}.customer (company_id);
CREATE INDEX IF NOT EXISTS customer_party ON {schema}.customer (party_id);

CREATE TABLE IF NOT EXISTS {schema}.network_node (
    node_id    text PRIMARY KEY,
    name       text,
    kind       text,
    utility    text,
    parent_id  text,
    company_id text,
    region_id  text
);
CREATE INDEX IF NOT EXISTS network_node_parent ON {schema}.network_node (parent_id);

CREATE TABLE IF NOT EXISTS {schema}.metering_point (
    metering_point_id text PRIMARY KEY,
    customer_id       text,
    utility           text,
    node_id           text
);
CREATE INDEX IF NOT EXISTS metering_point_customer ON {schema}.metering_point (customer_id);
CREATE INDEX IF NOT EXISTS metering_point_node ON {schema}.metering_point (node_id);

CREATE TABLE IF NOT EXISTS {schema}.meter (
    meter_id        text PRIMARY KEY,
    utility         text,
    multiplier      double precision NOT NULL DEFAULT 1 CHECK (multiplier > 0),
    register_digits integer
);

-- Which meter measured a metering point when (meter_installation changes, keyed by the point).
CREATE TABLE IF NOT EXISTS {schema}.meter_period (
    metering_point_id text        NOT NULL,
    meter_id          text        NOT NULL,
    valid_from        timestamptz NOT NULL,
    valid_to          timestamptz,
    PRIMARY KEY (meter_id, valid_from)
);
CREATE INDEX IF NOT EXISTS meter_period_point ON {schema}.meter_period (metering_point_id);

CREATE TABLE IF NOT EXISTS {schema}.custom_group (
    group_id   text PRIMARY KEY,
    name       text,
    company_id text
);

CREATE TABLE IF NOT EXISTS {schema}.group_member (
    group_id    text NOT NULL,
    member_kind text NOT NULL,
    member_id   text NOT NULL,
    PRIMARY KEY (group_id, member_kind, member_id)
);

-- The given regions and every region below them.
CREATE OR REPLACE FUNCTION {schema}.region_subtree(roots text[]) RETURNS SETOF text
LANGUAGE sql STABLE AS $$
    WITH RECURSIVE t(id) AS (
        SELECT unnest(roots)
        UNION
        SELECT r.region_id FROM {schema}.region r JOIN t ON r.parent_id = t.id
    )
    SELECT id FROM t
$$;

-- The given network nodes and every node below them (a line and its transformers, a network and its pipes).
CREATE OR REPLACE FUNCTION {schema}.node_subtree(roots text[]) RETURNS SETOF text
LANGUAGE sql STABLE AS $$
    WITH RECURSIVE t(id) AS (
        SELECT unnest(roots)
        UNION
        SELECT n.node_id FROM {schema}.network_node n JOIN t ON n.parent_id = t.id
    )
    SELECT id FROM t
$$;

-- Every metering point with the owner and the attributes analyses group by (owner_scope reads
-- customer_id / company_id / region_id).
CREATE OR REPLACE VIEW {schema}.point_owner AS
SELECT mp.metering_point_id, mp.customer_id, c.party_id, c.company_id, c.region_id, c.category, c.industry,
       COALESCE(mp.utility, c.utility) AS utility, mp.node_id
FROM {schema}.metering_point mp
LEFT JOIN {schema}.customer c ON c.customer_id = mp.customer_id;
