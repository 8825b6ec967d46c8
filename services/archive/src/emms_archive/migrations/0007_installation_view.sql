-- One row per meter period with everything needed to read the meter there: the published,
-- read-only view of "which meter is where" (collector / FEP automatic configuration, R-4.6.5).
CREATE VIEW {schema}.installation AS
SELECT p.id AS period_id, p.metering_point_id, p.meter_id, p.valid_from, p.valid_to, p.reason,
       mp.customer_id, c.category AS customer_category, c.region_id, c.company_id, mp.utility, mp.terminal_id, t.address AS terminal_address, mp.pn, mp.port, mp.baud_rate,
       m.address AS meter_address, m.protocol, m.multiplier, m.ct_ratio, m.pt_ratio, m.register_digits
FROM {schema}.meter_period p
JOIN {schema}.metering_point mp ON mp.id = p.metering_point_id
JOIN {schema}.customer c ON c.id = mp.customer_id
JOIN {schema}.meter m ON m.id = p.meter_id
LEFT JOIN {schema}.terminal t ON t.id = mp.terminal_id;
