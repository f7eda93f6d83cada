-- Stored files: the same tables, keys and semantics as migrations/sqlite/0006_binary_data.sql.

CREATE TABLE binary_data (
    id         TEXT    NOT NULL,
    patient_id TEXT    NOT NULL REFERENCES patients (id),
    kind       TEXT    NOT NULL CHECK (kind IN ('Document', 'Attachment')),
    file_name  TEXT    NOT NULL,
    file_type  TEXT    NOT NULL,
    size       BIGINT  NOT NULL CHECK (size >= 0),
    pages      INTEGER NOT NULL CHECK (pages >= 0),
    uploading  BOOLEAN NOT NULL,
    created_at BIGINT  NOT NULL,
    CONSTRAINT binary_data_pkey PRIMARY KEY (id)
);

CREATE INDEX binary_data_patient_idx ON binary_data (patient_id);

CREATE TABLE binary_data_pages (
    binary_id TEXT    NOT NULL REFERENCES binary_data (id) ON DELETE CASCADE,
    page      INTEGER NOT NULL CHECK (page >= 1),
    bytes     BYTEA   NOT NULL,
    CONSTRAINT binary_data_pages_pkey PRIMARY KEY (binary_id, page)
);

-- PDFs and images are compressed already: store pages out of line without trying again.
ALTER TABLE binary_data_pages ALTER COLUMN bytes SET STORAGE EXTERNAL;
