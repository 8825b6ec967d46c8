-- Key customers (R-4.5.4.2): rules that choose them (top N by usage), the audit of every hand
-- mark / unmark and rule change, and the validator's anomalies (emms.anomaly.v1) the key-customer
-- answer shows. The hand-chosen list itself is ``key_customer`` (0003).

-- A rule: the top ``top_n`` customers by usage of ``utility``'s main register over the last
-- ``period_days`` whole local days, among those in ``regions`` (with every region below),
-- ``companies`` and ``categories`` (NULL: any).
CREATE TABLE IF NOT EXISTS {schema}.key_customer_rule (
    rule_id     text        PRIMARY KEY,
    utility     text        NOT NULL,
    top_n       integer     NOT NULL CHECK (top_n BETWEEN 1 AND 1000),
    period_days integer     NOT NULL CHECK (period_days BETWEEN 1 AND 366),
    regions     text[],
    companies   text[],
    categories  text[],
    created_by  text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- Who changed the key list or a rule, when, with before / after images. Insert-only.
CREATE TABLE IF NOT EXISTS {schema}.key_customer_audit (
    seq       bigserial   PRIMARY KEY,
    at        timestamptz NOT NULL DEFAULT now(),
    actor     text        NOT NULL,
    entity    text        NOT NULL,
    entity_id text        NOT NULL,
    action    text        NOT NULL,
    before    jsonb,
    after     jsonb
);
CREATE INDEX IF NOT EXISTS key_customer_audit_entity ON {schema}.key_customer_audit (entity, entity_id, seq);

CREATE OR REPLACE FUNCTION {schema}.key_customer_audit_refuse() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% on %.% is refused: the audit is insert-only', TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$$;
DROP TRIGGER IF EXISTS key_customer_audit_insert_only ON {schema}.key_customer_audit;
CREATE TRIGGER key_customer_audit_insert_only BEFORE UPDATE OR DELETE ON {schema}.key_customer_audit
    FOR EACH ROW EXECUTE FUNCTION {schema}.key_customer_audit_refuse();

-- Findings of the validator's rules, from emms.anomaly.v1 (one row per anomaly id).
CREATE TABLE IF NOT EXISTS {schema}.anomaly (
    anomaly_id  text        PRIMARY KEY,
    meter_id    text        NOT NULL,
    rule        text        NOT NULL,
    item        text        NOT NULL,
    data_time   timestamptz NOT NULL,
    severity    text        NOT NULL,
    detected_at timestamptz NOT NULL,
    detail      jsonb       NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS anomaly_meter_time ON {schema}.anomaly (meter_id, data_time);
