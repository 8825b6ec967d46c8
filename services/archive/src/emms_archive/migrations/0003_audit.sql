-- The audit log: every master-data change, backup and restore, with before/after images.
-- Append-only (refused UPDATE / DELETE). The outbox lists the changes still to be published on
-- the bus as MasterDataChange; a relay publishes them after commit (transactional outbox).
CREATE TABLE {schema}.audit_log (
    seq         bigserial UNIQUE,
    change_id   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    at          timestamptz NOT NULL DEFAULT now(),
    actor       text NOT NULL,
    entity      text NOT NULL,
    entity_id   text NOT NULL,
    action      text NOT NULL,
    before      jsonb,
    after       jsonb,
    note        text
);
CREATE INDEX audit_log_entity ON {schema}.audit_log (entity, entity_id, seq);
CREATE INDEX audit_log_at ON {schema}.audit_log (at);

CREATE TABLE {schema}.outbox (
    change_id    uuid PRIMARY KEY REFERENCES {schema}.audit_log (change_id),
    created_at   timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz
);
CREATE INDEX outbox_pending ON {schema}.outbox (created_at) WHERE published_at IS NULL;

-- Raised by every insert-only table on UPDATE, DELETE and TRUNCATE.
CREATE FUNCTION {schema}.refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% on %.% is refused: the table is insert-only', TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'raw data stays unique and authentic (R-4.3.1); store corrections as validated rows';
END
$$;

CREATE TRIGGER audit_log_insert_only BEFORE UPDATE OR DELETE ON {schema}.audit_log
    FOR EACH ROW EXECUTE FUNCTION {schema}.refuse_change();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON {schema}.audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION {schema}.refuse_change();
