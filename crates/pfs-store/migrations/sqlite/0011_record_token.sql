-- A token per patient that every write to their record changes, in the same transaction:
-- what the server's record cache checks an entry against (pfs-core's record_cache.rs).
--
-- Any insert, update or delete of a record event or item gives the patient a new random
-- 64-bit token through the triggers below, so no write can forget it, whichever code path
-- (the admin API, the demo, a sandbox restore) makes it. Random rather than a counter: a
-- sandbox restore puts old rows back, and a counter could then come back to a value that
-- once stood for other content. A patient whose record was never written keeps 0 (their
-- record is empty).

ALTER TABLE patients ADD COLUMN record_token INTEGER NOT NULL DEFAULT 0;

UPDATE patients SET record_token = random();

CREATE TRIGGER record_events_token_insert AFTER INSERT ON record_events BEGIN
    UPDATE patients SET record_token = random() WHERE id = NEW.patient_id;
END;

CREATE TRIGGER record_events_token_update AFTER UPDATE ON record_events BEGIN
    UPDATE patients SET record_token = random() WHERE id IN (OLD.patient_id, NEW.patient_id);
END;

CREATE TRIGGER record_events_token_delete AFTER DELETE ON record_events BEGIN
    UPDATE patients SET record_token = random() WHERE id = OLD.patient_id;
END;

CREATE TRIGGER record_items_token_insert AFTER INSERT ON record_items BEGIN
    UPDATE patients SET record_token = random() WHERE id = NEW.patient_id;
END;

CREATE TRIGGER record_items_token_update AFTER UPDATE ON record_items BEGIN
    UPDATE patients SET record_token = random() WHERE id IN (OLD.patient_id, NEW.patient_id);
END;

CREATE TRIGGER record_items_token_delete AFTER DELETE ON record_items BEGIN
    UPDATE patients SET record_token = random() WHERE id = OLD.patient_id;
END;
