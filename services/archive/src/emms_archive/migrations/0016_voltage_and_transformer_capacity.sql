-- Electricity analyses by voltage level and by transformer capacity (R-4.5.3.1): the metering point's supply
-- voltage level (nominal kV: 0.22, 0.38, 6, 10, 20, 35, 66, 110, 220, 330, 500) and a network node's rated
-- capacity (kVA; a transformer's nameplate). Null: master data does not say.
ALTER TABLE {schema}.metering_point ADD COLUMN IF NOT EXISTS voltage_level_kv double precision
    CHECK (voltage_level_kv IN (0.22, 0.38, 6, 10, 20, 35, 66, 110, 220, 330, 500));
ALTER TABLE {schema}.network_node ADD COLUMN IF NOT EXISTS capacity_kva double precision
    CHECK (capacity_kva > 0 AND capacity_kva <= 10000000);
