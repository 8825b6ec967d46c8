-- Key customers by contracted capacity (R-4.5.4.2): the customer's contracted capacity from the archive's
-- master data, and a rule's lower bound on it (NULL: any customer).
ALTER TABLE {schema}.customer ADD COLUMN IF NOT EXISTS contracted_capacity_kva double precision;
ALTER TABLE {schema}.key_customer_rule
    ADD COLUMN IF NOT EXISTS min_capacity_kva double precision CHECK (min_capacity_kva >= 0);

-- point_owner as in 0002, with the customer's contracted capacity (a column added at the end).
CREATE OR REPLACE VIEW {schema}.point_owner AS
SELECT mp.metering_point_id, mp.customer_id, c.party_id, c.company_id, c.region_id, c.category, c.industry,
       COALESCE(mp.utility, c.utility) AS utility, mp.node_id, c.contracted_capacity_kva
FROM {schema}.metering_point mp
LEFT JOIN {schema}.customer c ON c.customer_id = mp.customer_id;
