-- Terminal passwords (the 1376.1 PW each terminal expects on AFN 01/04/05/06/0F/10 downlink frames),
-- kept only sealed: a Fernet token under the terminal-password key-encryption key
-- (emms_archive.passwords.sealing). Write-only through the API; the audit log records that a
-- password changed (version, how, by whom), never the password.
CREATE TABLE {schema}.terminal_password (
    terminal_id text PRIMARY KEY REFERENCES {schema}.terminal (id),
    sealed      text NOT NULL,
    version     integer NOT NULL CHECK (version >= 1),
    how         text NOT NULL CHECK (how IN ('set', 'import', 'rotation')),
    set_at      timestamptz NOT NULL DEFAULT now(),
    set_by      text NOT NULL
);

-- A rotation: the new PW sent to the terminal (AFN04 F5, with the PW in force) and its fate. Master
-- data switches to the new PW only when the terminal confirmed; at most one is pending per terminal.
CREATE TABLE {schema}.terminal_password_rotation (
    rotation_id  uuid PRIMARY KEY,
    terminal_id  text NOT NULL REFERENCES {schema}.terminal (id),
    terminal     text NOT NULL,
    request_id   text NOT NULL UNIQUE,
    sealed       text NOT NULL,
    from_version integer NOT NULL,
    to_version   integer,
    requested_by text NOT NULL,
    requested_at timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    state        text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'confirmed', 'failed')),
    outcome      text,
    detail       text,
    completed_at timestamptz
);
CREATE UNIQUE INDEX terminal_password_rotation_one_pending
    ON {schema}.terminal_password_rotation (terminal_id) WHERE state = 'pending';
CREATE INDEX terminal_password_rotation_terminal
    ON {schema}.terminal_password_rotation (terminal_id, requested_at DESC);

-- Secrets a change carries to its consumers (sealed, never in the audit log): merged into the
-- published message's data and cleared once it is published.
ALTER TABLE {schema}.outbox ADD COLUMN IF NOT EXISTS sealed jsonb;
