-- Patients' contact details and the changes patients ask for online.
--
-- contact_details holds one JSON document per patient (a structured address, telephone
-- numbers, an e-mail address), as practices.settings does: the document is read and written
-- whole. The patient's one-line address stays in patients.address and is written with it.

CREATE TABLE contact_details (
    patient_id TEXT    NOT NULL PRIMARY KEY REFERENCES patients (id),
    details    TEXT    NOT NULL CHECK (json_valid(details)),
    updated_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- seq orders changes made in the same millisecond: one more than the largest so far, taken
-- in the writing transaction (SQLite has one writer at a time).
CREATE TABLE demographics_changes (
    id               TEXT    NOT NULL PRIMARY KEY,
    seq              INTEGER NOT NULL,
    patient_id       TEXT    NOT NULL REFERENCES patients (id),
    requested_by     TEXT    NOT NULL,
    requested_at     INTEGER NOT NULL,
    change           TEXT    NOT NULL CHECK (json_valid(change)),
    status           TEXT    NOT NULL
                     CHECK (status IN ('Applied', 'PendingApproval', 'Rejected', 'Superseded')),
    status_at        INTEGER NOT NULL,
    practice_comment TEXT
) STRICT;

-- demographics_changes(patient, limit), newest first; also serves the foreign key.
CREATE INDEX demographics_changes_patient_idx ON demographics_changes (patient_id, requested_at, seq);
-- pending_demographics_changes: the few changes still waiting.
CREATE INDEX demographics_changes_pending_idx ON demographics_changes (requested_at)
    WHERE status = 'PendingApproval';

-- The community pharmacy directory. area, district, outward and sector are derived from the
-- postcode when a row is written (LS6 3AA: LS, 6, LS6, LS6 3), so that a postcode search is
-- one indexed read of an area; name_lower serves the name search.
CREATE TABLE pharmacies (
    ods             TEXT    NOT NULL PRIMARY KEY,
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
    closed_at       INTEGER
) STRICT;

-- pharmacies_near: the open pharmacies of one area.
CREATE INDEX pharmacies_area_idx ON pharmacies (area, district, outward, sector, postcode, ods)
    WHERE closed_at IS NULL;

CREATE TABLE nominated_pharmacies (
    patient_id   TEXT    NOT NULL PRIMARY KEY REFERENCES patients (id),
    ods          TEXT    NOT NULL REFERENCES pharmacies (ods),
    nominated_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE INDEX nominated_pharmacies_ods_idx ON nominated_pharmacies (ods);

-- When each linked application last logged on (RequestAccountInformation's lastUsed).
ALTER TABLE provider_links ADD COLUMN last_used_at INTEGER;
