-- The terminal's archive (R-4.6.3): vendor, serial number, firmware and hardware versions, the uplink
-- channel and SIM, where it is installed and since when. Master data like the rest of the terminal row:
-- set through the master-data API and import, published on emms.masterdata.change.v1.
ALTER TABLE {schema}.terminal ADD COLUMN IF NOT EXISTS vendor text;
ALTER TABLE {schema}.terminal ADD COLUMN IF NOT EXISTS serial_number text;
ALTER TABLE {schema}.terminal ADD COLUMN IF NOT EXISTS firmware text;
ALTER TABLE {schema}.terminal ADD COLUMN IF NOT EXISTS hardware_version text;
ALTER TABLE {schema}.terminal ADD COLUMN IF NOT EXISTS channel text;
ALTER TABLE {schema}.terminal ADD COLUMN IF NOT EXISTS sim_iccid text;
ALTER TABLE {schema}.terminal ADD COLUMN IF NOT EXISTS sim_msisdn text;
ALTER TABLE {schema}.terminal ADD COLUMN IF NOT EXISTS install_place text;
ALTER TABLE {schema}.terminal ADD COLUMN IF NOT EXISTS installed_at timestamptz;
CREATE INDEX IF NOT EXISTS terminal_vendor_firmware ON {schema}.terminal (vendor, firmware);
