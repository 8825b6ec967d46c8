-- Prepayment in three modes (R-4.5.2) and quantity control (R-4.4.1) — issue 15, items 3 and 4.
-- Independent of 0003 (commands): decided actions wait in control.auto_action until the command
-- path takes them (idempotent by action_id).

CREATE TABLE {schema}.prepay_setting (
    account_id      text PRIMARY KEY REFERENCES {schema}.account (account_id),
    mode            text NOT NULL CHECK (mode IN ('master', 'terminal', 'meter')),
    alarm_threshold numeric(18, 2) NOT NULL,
    trip_threshold  numeric(18, 2) NOT NULL,
    close_action    text NOT NULL DEFAULT 'allow_close' CHECK (close_action IN ('allow_close', 'direct_close')),
    price           numeric(18, 4),                       -- terminal / meter mode: price the device counts with
    state           text NOT NULL DEFAULT 'normal' CHECK (state IN ('normal', 'alarm', 'tripped')),
    state_since     timestamptz NOT NULL DEFAULT now(),
    purchases       integer NOT NULL DEFAULT 0,           -- purchases sent to the device (terminal / meter)
    remaining       numeric(18, 3),                       -- read back from the device
    remaining_at    timestamptz,
    device_count    integer,                              -- purchase count read back (meter mode)
    updated_at      timestamptz NOT NULL DEFAULT now(),
    updated_by      text NOT NULL,
    CHECK (alarm_threshold > trip_threshold)
);

-- Every transition of the master-mode state, once (insert-only).
CREATE TABLE {schema}.prepay_transition (
    transition_id bigserial PRIMARY KEY,
    account_id    text NOT NULL REFERENCES {schema}.account (account_id),
    at            timestamptz NOT NULL DEFAULT now(),
    from_state    text NOT NULL,
    to_state      text NOT NULL,
    balance       numeric(18, 2) NOT NULL,
    cause         text NOT NULL                          -- charge / payment / refund / settings
);
CREATE INDEX prepay_transition_account ON {schema}.prepay_transition (account_id, transition_id);

-- Outbound notices (alarm, trip, restore, alarm cleared, quantity exceeded) for the customer channel.
CREATE TABLE {schema}.notice (
    notice_id   bigserial PRIMARY KEY,
    account_id  text,
    meter_id    text,
    kind        text NOT NULL,
    message     text NOT NULL,
    detail      jsonb NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL DEFAULT now(),
    sent_at     timestamptz
);
CREATE INDEX notice_account ON {schema}.notice (account_id, notice_id);
CREATE INDEX notice_unsent ON {schema}.notice (notice_id) WHERE sent_at IS NULL;

-- Purchases sent to a device (terminal / meter mode): one per payment, numbers 1, 2, 3 … per account.
CREATE TABLE {schema}.prepay_purchase (
    payment_id      text PRIMARY KEY REFERENCES {schema}.payment (payment_id),
    account_id      text NOT NULL REFERENCES {schema}.account (account_id),
    purchase_number integer NOT NULL CHECK (purchase_number >= 1),
    amount          numeric(18, 2) NOT NULL CHECK (amount > 0),
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (account_id, purchase_number)
);

-- Actions decided by prepayment and quantity control, for the command path (trip, valve close,
-- allow / direct close, valve open, or an operation carrying data units to a device).
CREATE TABLE {schema}.auto_action (
    action_id   uuid PRIMARY KEY,
    seq         bigserial NOT NULL UNIQUE,               -- decision order: a meter's actions go out in it
    origin      text NOT NULL CHECK (origin IN ('prepayment', 'quantity')),
    account_id  text,
    meter_id    text NOT NULL,
    action      text NOT NULL,
    reason      text NOT NULL,
    payload     jsonb NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL DEFAULT now(),
    taken_at    timestamptz,
    command_ref text,
    outcome     text
);
CREATE INDEX auto_action_waiting ON {schema}.auto_action (seq) WHERE taken_at IS NULL;
CREATE INDEX auto_action_meter ON {schema}.auto_action (meter_id, seq);

-- Quantity control: the control mode and the limits per device and period.
CREATE TABLE {schema}.quantity_limit (
    meter_id   text NOT NULL,
    period     text NOT NULL CHECK (period IN ('day', 'month')),
    utility    text NOT NULL CHECK (utility IN ('electricity', 'water', 'gas', 'heat')),
    usage_limit numeric(18, 3) NOT NULL CHECK (usage_limit > 0),
    action     text NOT NULL CHECK (action IN ('alarm', 'cut')),
    utc_offset_minutes integer NOT NULL DEFAULT 480,
    updated_at timestamptz NOT NULL DEFAULT now(),
    updated_by text NOT NULL,
    PRIMARY KEY (meter_id, period)
);

CREATE TABLE {schema}.quantity_counter (
    meter_id    text NOT NULL,
    period      text NOT NULL,
    period_key  text NOT NULL,
    start_value numeric(24, 6) NOT NULL,
    last_value  numeric(24, 6) NOT NULL,
    last_time   timestamptz NOT NULL,
    exceeded_at timestamptz,
    PRIMARY KEY (meter_id, period)
);

-- Periods in which a limit was exceeded (insert-only history: one row per device, period and key).
CREATE TABLE {schema}.quantity_exceeded (
    meter_id    text NOT NULL,
    period      text NOT NULL,
    period_key  text NOT NULL,
    used        numeric(24, 6) NOT NULL,
    usage_limit numeric(18, 3) NOT NULL,
    action      text NOT NULL,
    at          timestamptz NOT NULL,
    PRIMARY KEY (meter_id, period, period_key)
);

CREATE TRIGGER prepay_transition_insert_only BEFORE UPDATE OR DELETE ON {schema}.prepay_transition
    FOR EACH ROW EXECUTE FUNCTION {schema}.refuse_change();
CREATE TRIGGER prepay_purchase_insert_only BEFORE UPDATE OR DELETE ON {schema}.prepay_purchase
    FOR EACH ROW EXECUTE FUNCTION {schema}.refuse_change();
CREATE TRIGGER quantity_exceeded_insert_only BEFORE UPDATE OR DELETE ON {schema}.quantity_exceeded
    FOR EACH ROW EXECUTE FUNCTION {schema}.refuse_change();
