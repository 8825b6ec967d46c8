-- Company / region scope of the collector's data (R-4.6.2): the owner of every meter and terminal from
-- master data, the region tree (a region includes every region below it), the owner of each task and
-- the meters of each manual read. See emms_collector.repository.scope.

-- A meter's company: its customer's (the installation and customer changes carry it).
ALTER TABLE {schema}.point ADD COLUMN IF NOT EXISTS company_id text;
CREATE INDEX IF NOT EXISTS point_company ON {schema}.point (company_id);
UPDATE {schema}.point p SET company_id = c.company_id, region_id = coalesce(p.region_id, c.region_id)
FROM {schema}.md_customer c WHERE c.id = p.customer_id AND p.company_id IS NULL;

-- A terminal's company (the terminal change carries it; the region was kept already).
ALTER TABLE {schema}.md_terminal ADD COLUMN IF NOT EXISTS company_id text;
CREATE INDEX IF NOT EXISTS md_terminal_address ON {schema}.md_terminal (terminal);

-- The region tree, from the region changes; a region unknown here is its own whole subtree.
CREATE TABLE IF NOT EXISTS {schema}.md_region (
    id         text PRIMARY KEY,
    parent_id  text
);
CREATE INDEX IF NOT EXISTS md_region_parent ON {schema}.md_region (parent_id);

CREATE OR REPLACE FUNCTION {schema}.region_subtree(roots text[]) RETURNS SETOF text
LANGUAGE sql STABLE AS $$
    WITH RECURSIVE t(id) AS (
        SELECT unnest(roots)
        UNION
        SELECT r.id FROM {schema}.md_region r JOIN t ON r.parent_id = t.id
    )
    SELECT id FROM t
$$;

-- Who a terminal belongs to: its own master-data row and every active meter behind it.
CREATE OR REPLACE VIEW {schema}.terminal_owner AS
SELECT terminal, company_id, region_id, NULL::text AS customer_id, 'terminal'::text AS source
FROM {schema}.md_terminal WHERE terminal IS NOT NULL
UNION ALL
SELECT terminal, company_id, region_id, customer_id, 'point'::text AS source
FROM {schema}.point WHERE active;

-- A task's owner: the company it reads for (NULL: the whole utility) and the regions its creator was
-- restricted to (empty: none); its runs read only meters inside both.
ALTER TABLE {schema}.task ADD COLUMN IF NOT EXISTS company_id text;
ALTER TABLE {schema}.task ADD COLUMN IF NOT EXISTS scope_regions text[] NOT NULL DEFAULT '{}';
CREATE INDEX IF NOT EXISTS task_company ON {schema}.task (company_id);

-- The meters a manual read reads (who may poll the job).
ALTER TABLE {schema}.manual_job ADD COLUMN IF NOT EXISTS meters text[];
