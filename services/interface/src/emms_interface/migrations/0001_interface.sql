-- The interface's own state: jobs of business systems, webhook subscriptions, events and deliveries,
-- billing cycles, customer notices and the payment log. Every row survives a restart.
CREATE TABLE IF NOT EXISTS {schema}.inbox (
    consumer    text        NOT NULL,
    message_id  uuid        NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, message_id)
);

-- A job of a business system: one per (caller, Idempotency-Key); body_hash detects a reused key.
CREATE TABLE IF NOT EXISTS {schema}.job (
    job_id          uuid        PRIMARY KEY,
    caller          text        NOT NULL,
    idempotency_key text        NOT NULL,
    body_hash       text        NOT NULL,
    kind            text        NOT NULL CHECK (kind IN ('collection', 'control', 'install', 'replace', 'remove')),
    body            jsonb       NOT NULL,
    companies       text[]      NOT NULL DEFAULT '{}',
    state           text        NOT NULL,
    reason          text        NOT NULL DEFAULT '',
    meter_id        text,
    metering_point_id text,
    upstream        jsonb       NOT NULL DEFAULT '{}',
    result          jsonb       NOT NULL DEFAULT '{}',
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz,
    next_step_at    timestamptz NOT NULL DEFAULT now(),
    steps           integer     NOT NULL DEFAULT 0,
    UNIQUE (caller, idempotency_key)
);
CREATE INDEX IF NOT EXISTS job_open ON {schema}.job (next_step_at) WHERE finished_at IS NULL;
CREATE INDEX IF NOT EXISTS job_waiting_meter ON {schema}.job (meter_id) WHERE state = 'awaiting_first_reading';

-- Outbound webhooks.
CREATE TABLE IF NOT EXISTS {schema}.webhook_subscription (
    subscription_id  uuid        PRIMARY KEY,
    owner            text        NOT NULL,
    url              text        NOT NULL,
    events           text[]      NOT NULL,
    companies        text[]      NOT NULL DEFAULT '{}',
    secret           text        NOT NULL,
    secret_version   integer     NOT NULL DEFAULT 1,
    previous_secret  text,
    previous_until   timestamptz,
    active           boolean     NOT NULL DEFAULT true,
    created_at       timestamptz NOT NULL DEFAULT now(),
    rotated_at       timestamptz
);

-- One event (its id is stable: a redelivered bus message gives the same event, stored once).
CREATE TABLE IF NOT EXISTS {schema}.webhook_event (
    event_id    uuid        PRIMARY KEY,
    event_type  text        NOT NULL,
    companies   text[]      NOT NULL DEFAULT '{}',
    owner       text,
    payload     jsonb       NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- One event for one subscription: pending until a 2xx, parked after the last attempt (never deleted).
CREATE TABLE IF NOT EXISTS {schema}.webhook_delivery (
    subscription_id uuid        NOT NULL REFERENCES {schema}.webhook_subscription,
    event_id        uuid        NOT NULL REFERENCES {schema}.webhook_event,
    state           text        NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'parked')),
    attempts        integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_status     integer,
    last_error      text        NOT NULL DEFAULT '',
    delivered_at    timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (subscription_id, event_id)
);
CREATE INDEX IF NOT EXISTS webhook_delivery_due ON {schema}.webhook_delivery (next_attempt_at) WHERE state = 'pending';

-- The delivery log: every attempt.
CREATE TABLE IF NOT EXISTS {schema}.webhook_attempt (
    attempt_id      bigserial   PRIMARY KEY,
    subscription_id uuid        NOT NULL,
    event_id        uuid        NOT NULL,
    attempt         integer     NOT NULL,
    at              timestamptz NOT NULL DEFAULT now(),
    status          integer,
    error           text        NOT NULL DEFAULT '',
    duration_ms     integer     NOT NULL DEFAULT 0,
    replay          boolean     NOT NULL DEFAULT false
);
CREATE INDEX IF NOT EXISTS webhook_attempt_event ON {schema}.webhook_attempt (subscription_id, event_id, attempt_id);

-- Billing cycles: which readings a bill of a company's utility takes (from start to the cut-off).
CREATE TABLE IF NOT EXISTS {schema}.billing_cycle (
    cycle_id    text        PRIMARY KEY,
    company_id  text        NOT NULL,
    utility     text        NOT NULL,
    period_start timestamptz NOT NULL,
    cutoff      timestamptz NOT NULL CHECK (cutoff > period_start),
    created_by  text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- Information published to customers: outage notices, tariff changes.
CREATE TABLE IF NOT EXISTS {schema}.notice (
    notice_id   bigserial   PRIMARY KEY,
    kind        text        NOT NULL CHECK (kind IN ('outage', 'tariff', 'general')),
    utility     text,
    companies   text[]      NOT NULL DEFAULT '{}',
    regions     text[]      NOT NULL DEFAULT '{}',
    title       text        NOT NULL,
    body        text        NOT NULL,
    valid_from  timestamptz NOT NULL,
    valid_to    timestamptz,
    created_by  text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- The customers' online payments as the interface took them; recorded into control's accounts.
CREATE TABLE IF NOT EXISTS {schema}.payment (
    payment_id  text        PRIMARY KEY,
    customer_id text        NOT NULL,
    account_id  text        NOT NULL,
    amount      numeric(14, 2) NOT NULL CHECK (amount > 0),
    state       text        NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'recorded', 'refused')),
    reason      text        NOT NULL DEFAULT '',
    paid_by     text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    recorded_at timestamptz
);
