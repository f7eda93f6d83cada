-- A token per patient that every write to their messages changes, in the same transaction:
-- what the server's reply cache checks a cached MessagesView against (pfs-core's
-- reply_cache.rs). The same scheme as the record token (0011_record_token.sql).
--
-- Any insert, update or delete of a message (sent, read, deleted, a practice's reply) or of a
-- message's attachment row gives the patient a new random 64-bit token through the triggers
-- below, whichever code path makes it. An attachment's name and type are read from its
-- binary_data row, which is written with the message and never renamed.
--
-- A sandbox restore here copies messages before patients (tables in name order, the patients
-- table empty meanwhile), so the triggers change nothing and each patient gets back the token
-- the snapshot recorded with their rows: the token that stood for exactly those rows, never a
-- value that stood for others (it is random, not a counter). A patient whose messages were
-- never written keeps 0 (they have none).

ALTER TABLE patients ADD COLUMN messages_token INTEGER NOT NULL DEFAULT 0;

UPDATE patients SET messages_token = random()
WHERE id IN (SELECT patient_id FROM messages);

CREATE TRIGGER messages_token_insert AFTER INSERT ON messages BEGIN
    UPDATE patients SET messages_token = random() WHERE id = NEW.patient_id;
END;

CREATE TRIGGER messages_token_update AFTER UPDATE ON messages BEGIN
    UPDATE patients SET messages_token = random() WHERE id IN (OLD.patient_id, NEW.patient_id);
END;

CREATE TRIGGER messages_token_delete AFTER DELETE ON messages BEGIN
    UPDATE patients SET messages_token = random() WHERE id = OLD.patient_id;
END;

CREATE TRIGGER message_attachments_token_insert AFTER INSERT ON message_attachments BEGIN
    UPDATE patients SET messages_token = random()
    WHERE id = (SELECT patient_id FROM messages WHERE id = NEW.message_id);
END;

CREATE TRIGGER message_attachments_token_update AFTER UPDATE ON message_attachments BEGIN
    UPDATE patients SET messages_token = random()
    WHERE id IN (SELECT patient_id FROM messages WHERE id IN (OLD.message_id, NEW.message_id));
END;

CREATE TRIGGER message_attachments_token_delete AFTER DELETE ON message_attachments BEGIN
    UPDATE patients SET messages_token = random()
    WHERE id = (SELECT patient_id FROM messages WHERE id = OLD.message_id);
END;
