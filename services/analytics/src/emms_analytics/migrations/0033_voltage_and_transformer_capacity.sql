-- Electricity by voltage level and by transformer capacity (R-4.5.3.1): the metering point's supply voltage
-- level (nominal kV) and a network node's rated capacity (kVA) from the archive's master data; point_owner as
-- in 0014 with two columns added at the end: the point's voltage level and the capacity of the transformer it
-- hangs under (its node's, else the node's parent's: a point under a meter box of the transformer).
ALTER TABLE {schema}.metering_point ADD COLUMN IF NOT EXISTS voltage_level_kv double precision;
ALTER TABLE {schema}.network_node ADD COLUMN IF NOT EXISTS capacity_kva double precision;

CREATE OR REPLACE VIEW {schema}.point_owner AS
SELECT mp.metering_point_id, mp.customer_id, c.party_id, c.company_id, c.region_id, c.category, c.industry,
       COALESCE(mp.utility, c.utility) AS utility, mp.node_id, c.contracted_capacity_kva,
       mp.voltage_level_kv, COALESCE(n.capacity_kva, np.capacity_kva) AS transformer_kva
FROM {schema}.metering_point mp
LEFT JOIN {schema}.customer c ON c.customer_id = mp.customer_id
LEFT JOIN {schema}.network_node n ON n.node_id = mp.node_id
LEFT JOIN {schema}.network_node np ON np.node_id = n.parent_id;
