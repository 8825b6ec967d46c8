-- Tariffs, accounts, payments, refunds, charges and the ledger (issue 15, items 1 and 2).
-- Money is numeric (never float). Versions, payments, refunds, charges and ledger entries are
-- insert-only: the database refuses UPDATE, DELETE and TRUNCATE on them.

CREATE FUNCTION {schema}.refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% on %.% is refused: the table is insert-only', TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'money records never change; correct with a new entry';
END
$$;

CREATE TABLE {schema}.tariff (
    tariff_id          text PRIMARY KEY,
    utility            text NOT NULL CHECK (utility IN ('electricity', 'water', 'gas', 'heat')),
    name               text NOT NULL,
    utc_offset_minutes integer NOT NULL,
    created_at         timestamptz NOT NULL DEFAULT now(),
    created_by         text NOT NULL
);

CREATE TABLE {schema}.tariff_version (
    tariff_id      text NOT NULL REFERENCES {schema}.tariff (tariff_id),
    version        integer NOT NULL CHECK (version >= 1),
    effective_from timestamptz NOT NULL,
    definition     jsonb NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    created_by     text NOT NULL,
    PRIMARY KEY (tariff_id, version),
    UNIQUE (tariff_id, effective_from)
);

CREATE TABLE {schema}.account (
    account_id   text PRIMARY KEY,
    customer_id  text NOT NULL,
    company_id   text NOT NULL,
    region_id    text,
    utility      text NOT NULL CHECK (utility IN ('electricity', 'water', 'gas', 'heat')),
    category     text NOT NULL,
    tariff_id    text NOT NULL REFERENCES {schema}.tariff (tariff_id),
    status       text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
    balance      numeric(18, 2) NOT NULL DEFAULT 0,
    charge_from  timestamptz NOT NULL,
    opened_at    timestamptz NOT NULL DEFAULT now(),
    opened_by    text NOT NULL,
    closed_at    timestamptz,
    closed_by    text,
    close_reason text
);
CREATE UNIQUE INDEX account_one_open ON {schema}.account (customer_id, utility) WHERE status = 'open';
CREATE INDEX account_company ON {schema}.account (company_id, account_id);

CREATE TABLE {schema}.account_meter (
    account_id text NOT NULL REFERENCES {schema}.account (account_id),
    meter_id   text NOT NULL,
    multiplier numeric(18, 6) NOT NULL CHECK (multiplier > 0),
    active     boolean NOT NULL DEFAULT true,
    PRIMARY KEY (account_id, meter_id)
);
CREATE UNIQUE INDEX account_meter_active ON {schema}.account_meter (meter_id) WHERE active;

-- The last register values counted per account and meter (see emms_control.charges.usage).
CREATE TABLE {schema}.meter_baseline (
    account_id text NOT NULL,
    meter_id   text NOT NULL,
    data_time  timestamptz NOT NULL,
    registers  jsonb NOT NULL,
    status     text NOT NULL,
    held_since timestamptz,
    PRIMARY KEY (account_id, meter_id),
    FOREIGN KEY (account_id, meter_id) REFERENCES {schema}.account_meter (account_id, meter_id)
);

-- The account's usage so far per tier period (basis 'year' / 'month', key '2026' / '2026-03').
CREATE TABLE {schema}.tier_usage (
    account_id text NOT NULL REFERENCES {schema}.account (account_id),
    basis      text NOT NULL,
    period_key text NOT NULL,
    quantity   numeric(24, 6) NOT NULL,
    PRIMARY KEY (account_id, basis, period_key)
);

CREATE TABLE {schema}.payment (
    payment_id  text PRIMARY KEY,
    account_id  text NOT NULL REFERENCES {schema}.account (account_id),
    amount      numeric(18, 2) NOT NULL CHECK (amount > 0),
    method      text NOT NULL,
    paid_at     timestamptz NOT NULL,
    note        text NOT NULL DEFAULT '',
    recorded_at timestamptz NOT NULL DEFAULT now(),
    recorded_by text NOT NULL
);
CREATE INDEX payment_account ON {schema}.payment (account_id, recorded_at);

