-- Who owns each terminal, for the company / region scope of the terminal routes (R-4.6.2), kept from
-- emms.masterdata.change.v1 (emms_fep.masterdata): the terminal's own company and region (terminal),
-- the metering points read through it with their customer's company and region (meter_installation,
-- metering_point, customer), and the region tree (region). ``terminal`` is the FEP's session key
-- (``AAAA-TTTTT``) of the archive's terminal address.
CREATE TABLE IF NOT EXISTS {schema}.terminals (
    terminal_id text PRIMARY KEY,
    terminal    text,
    company_id  text,
    region_id   text,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS terminals_key ON {schema}.terminals (terminal);

CREATE TABLE IF NOT EXISTS {schema}.terminal_points (
    metering_point_id text PRIMARY KEY,
    terminal_id       text NOT NULL,
    terminal          text,
    customer_id       text,
    company_id        text,
    region_id         text,
    updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS terminal_points_terminal ON {schema}.terminal_points (terminal_id);
CREATE INDEX IF NOT EXISTS terminal_points_customer ON {schema}.terminal_points (customer_id);

CREATE TABLE IF NOT EXISTS {schema}.regions (
    region_id  text PRIMARY KEY,
    parent_id  text,
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS regions_parent ON {schema}.regions (parent_id);

-- The given regions and every region below them (a region named in a token need not be known here).
CREATE OR REPLACE FUNCTION {schema}.region_subtree(roots text[]) RETURNS SETOF text
LANGUAGE sql STABLE AS $$
    WITH RECURSIVE t(id) AS (
        SELECT unnest(roots)
        UNION
        SELECT r.region_id FROM {schema}.regions r JOIN t ON r.parent_id = t.id
    )
    SELECT id FROM t
$$;

-- The owners of a terminal, one row per way it is owned: its own record (company, region), and each
-- point read through it (the terminal's company and region where its record has them, else the
-- point's customer's; the point's customer). A terminal is in a caller's scope when one row is.
CREATE OR REPLACE VIEW {schema}.terminal_owner AS
SELECT t.terminal, t.company_id, t.region_id, NULL::text AS customer_id
FROM {schema}.terminals t
WHERE t.terminal IS NOT NULL
UNION ALL
SELECT COALESCE(t.terminal, p.terminal) AS terminal, COALESCE(t.company_id, p.company_id) AS company_id,
       COALESCE(t.region_id, p.region_id) AS region_id, p.customer_id
FROM {schema}.terminal_points p
LEFT JOIN {schema}.terminals t ON t.terminal_id = p.terminal_id
WHERE COALESCE(t.terminal, p.terminal) IS NOT NULL;
