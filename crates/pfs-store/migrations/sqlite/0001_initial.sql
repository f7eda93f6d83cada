-- openpfs schema for SQLite.
--
-- Conventions (kept so the same design ports to PostgreSQL):
--   * every instant is INTEGER unix milliseconds, UTC (PostgreSQL: BIGINT);
--   * booleans are INTEGER 0/1 (PostgreSQL: BOOLEAN);
--   * dates are TEXT 'YYYY-MM-DD' (PostgreSQL: DATE);
--   * practice settings are one JSON document in TEXT (PostgreSQL: JSONB);
--   * unique constraints are named <table>_<column>_key, as PostgreSQL names them.
-- STRICT and WITHOUT ROWID are SQLite-only storage details.

CREATE TABLE providers (
    id               TEXT    NOT NULL PRIMARY KEY,
    name             TEXT    NOT NULL,
    fingerprint      TEXT    NOT NULL,
    trusted_identity INTEGER NOT NULL CHECK (trusted_identity IN (0, 1)),
    created_at       INTEGER NOT NULL,
    revoked_at       INTEGER,
    CONSTRAINT providers_fingerprint_key UNIQUE (fingerprint)
) STRICT;

CREATE TABLE practices (
    ods      TEXT NOT NULL PRIMARY KEY,
    name     TEXT NOT NULL,
    address  TEXT NOT NULL,
    settings TEXT NOT NULL CHECK (json_valid(settings))
) STRICT;

CREATE TABLE patients (
    id            TEXT NOT NULL PRIMARY KEY,
    ods           TEXT NOT NULL REFERENCES practices (ods),
    nhs_number    TEXT NOT NULL,
    title         TEXT,
    first_name    TEXT NOT NULL,
    last_name     TEXT NOT NULL,
    date_of_birth TEXT NOT NULL
        CHECK (date_of_birth GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]'),
    gender        TEXT NOT NULL,
    address       TEXT NOT NULL,
    CONSTRAINT patients_nhs_number_key UNIQUE (nhs_number)
) STRICT;

-- list_patients(Some(ods)) in id order; also serves the foreign key.
CREATE INDEX patients_ods_idx ON patients (ods, id);

CREATE TABLE online_accounts (
    id         TEXT    NOT NULL PRIMARY KEY,
    patient_id TEXT    NOT NULL REFERENCES patients (id),
    email      TEXT,
    mobile     TEXT,
    created_at INTEGER NOT NULL,
    ended_at   INTEGER,
    CONSTRAINT online_accounts_patient_id_key UNIQUE (patient_id)
) STRICT;

-- The one active linkage key of an account (argon2id PHC string).
CREATE TABLE linkage_keys (
    account_id TEXT    NOT NULL PRIMARY KEY REFERENCES online_accounts (id),
    key_hash   TEXT    NOT NULL,
    issued_at  INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE TABLE provider_links (
    account_id      TEXT    NOT NULL REFERENCES online_accounts (id),
    provider_id     TEXT    NOT NULL REFERENCES providers (id),
    passphrase_hash TEXT    NOT NULL,
    linked_at       INTEGER NOT NULL,
    PRIMARY KEY (account_id, provider_id)
) STRICT, WITHOUT ROWID;

-- Failed linkage attempts. No foreign keys: the account id is whatever the caller typed
-- and need not exist.
CREATE TABLE link_throttles (
    account_id   TEXT    NOT NULL,
    provider_id  TEXT    NOT NULL,
    failures     INTEGER NOT NULL CHECK (failures >= 0),
    locked_until INTEGER,
    PRIMARY KEY (account_id, provider_id)
) STRICT, WITHOUT ROWID;

-- grantee_id is an online user id, i.e. the account holder's patient id.
CREATE TABLE proxy_grants (
    grantee_id TEXT    NOT NULL REFERENCES patients (id),
    patient_id TEXT    NOT NULL REFERENCES patients (id),
    granted_at INTEGER NOT NULL,
    PRIMARY KEY (grantee_id, patient_id)
) STRICT, WITHOUT ROWID;

CREATE TABLE practice_services (
    ods     TEXT    NOT NULL REFERENCES practices (ods),
    service TEXT    NOT NULL,
    enabled INTEGER NOT NULL CHECK (enabled IN (0, 1)),
    PRIMARY KEY (ods, service)
) STRICT, WITHOUT ROWID;

CREATE TABLE patient_services (
    patient_id TEXT    NOT NULL REFERENCES patients (id),
    service    TEXT    NOT NULL,
    enabled    INTEGER NOT NULL CHECK (enabled IN (0, 1)),
    PRIMARY KEY (patient_id, service)
) STRICT, WITHOUT ROWID;

-- Sessions, keyed by the SHA-256 of the suid (the suid itself is never stored).
CREATE TABLE sessions (
    suid_hash           TEXT    NOT NULL PRIMARY KEY,
    provider_id         TEXT    NOT NULL REFERENCES providers (id),
    account_id          TEXT    NOT NULL REFERENCES online_accounts (id),
    online_user_id      TEXT    NOT NULL REFERENCES patients (id),
    selected_patient_id TEXT    NOT NULL REFERENCES patients (id),
    created_at          INTEGER NOT NULL,
    last_seen_at        INTEGER NOT NULL,
    ended_at            INTEGER
) STRICT, WITHOUT ROWID;

-- revoke_provider and end_account end the open sessions of one provider / account.
CREATE INDEX sessions_provider_idx ON sessions (provider_id);
CREATE INDEX sessions_account_idx ON sessions (account_id);
-- purge_sessions: ended_at < ? OR last_seen_at < ? (one index per arm).
CREATE INDEX sessions_last_seen_idx ON sessions (last_seen_at);
CREATE INDEX sessions_ended_idx ON sessions (ended_at) WHERE ended_at IS NOT NULL;
