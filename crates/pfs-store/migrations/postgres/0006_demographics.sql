-- Patients' contact details and the changes patients ask for online: the same tables, keys
-- and semantics as migrations/sqlite/0005_demographics.sql. The JSON documents are TEXT, read
-- and written whole by the store (never queried inside).

CREATE TABLE contact_details (
    patient_id TEXT   NOT NULL REFERENCES patients (id),
    details    TEXT   NOT NULL,
    updated_at BIGINT NOT NULL,
    CONSTRAINT contact_details_pkey PRIMARY KEY (patient_id)
);

-- seq orders changes made in the same millisecond.
CREATE TABLE demographics_changes (
    id               TEXT   NOT NULL,
    seq              BIGINT GENERATED ALWAYS AS IDENTITY,
    patient_id       TEXT   NOT NULL REFERENCES patients (id),
    requested_by     TEXT   NOT NULL,
    requested_at     BIGINT NOT NULL,
    change           TEXT   NOT NULL,
    status           TEXT   NOT NULL
                     CHECK (status IN ('Applied', 'PendingApproval', 'Rejected', 'Superseded')),
    status_at        BIGINT NOT NULL,
    practice_comment TEXT,
    CONSTRAINT demographics_changes_pkey PRIMARY KEY (id)
);

CREATE INDEX demographics_changes_patient_idx ON demographics_changes (patient_id, requested_at, seq);
CREATE INDEX demographics_changes_pending_idx ON demographics_changes (requested_at)
    WHERE status = 'PendingApproval';

-- The community pharmacy directory, as in migrations/sqlite/0005_demographics.sql.
CREATE TABLE pharmacies (
    ods             TEXT    NOT NULL,
    name            TEXT    NOT NULL,
    name_lower      TEXT    NOT NULL,
    house_name_flat TEXT,
    street          TEXT,
    village         TEXT,
    town            TEXT,
    county          TEXT,
    postcode        TEXT    NOT NULL,
    area            TEXT    NOT NULL,
    district        INTEGER NOT NULL,
    outward         TEXT    NOT NULL,
    sector          TEXT    NOT NULL,
    telephone       TEXT,
    closed_at       BIGINT,
    CONSTRAINT pharmacies_pkey PRIMARY KEY (ods)
);

-- pharmacies_near: everything the order needs, so that it is decided on the index alone.
CREATE INDEX pharmacies_area_idx ON pharmacies (area, district, outward, sector, postcode, ods)
    WHERE closed_at IS NULL;

CREATE TABLE nominated_pharmacies (
    patient_id   TEXT   NOT NULL REFERENCES patients (id),
    ods          TEXT   NOT NULL REFERENCES pharmacies (ods),
    nominated_at BIGINT NOT NULL,
    CONSTRAINT nominated_pharmacies_pkey PRIMARY KEY (patient_id)
);

CREATE INDEX nominated_pharmacies_ods_idx ON nominated_pharmacies (ods);

-- When each linked application last logged on (RequestAccountInformation's lastUsed).
ALTER TABLE provider_links ADD COLUMN last_used_at BIGINT;
