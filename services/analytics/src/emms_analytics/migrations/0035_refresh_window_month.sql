-- TimescaleDB: windows whose hourly and daily aggregates are refreshed and whose monthly aggregate is not yet
-- (emms_analytics.rollups): the monthly level is recomputed over whole months (force), so while a collection
-- streams in it runs at most every `monthly_refresh_every_s`, and at once when the stream pauses; the windows
-- wait here meanwhile, so a restart loses none. Unused on plain PostgreSQL.
CREATE TABLE IF NOT EXISTS {schema}.refresh_window_month (
    id bigserial   PRIMARY KEY,
    lo timestamptz NOT NULL,
    hi timestamptz NOT NULL
);
