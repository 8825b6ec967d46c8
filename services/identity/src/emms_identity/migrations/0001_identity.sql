-- Identity and access: users, roles, API clients, refresh tokens, signing keys, audit.

CREATE TABLE IF NOT EXISTS {schema}.inbox (
    consumer text NOT NULL, message_id uuid NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, message_id));

CREATE TABLE {schema}.roles (
    name text PRIMARY KEY CHECK (name ~ '^[a-z][a-z0-9_-]{1,62}$'),
    description text NOT NULL DEFAULT '',
    builtin boolean NOT NULL DEFAULT false,
    company_id text,                       -- NULL: utility-wide
    permissions text[] NOT NULL DEFAULT '{}',
    created_by text NOT NULL DEFAULT 'system',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CHECK (NOT builtin OR company_id IS NULL));

CREATE TABLE {schema}.users (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    username text NOT NULL CHECK (username ~ '^[A-Za-z0-9][A-Za-z0-9._@-]{1,63}$'),
    display_name text NOT NULL DEFAULT '',
    password_hash text NOT NULL,
    password_history text[] NOT NULL DEFAULT '{}',   -- earlier hashes, newest first
    password_changed_at timestamptz NOT NULL DEFAULT now(),
    must_change_password boolean NOT NULL DEFAULT true,
    companies text[] NOT NULL DEFAULT '{}',
    regions text[] NOT NULL DEFAULT '{}',
    customers text[] NOT NULL DEFAULT '{}',
    failed_signins integer NOT NULL DEFAULT 0,
    failed_since timestamptz,
    locked_until timestamptz,
    disabled boolean NOT NULL DEFAULT false,
    created_by text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    last_signin_at timestamptz);
CREATE UNIQUE INDEX users_username_ci ON {schema}.users (lower(username));
CREATE INDEX users_companies ON {schema}.users USING gin (companies);

CREATE TABLE {schema}.user_roles (
    user_id uuid NOT NULL REFERENCES {schema}.users (id) ON DELETE CASCADE,
    role text NOT NULL REFERENCES {schema}.roles (name),
    granted_by text NOT NULL,
    granted_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, role));
CREATE INDEX user_roles_role ON {schema}.user_roles (role);

CREATE TABLE {schema}.api_clients (
    client_id text PRIMARY KEY CHECK (client_id ~ '^[a-z0-9][a-z0-9._-]{2,63}$'),
    secret_hash text NOT NULL,
    name text NOT NULL,
    trust_level text NOT NULL,
    roles text[] NOT NULL DEFAULT '{}',
    companies text[] NOT NULL DEFAULT '{}',
    regions text[] NOT NULL DEFAULT '{}',
    disabled boolean NOT NULL DEFAULT false,
    created_by text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    secret_rotated_at timestamptz NOT NULL DEFAULT now(),
    last_token_at timestamptz);
CREATE INDEX api_clients_roles ON {schema}.api_clients USING gin (roles);

-- Refresh tokens are stored as the SHA-256 of the token; a family is one sign-in's chain of rotations.
CREATE TABLE {schema}.refresh_tokens (
    token_hash text PRIMARY KEY,
    family_id uuid NOT NULL,
    parent_hash text,
    user_id uuid NOT NULL REFERENCES {schema}.users (id) ON DELETE CASCADE,
    subject text NOT NULL,
    auth_time timestamptz NOT NULL,
    issued_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at timestamptz,
    revoked_at timestamptz,
    reason text);
CREATE INDEX refresh_tokens_family ON {schema}.refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user ON {schema}.refresh_tokens (user_id) WHERE revoked_at IS NULL;
CREATE INDEX refresh_tokens_expiry ON {schema}.refresh_tokens (expires_at);

-- Ed25519 signing keys: the private key encrypted under the key-encryption key (Fernet), erased on retirement.
CREATE TABLE {schema}.signing_keys (
    kid text PRIMARY KEY,
    public_key bytea NOT NULL,
    private_key_encrypted bytea,
    state text NOT NULL CHECK (state IN ('next', 'active', 'retired')),
    created_at timestamptz NOT NULL DEFAULT now(),
    activated_at timestamptz,
    retired_at timestamptz,
    publish_until timestamptz,            -- a retired key is in the JWKS until then
    CHECK (state = 'retired' OR private_key_encrypted IS NOT NULL));
CREATE UNIQUE INDEX signing_keys_one_active ON {schema}.signing_keys (state) WHERE state = 'active';
CREATE UNIQUE INDEX signing_keys_one_next ON {schema}.signing_keys (state) WHERE state = 'next';

-- Every sign-in, failure, lockout, refresh, revocation, administrative change and refusal.
CREATE TABLE {schema}.audit (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at timestamptz NOT NULL DEFAULT now(),
    actor text NOT NULL,
    action text NOT NULL,
    target text,
    outcome text NOT NULL CHECK (outcome IN ('success', 'failure', 'denied')),
    reason text,
    detail jsonb NOT NULL DEFAULT '{}',
    companies text[] NOT NULL DEFAULT '{}',   -- the target's companies: who may read the entry
    client_ip text,
    source_service text NOT NULL DEFAULT 'identity',
    event_id text UNIQUE);                    -- refusals of other services: their event id (idempotent intake)
CREATE INDEX audit_at ON {schema}.audit (at);
CREATE INDEX audit_actor ON {schema}.audit (actor, id);
CREATE INDEX audit_action ON {schema}.audit (action, id);
CREATE INDEX audit_companies ON {schema}.audit USING gin (companies);

CREATE FUNCTION {schema}.audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only';
END $$;
CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON {schema}.audit
    FOR EACH ROW EXECUTE FUNCTION {schema}.audit_append_only();
