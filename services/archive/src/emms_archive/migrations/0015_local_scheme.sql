-- Operating status (R-4.6.7): how the concentrator reaches the meter on a metering point — its local
-- communication scheme (narrowband / broadband carrier, micro-power wireless, RS-485, M-Bus, AC sampling).
-- Null: master data does not say (the collector then derives it from the port). The installation view
-- carries it, so every meter_installation change publishes it beside the port.
ALTER TABLE {schema}.metering_point
    ADD COLUMN IF NOT EXISTS local_scheme text
        CHECK (local_scheme IN ('plc', 'hplc', 'rf', 'rs485', 'mbus', 'ac-sampling'));

CREATE OR REPLACE VIEW {schema}.installation AS
SELECT p.id AS period_id, p.metering_point_id, p.meter_id, p.valid_from, p.valid_to, p.reason,
       mp.customer_id, c.category AS customer_category, c.region_id, c.company_id, mp.utility, mp.terminal_id, t.address AS terminal_address, mp.pn, mp.port, mp.baud_rate,
       m.address AS meter_address, m.protocol, m.multiplier, m.ct_ratio, m.pt_ratio, m.register_digits,
       mp.local_scheme
FROM {schema}.meter_period p
JOIN {schema}.metering_point mp ON mp.id = p.metering_point_id
JOIN {schema}.customer c ON c.id = mp.customer_id
JOIN {schema}.meter m ON m.id = p.meter_id
LEFT JOIN {schema}.terminal t ON t.id = mp.terminal_id;
