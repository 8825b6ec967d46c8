-- The tariff in force of each terminal (concentrator), from the collector's emms.terminal.tariff.v1 (1376.1 AFN0A
-- F21 / F22): the newest read per terminal (an older read_at never replaces a newer one; a redelivery changes
-- nothing). /electricity/energy splits the sub-daily interval usage of the points read through a terminal by it.
CREATE TABLE IF NOT EXISTS {schema}.terminal_tariff (
    terminal   text        PRIMARY KEY,
    slots      smallint[]  NOT NULL CHECK (cardinality(slots) = 48),  -- 0-based rate number of each local half hour
    rate_count smallint    NOT NULL,                                   -- M
    rates      integer[],                                              -- 厘 per kWh of rate 1, 2, …; NULL: never read
    read_at    timestamptz NOT NULL
);