CREATE TABLE {schema}.refund (
    refund_id   text PRIMARY KEY,
    payment_id  text NOT NULL REFERENCES {schema}.payment (payment_id),
    account_id  text NOT NULL REFERENCES {schema}.account (account_id),
    amount      numeric(18, 2) NOT NULL CHECK (amount > 0),
    reason      text NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    recorded_by text NOT NULL
);
CREATE INDEX refund_payment ON {schema}.refund (payment_id);

CREATE TABLE {schema}.charge (
    charge_id    uuid PRIMARY KEY,
    account_id   text NOT NULL REFERENCES {schema}.account (account_id),
    meter_id     text NOT NULL,
    tariff_id    text NOT NULL,
    start_time   timestamptz NOT NULL,
    end_time     timestamptz NOT NULL CHECK (end_time > start_time),
    quantity     numeric(24, 6) NOT NULL,
    amount       numeric(18, 2) NOT NULL,
    flags        text[] NOT NULL DEFAULT '{}',
    start_status text NOT NULL,
    end_status   text NOT NULL,
    lines        jsonb NOT NULL,
    computed_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX charge_account ON {schema}.charge (account_id, end_time);
CREATE INDEX charge_tariff ON {schema}.charge (tariff_id, end_time);

-- Every change of a balance, in order: amount is signed (+ credits the account), balance_after
-- is the balance once this entry applied.
CREATE TABLE {schema}.ledger (
    entry_id      bigserial PRIMARY KEY,
    account_id    text NOT NULL REFERENCES {schema}.account (account_id),
    at            timestamptz NOT NULL DEFAULT now(),
    kind          text NOT NULL CHECK (kind IN ('payment', 'refund', 'charge', 'settlement')),
    amount        numeric(18, 2) NOT NULL,
    balance_after numeric(18, 2) NOT NULL,
    ref           text NOT NULL,
    actor         text NOT NULL,
    note          text NOT NULL DEFAULT ''
);
CREATE INDEX ledger_account ON {schema}.ledger (account_id, entry_id);
CREATE UNIQUE INDEX ledger_ref ON {schema}.ledger (account_id, kind, ref);

CREATE TRIGGER tariff_version_insert_only BEFORE UPDATE OR DELETE ON {schema}.tariff_version
    FOR EACH ROW EXECUTE FUNCTION {schema}.refuse_change();
CREATE TRIGGER tariff_version_no_truncate BEFORE TRUNCATE ON {schema}.tariff_version
    FOR EACH STATEMENT EXECUTE FUNCTION {schema}.refuse_change();
CREATE TRIGGER payment_insert_only BEFORE UPDATE OR DELETE ON {schema}.payment
    FOR EACH ROW EXECUTE FUNCTION {schema}.refuse_change();
CREATE TRIGGER payment_no_truncate BEFORE TRUNCATE ON {schema}.payment
    FOR EACH STATEMENT EXECUTE FUNCTION {schema}.refuse_change();
CREATE TRIGGER refund_insert_only BEFORE UPDATE OR DELETE ON {schema}.refund
    FOR EACH ROW EXECUTE FUNCTION {schema}.refuse_change();
CREATE TRIGGER refund_no_truncate BEFORE TRUNCATE ON {schema}.refund
    FOR EACH STATEMENT EXECUTE FUNCTION {schema}.refuse_change();
CREATE TRIGGER charge_insert_only BEFORE UPDATE OR DELETE ON {schema}.charge
    FOR EACH ROW EXECUTE FUNCTION {schema}.refuse_change();
CREATE TRIGGER charge_no_truncate BEFORE TRUNCATE ON {schema}.charge
    FOR EACH STATEMENT EXECUTE FUNCTION {schema}.refuse_change();
CREATE TRIGGER ledger_insert_only BEFORE UPDATE OR DELETE ON {schema}.ledger
    FOR EACH ROW EXECUTE FUNCTION {schema}.refuse_change();
CREATE TRIGGER ledger_no_truncate BEFORE TRUNCATE ON {schema}.ledger
    FOR EACH STATEMENT EXECUTE FUNCTION {schema}.refuse_change();
REVOKE UPDATE, DELETE, TRUNCATE ON {schema}.tariff_version, {schema}.payment, {schema}.refund, {schema}.charge,
    {schema}.ledger FROM PUBLIC;
