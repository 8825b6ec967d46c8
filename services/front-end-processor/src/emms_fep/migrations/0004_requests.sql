-- Downlink request claims: the replica that inserts the row first is the only one that acts on the
-- request (sends it, or answers "offline"); a redelivered request finds its row and is not sent again.
CREATE TABLE IF NOT EXISTS {schema}.requests (
    request_id   text        PRIMARY KEY,
    terminal     text        NOT NULL,
    replica      text        NOT NULL,
    claimed_at   timestamptz NOT NULL DEFAULT now(),
    outcome      text,
    attempts     integer     NOT NULL DEFAULT 0,
    completed_at timestamptz
);
CREATE INDEX IF NOT EXISTS requests_open ON {schema}.requests (replica) WHERE outcome IS NULL;
CREATE INDEX IF NOT EXISTS requests_claimed_at ON {schema}.requests (claimed_at);
