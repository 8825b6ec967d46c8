-- Each terminal's own PW as master data publishes it (emms.masterdata.change.v1, entity
-- terminal_password): sealed (a Fernet token under the terminal-password key-encryption key the
-- archive and the FEP share), the newest version kept. ``terminal`` is the FEP's session key
-- (AAAA-TTTTT) of the terminal's address. Read by emms_fep.passwords.PasswordBook.
CREATE TABLE IF NOT EXISTS {schema}.terminal_passwords (
    terminal_id text PRIMARY KEY,
    terminal    text,
    sealed      text NOT NULL,
    version     integer NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS terminal_passwords_updated ON {schema}.terminal_passwords (updated_at);
