-- One counter that moves whenever meter periods change: the raw-reading writer remembers the
-- periods of the meters it has seen (readings are attributed in the writer, then COPY'd) and
-- forgets them all when it reads a different value here, inside its own transaction.
--
-- The counter is bumped by a deferred constraint trigger, i.e. at commit, once per transaction
-- (a transaction-local setting remembers that it was done): the row lock on the counter is
-- taken last, after every other lock of the transaction, so concurrent master-data
-- transactions queue on it without any new deadlock, and a writer that sees the new value
-- also sees the periods committed with it.
CREATE TABLE {schema}.meter_period_epoch (
    id    boolean PRIMARY KEY DEFAULT true CHECK (id),
    epoch bigint NOT NULL DEFAULT 0
);
INSERT INTO {schema}.meter_period_epoch (id, epoch) VALUES (true, 0);

CREATE FUNCTION {schema}.bump_meter_period_epoch() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('emms.meter_period_epoch_bumped', true) IS DISTINCT FROM txid_current()::text THEN
        UPDATE {schema}.meter_period_epoch SET epoch = epoch + 1;
        PERFORM set_config('emms.meter_period_epoch_bumped', txid_current()::text, true);
    END IF;
    RETURN NULL;
END
$$;

CREATE CONSTRAINT TRIGGER meter_period_epoch AFTER INSERT OR UPDATE OR DELETE ON {schema}.meter_period
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION {schema}.bump_meter_period_epoch();
CREATE TRIGGER meter_period_epoch_truncate AFTER TRUNCATE ON {schema}.meter_period
    FOR EACH STATEMENT EXECUTE FUNCTION {schema}.bump_meter_period_epoch();
