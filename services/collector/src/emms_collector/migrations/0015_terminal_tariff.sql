-- The tariff in force of each terminal (AFN0A F21 periods, F22 rates; R-4.2.2 / R-4.5.3.1): the values are
-- terminal_param rows fn 21 and 22 (reported, reported_at — pushed and drift-checked like any parameter);
-- this table says whether they were read: a terminal's first login makes it due, a read that got no answer is
-- due again at its next login. state: due | reading | done | failed.
CREATE TABLE IF NOT EXISTS {schema}.tariff_read (
    terminal   text        PRIMARY KEY,
    state      text        NOT NULL DEFAULT 'due',
    due_since  timestamptz NOT NULL DEFAULT now(),
    tried_at   timestamptz,
    detail     text        NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS tariff_read_due ON {schema}.tariff_read (due_since) WHERE state = 'due';
