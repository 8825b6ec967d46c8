-- The periodic watch of collectors' clocks (R-4.6.1.4): when each terminal's collectors were last checked
-- (read and, beyond tolerance, set) by the time-sync worker; claimed per pass, oldest first.
ALTER TABLE {schema}.terminal_clock ADD COLUMN IF NOT EXISTS collectors_checked_at timestamptz;
