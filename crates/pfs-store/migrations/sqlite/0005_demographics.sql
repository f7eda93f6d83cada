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
