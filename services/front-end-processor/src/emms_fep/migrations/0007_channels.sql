-- Communication channels and routes per terminal (R-4.6.6): the primary and standby channel as configured
-- (kind tcp | dialout | serial, with its parameters), the relay terminal for one reached through another,
-- the SIM card and its traffic allowance per day and per month (bytes in + out).
CREATE TABLE IF NOT EXISTS {schema}.terminal_channel (
    terminal             text        PRIMARY KEY,
    primary_channel      jsonb       NOT NULL,
    standby_channel      jsonb,
    relay_via            text,
    sim_iccid            text,
    allowance_day_bytes  bigint      CHECK (allowance_day_bytes > 0),
    allowance_month_bytes bigint     CHECK (allowance_month_bytes > 0),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    updated_by           text        NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS terminal_channel_relay ON {schema}.terminal_channel (relay_via) WHERE relay_via IS NOT NULL;
