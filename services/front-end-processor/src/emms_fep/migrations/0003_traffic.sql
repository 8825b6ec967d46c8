-- Public-network traffic management (R-4.6.7): frames, bytes and request success per terminal per day.
CREATE TABLE IF NOT EXISTS {schema}.traffic_daily (
    terminal       text   NOT NULL,
    day            date   NOT NULL,
    frames_in      bigint NOT NULL DEFAULT 0,
    frames_out     bigint NOT NULL DEFAULT 0,
    bytes_in       bigint NOT NULL DEFAULT 0,
    bytes_out      bigint NOT NULL DEFAULT 0,
    illegal_frames bigint NOT NULL DEFAULT 0,
    requests       bigint NOT NULL DEFAULT 0,
    answered       bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (terminal, day)
);
CREATE INDEX IF NOT EXISTS traffic_daily_day ON {schema}.traffic_daily (day);
