-- openpfs schema for PostgreSQL: the same tables, keys and semantics as migrations/sqlite.
--
--   * every instant is BIGINT unix milliseconds, UTC;
--   * booleans are BOOLEAN;
--   * dates are DATE;
--   * practice settings are one JSON document in JSONB;
--   * unique constraints are named <table>_<column>_key (PostgreSQL's own default names), and
--     the store maps them (and <table>_pkey) to the `table.column` texts SQLite reports.

CREATE TABLE providers (
    id               TEXT    NOT NULL,
    name             TEXT    NOT NULL,
    fingerprint      TEXT    NOT NULL,
    trusted_identity BOOLEAN NOT NULL,
    created_at       BIGINT  NOT NULL,
    revoked_at       BIGINT,
    CONSTRAINT providers_pkey PRIMARY KEY (id),
    CONSTRAINT providers_fingerprint_key UNIQUE (fingerprint)
);

CREATE TABLE practices (
    ods      TEXT  NOT NULL,
    name     TEXT  NOT NULL,
    address  TEXT  NOT NULL,
    settings JSONB NOT NULL,
    CONSTRAINT practices_pkey PRIMARY KEY (ods)
);

CREATE TABLE patients (
    id            TEXT NOT NULL,
    ods           TEXT NOT NULL REFERENCES practices (ods),
    nhs_number    TEXT NOT NULL,
    title         TEXT,
    first_name    TEXT NOT NULL,
    last_name     TEXT NOT NULL,
    date_of_birth DATE NOT NULL,
    gender        TEXT NOT NULL,
    address       TEXT NOT NULL,
    CONSTRAINT patients_pkey PRIMARY KEY (id),
    CONSTRAINT patients_nhs_number_key UNIQUE (nhs_number)
);

-- list_patients(Some(ods)) in id order; also serves the foreign key.
CREATE INDEX patients_ods_idx ON patients (ods, id);

CREATE TABLE online_accounts (
    id         TEXT   NOT NULL,
    patient_id TEXT   NOT NULL REFERENCES patients (id),
    email      TEXT,
    mobile     TEXT,
    created_at BIGINT NOT NULL,
    ended_at   BIGINT,
    CONSTRAINT online_accounts_pkey PRIMARY KEY (id),
    CONSTRAINT online_accounts_patient_id_key UNIQUE (patient_id)
);

-- The one active linkage key of an account (argon2id PHC string).
CREATE TABLE linkage_keys (
    account_id TEXT   NOT NULL REFERENCES online_accounts (id),
    key_hash   TEXT   NOT NULL,
    issued_at  BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    CONSTRAINT linkage_keys_pkey PRIMARY KEY (account_id)
);

CREATE TABLE provider_links (
    account_id      TEXT   NOT NULL REFERENCES online_accounts (id),
    provider_id     TEXT   NOT NULL REFERENCES providers (id),
    passphrase_hash TEXT   NOT NULL,
    linked_at       BIGINT NOT NULL,
    CONSTRAINT provider_links_pkey PRIMARY KEY (account_id, provider_id)
);

-- Failed linkage attempts. No foreign keys: the account id is whatever the caller typed
-- and need not exist.
CREATE TABLE link_throttles (
    account_id   TEXT   NOT NULL,
    provider_id  TEXT   NOT NULL,
    failures     BIGINT NOT NULL CHECK (failures >= 0),
    locked_until BIGINT,
    CONSTRAINT link_throttles_pkey PRIMARY KEY (account_id, provider_id)
);

-- grantee_id is an online user id, i.e. the account holder's patient id.
CREATE TABLE proxy_grants (
    grantee_id TEXT   NOT NULL REFERENCES patients (id),
    patient_id TEXT   NOT NULL REFERENCES patients (id),
    granted_at BIGINT NOT NULL,
    CONSTRAINT proxy_grants_pkey PRIMARY KEY (grantee_id, patient_id)
);

CREATE TABLE practice_services (
    ods     TEXT    NOT NULL REFERENCES practices (ods),
    service TEXT    NOT NULL,
    enabled BOOLEAN NOT NULL,
    CONSTRAINT practice_services_pkey PRIMARY KEY (ods, service)
);

CREATE TABLE patient_services (
    patient_id TEXT    NOT NULL REFERENCES patients (id),
    service    TEXT    NOT NULL,
    enabled    BOOLEAN NOT NULL,
    CONSTRAINT patient_services_pkey PRIMARY KEY (patient_id, service)
);

-- Sessions, keyed by the SHA-256 of the suid (the suid itself is never stored).
CREATE TABLE sessions (
    suid_hash           TEXT   NOT NULL,
    provider_id         TEXT   NOT NULL REFERENCES providers (id),
    account_id          TEXT   NOT NULL REFERENCES online_accounts (id),
    online_user_id      TEXT   NOT NULL REFERENCES patients (id),
    selected_patient_id TEXT   NOT NULL REFERENCES patients (id),
    created_at          BIGINT NOT NULL,
    last_seen_at        BIGINT NOT NULL,
    ended_at            BIGINT,
    CONSTRAINT sessions_pkey PRIMARY KEY (suid_hash)
);

-- revoke_provider and end_account end the open sessions of one provider / account.
CREATE INDEX sessions_provider_idx ON sessions (provider_id);
CREATE INDEX sessions_account_idx ON sessions (account_id);
-- purge_sessions: ended_at < $1 OR last_seen_at < $1 (one index per arm).
CREATE INDEX sessions_last_seen_idx ON sessions (last_seen_at);
CREATE INDEX sessions_ended_idx ON sessions (ended_at) WHERE ended_at IS NOT NULL;
