-- Who owns each meter, for the company / region scope of every query (R-4.6.2), kept from
-- emms.masterdata.change.v1: a meter's customer (meter_installation, meter), the customer's
-- company and region (customer, meter_installation), the region tree (region), and the meter's
-- own company (meter) for a meter not yet on any customer's point.
ALTER TABLE {schema}.meters ADD COLUMN IF NOT EXISTS company_id text;

CREATE TABLE IF NOT EXISTS {schema}.customers (
    customer_id text PRIMARY KEY,
    company_id  text,
    region_id   text,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS customers_company ON {schema}.customers (company_id, region_id);

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

-- A meter's owner: its customer's company and region; the meter's own company while it has no customer.
CREATE OR REPLACE VIEW {schema}.meter_owner AS
SELECT m.meter_id, NULLIF(m.customer_id, '') AS customer_id,
       COALESCE(c.company_id, m.company_id) AS company_id, c.region_id
FROM {schema}.meters m
LEFT JOIN {schema}.customers c ON c.customer_id = NULLIF(m.customer_id, '');
