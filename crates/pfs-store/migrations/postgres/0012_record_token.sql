-- A token per patient that every write to their record changes, in the same transaction:
-- what each server instance's record cache checks an entry against (pfs-core's
-- record_cache.rs), so that it holds across instances. The same as
-- migrations/sqlite/0011_record_token.sql, with statement-level triggers.
--
-- Random rather than a counter: a sandbox restore puts old rows back, and a counter could
-- then come back to a value that once stood for other content. A patient whose record was
-- never written keeps 0 (their record is empty).

-- 64 random bits (60 of them random: the first half of a version 4 UUID).
CREATE FUNCTION pfs_random_token() RETURNS BIGINT LANGUAGE sql VOLATILE AS $$
    SELECT ('x' || substr(replace(gen_random_uuid()::text, '-', ''), 1, 16))::bit(64)::bigint
$$;

ALTER TABLE patients ADD COLUMN record_token BIGINT NOT NULL DEFAULT 0;

UPDATE patients SET record_token = pfs_random_token();

CREATE FUNCTION pfs_record_token_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        UPDATE patients SET record_token = pfs_random_token()
        WHERE id IN (SELECT patient_id FROM new_rows);
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE patients SET record_token = pfs_random_token()
        WHERE id IN (SELECT patient_id FROM old_rows);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER record_events_token_insert AFTER INSERT ON record_events
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION pfs_record_token_bump();
CREATE TRIGGER record_events_token_update AFTER UPDATE ON record_events
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION pfs_record_token_bump();
CREATE TRIGGER record_events_token_delete AFTER DELETE ON record_events
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION pfs_record_token_bump();
CREATE TRIGGER record_items_token_insert AFTER INSERT ON record_items
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION pfs_record_token_bump();
CREATE TRIGGER record_items_token_update AFTER UPDATE ON record_items
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION pfs_record_token_bump();
CREATE TRIGGER record_items_token_delete AFTER DELETE ON record_items
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION pfs_record_token_bump();

-- The record read in key order, as SQLite's clustered tables give it: a patient's events
-- newest first straight from this index (scanned backwards), each event's items from
-- record_items_event_idx in the order entered.
DROP INDEX record_events_patient_idx;
CREATE INDEX record_events_patient_idx ON record_events (patient_id, at_ms, id);
