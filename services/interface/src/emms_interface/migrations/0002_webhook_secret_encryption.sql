-- Webhook signing secrets kept sealed (Fernet tokens under the webhook key-encryption key,
-- emms_interface.webhooks.sealing) instead of in clear text. The service seals what is left in the
-- clear columns when it starts (and again every minute, for rows an older replica wrote during a
-- rolling update) and empties them; the clear columns stay only for that and are always NULL after.
ALTER TABLE {schema}.webhook_subscription
    ADD COLUMN IF NOT EXISTS secret_sealed bytea,
    ADD COLUMN IF NOT EXISTS previous_secret_sealed bytea,
    ALTER COLUMN secret DROP NOT NULL;
ALTER TABLE {schema}.webhook_subscription
    ADD CONSTRAINT webhook_subscription_has_secret CHECK (secret IS NOT NULL OR secret_sealed IS NOT NULL);
CREATE INDEX IF NOT EXISTS webhook_subscription_clear ON {schema}.webhook_subscription (subscription_id)
    WHERE secret IS NOT NULL OR previous_secret IS NOT NULL;
