-- Operating status (R-4.6.7): the local communication scheme of each point (plc, hplc, rf, rs485, mbus,
-- ac-sampling) — from master data, else derived from the port (emms_collector.local_scheme) — so execution
-- quality can be broken down by it (GET /api/v1/quality?by=scheme). Points written before this migration get
-- the derived scheme here; their next master-data change or manifest import writes master data's.
ALTER TABLE {schema}.point ADD COLUMN IF NOT EXISTS local_scheme text;

UPDATE {schema}.point SET local_scheme = CASE
        WHEN port = 1 THEN 'ac-sampling'
        WHEN port BETWEEN 2 AND 30 THEN 'rs485'
        WHEN port = 31 THEN 'plc'
        WHEN port IS NULL AND protocol = 'ac-sampling' THEN 'ac-sampling'
    END
WHERE local_scheme IS NULL;
