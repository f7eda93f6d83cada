-- A patient's live appointments are read in (start, id) order on every ViewAppointments. With
-- the index on (patient_id, start_ms) alone, SQLite sorted each result again in a temporary
-- B-tree for the id; with id in the index the rows come out of it in order. The new index
-- serves every query the old one did.
DROP INDEX appointments_patient_start_idx;
CREATE INDEX appointments_patient_start_idx ON appointments (patient_id, start_ms, id);
