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
