-- The record-access log numbers its entries without AUTOINCREMENT.
--
-- Nearly every answered request adds an entry. With AUTOINCREMENT each insert also read and
-- rewrote the table's row in sqlite_sequence; without it SQLite gives each new row the largest
-- id plus one, which still numbers entries in the order they were logged (ties of the same
-- instant are listed by id). The only difference: an id whose entry was the newest and was
-- deleted (with a sandbox namespace's patients) may be given again, and nothing keeps ids.
--
-- SQLite cannot drop AUTOINCREMENT from a table, so the table is made again with its rows, in
-- the migrations' transaction: 1.8 s for a million entries on a 2-core development machine,
-- during which the server has not yet started answering.
CREATE TABLE record_accesses_new (
    id           INTEGER PRIMARY KEY,
    patient_id   TEXT    NOT NULL REFERENCES patients (id),
    at_ms        INTEGER NOT NULL,
    accessed_by  TEXT    NOT NULL,
    organisation TEXT    NOT NULL,
    access_type  TEXT    NOT NULL,
    method       TEXT    NOT NULL
) STRICT;
INSERT INTO record_accesses_new (id, patient_id, at_ms, accessed_by, organisation, access_type,
                                 method)
SELECT id, patient_id, at_ms, accessed_by, organisation, access_type, method
FROM record_accesses;
DROP TABLE record_accesses;
ALTER TABLE record_accesses_new RENAME TO record_accesses;

-- record_accesses(patient, from, to), oldest first.
CREATE INDEX record_accesses_patient_at_idx ON record_accesses (patient_id, at_ms);
