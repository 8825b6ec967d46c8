-- Settings per terminal class (R-4.6.1.3 clock tolerance, R-4.5.4.3 which ERC codes are important).
-- A terminal's class is its master-data model when a class of that name exists, else its kind
-- (concentrator, collector); a class without a row, or a NULL setting, falls back to the service's settings.
ALTER TABLE {schema}.md_terminal ADD COLUMN IF NOT EXISTS kind text;
ALTER TABLE {schema}.md_terminal ADD COLUMN IF NOT EXISTS model text;

CREATE TABLE IF NOT EXISTS {schema}.terminal_class (
    class              text        PRIMARY KEY,
    clock_tolerance_s  float8      CHECK (clock_tolerance_s > 0),
    important_ercs     smallint[],
    updated_at         timestamptz NOT NULL DEFAULT now(),
    updated_by         text        NOT NULL DEFAULT ''
);
