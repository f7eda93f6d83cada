-- The patient's record: the same tables, keys and semantics as
-- migrations/sqlite/0007_record.sql.

CREATE TABLE record_events (
    id         TEXT   NOT NULL,
    patient_id TEXT   NOT NULL REFERENCES patients (id),
    at_ms      BIGINT NOT NULL,
    done_by    TEXT   NOT NULL,
    location   TEXT   NOT NULL,
    CONSTRAINT record_events_pkey PRIMARY KEY (id)
);

CREATE INDEX record_events_patient_idx ON record_events (patient_id, at_ms);

CREATE TABLE record_items (
    id             TEXT    NOT NULL,
    event_id       TEXT    NOT NULL REFERENCES record_events (id),
    patient_id     TEXT    NOT NULL REFERENCES patients (id),
    seq            INTEGER NOT NULL,
    item_type      TEXT    NOT NULL,
    details        TEXT    NOT NULL,
    snomed_code    TEXT,
    binary_data_id TEXT    REFERENCES binary_data (id),
    visible        BOOLEAN NOT NULL,
    CONSTRAINT record_items_pkey PRIMARY KEY (id),
    CONSTRAINT record_items_binary_data_id_key UNIQUE (binary_data_id)
);

CREATE INDEX record_items_event_idx ON record_items (event_id, seq);
CREATE INDEX record_items_type_idx ON record_items (patient_id, item_type);

CREATE TABLE test_results (
    id         TEXT    NOT NULL,
    patient_id TEXT    NOT NULL REFERENCES patients (id),
    at_ms      BIGINT  NOT NULL,
    category   TEXT    NOT NULL,
    name       TEXT    NOT NULL,
    vals       TEXT    NOT NULL,
    comment    TEXT,
    visible    BOOLEAN NOT NULL,
    CONSTRAINT test_results_pkey PRIMARY KEY (id)
);

CREATE INDEX test_results_patient_idx ON test_results (patient_id, at_ms);

CREATE TABLE record_grants (
    patient_id   TEXT    NOT NULL REFERENCES patients (id),
    grantee_id   TEXT    NOT NULL REFERENCES patients (id),
    level        TEXT    NOT NULL CHECK (level IN ('None', 'Summary', 'Coded', 'Full')),
    documents    BOOLEAN NOT NULL,
    test_results BOOLEAN NOT NULL,
    CONSTRAINT record_grants_pkey PRIMARY KEY (patient_id, grantee_id)
);
