-- Stored files: record documents and message attachments (RequestBinaryData).
--
-- A file's description and its pages are apart, so that listing or checking a file never
-- reads its bytes, and a page is read on its own. size and pages are kept with the file as
-- pages are added. The pages table keeps its rowid: a WITHOUT ROWID table stores whole rows in
-- its key's b-tree, which suits small rows, not blobs of megabytes.

CREATE TABLE binary_data (
    id         TEXT    NOT NULL PRIMARY KEY,
    patient_id TEXT    NOT NULL REFERENCES patients (id),
    kind       TEXT    NOT NULL CHECK (kind IN ('Document', 'Attachment')),
    file_name  TEXT    NOT NULL,
    file_type  TEXT    NOT NULL,
    size       INTEGER NOT NULL CHECK (size >= 0),
    pages      INTEGER NOT NULL CHECK (pages >= 0),
    uploading  INTEGER NOT NULL CHECK (uploading IN (0, 1)),
    created_at INTEGER NOT NULL
) STRICT;

CREATE INDEX binary_data_patient_idx ON binary_data (patient_id);

CREATE TABLE binary_data_pages (
    binary_id TEXT    NOT NULL REFERENCES binary_data (id) ON DELETE CASCADE,
    page      INTEGER NOT NULL CHECK (page >= 1),
    bytes     BLOB    NOT NULL
) STRICT;

CREATE UNIQUE INDEX binary_data_pages_key ON binary_data_pages (binary_id, page);
