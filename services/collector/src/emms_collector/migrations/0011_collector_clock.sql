-- Collectors (采集器) behind concentrators and their clocks (R-4.6.1.4): the latest deviation per collector,
-- learnt from the concentrator's point table (AFN0A F10: 所属采集器通信地址) and read through the
-- concentrator (AFN10 forward, DL/T 645 0400010C). Every read and sync is also a clock_sync row
-- (level 'collector', the collector's address in "collector").
CREATE TABLE IF NOT EXISTS {schema}.collector_clock (
    terminal      text        NOT NULL,
    collector     text        NOT NULL,
    port          integer     NOT NULL,
    deviation_s   float8,
    round_trip_ms float8,
    observed_at   timestamptz,
    last_sync_at  timestamptz,
    last_result   text        NOT NULL DEFAULT '',
    PRIMARY KEY (terminal, collector)
);

ALTER TABLE {schema}.clock_sync ADD COLUMN IF NOT EXISTS collector text;
