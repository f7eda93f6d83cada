-- The patient's record: events and their items, test results, and what each user may see
-- of it online.
--
-- Record text (details, doneBy, location) is stored exactly as the practice entered it.
--
-- Both tables are clustered by patient (WITHOUT ROWID, keyed by patient first): a patient's
-- record is two range scans in key order, with no lookup per row and no sort, which is what
-- RequestPatientRecord of a long record costs. Events are in time order; an event's items in
-- the order entered (seq). Ids stay unique through their own indexes.

CREATE TABLE record_events (
    patient_id TEXT    NOT NULL REFERENCES patients (id),
    at_ms      INTEGER NOT NULL,
    id         TEXT    NOT NULL UNIQUE,
    done_by    TEXT    NOT NULL,
    location   TEXT    NOT NULL,
    PRIMARY KEY (patient_id, at_ms, id)
) STRICT, WITHOUT ROWID;

CREATE TABLE record_items (
    patient_id     TEXT    NOT NULL REFERENCES patients (id),
    event_id       TEXT    NOT NULL REFERENCES record_events (id),
    seq            INTEGER NOT NULL,
    id             TEXT    NOT NULL UNIQUE,
    item_type      TEXT    NOT NULL,
    details        TEXT    NOT NULL,
    snomed_code    TEXT,
    binary_data_id TEXT    UNIQUE REFERENCES binary_data (id),
    visible        INTEGER NOT NULL CHECK (visible IN (0, 1)),
    PRIMARY KEY (patient_id, event_id, seq)
) STRICT, WITHOUT ROWID;

-- The overview's items of a few types.
CREATE INDEX record_items_type_idx ON record_items (patient_id, item_type);

-- vals: the result's values as one JSON array, read and written whole.
CREATE TABLE test_results (
    id         TEXT    NOT NULL PRIMARY KEY,
    patient_id TEXT    NOT NULL REFERENCES patients (id),
    at_ms      INTEGER NOT NULL,
    category   TEXT    NOT NULL,
    name       TEXT    NOT NULL,
    vals       TEXT    NOT NULL CHECK (json_valid(vals)),
    comment    TEXT,
    visible    INTEGER NOT NULL CHECK (visible IN (0, 1))
) STRICT;

CREATE INDEX test_results_patient_idx ON test_results (patient_id, at_ms);

-- grantee_id is the patient themself (their own access) or a proxy. No row: the default.
CREATE TABLE record_grants (
    patient_id   TEXT    NOT NULL REFERENCES patients (id),
    grantee_id   TEXT    NOT NULL REFERENCES patients (id),
    level        TEXT    NOT NULL CHECK (level IN ('None', 'Summary', 'Coded', 'Full')),
    documents    INTEGER NOT NULL CHECK (documents IN (0, 1)),
    test_results INTEGER NOT NULL CHECK (test_results IN (0, 1)),
    PRIMARY KEY (patient_id, grantee_id)
) STRICT, WITHOUT ROWID;
