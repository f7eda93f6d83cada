-- A token per patient that every write to their messages changes, in the same transaction:
-- what each server instance's reply cache checks a cached MessagesView against (pfs-core's
-- reply_cache.rs), so that it holds across instances. The same as
-- migrations/sqlite/0012_messages_token.sql, with statement-level triggers and the random
-- token function of 0012_record_token.sql.
--
-- An attachment's name and type are read from its binary_data row, which is written with the
-- message and never renamed. A patient whose messages were never written keeps 0.

ALTER TABLE patients ADD COLUMN messages_token BIGINT NOT NULL DEFAULT 0;

UPDATE patients SET messages_token = pfs_random_token()
WHERE id IN (SELECT patient_id FROM messages);

CREATE FUNCTION pfs_messages_token_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        UPDATE patients SET messages_token = pfs_random_token()
        WHERE id IN (SELECT patient_id FROM new_rows);
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE patients SET messages_token = pfs_random_token()
        WHERE id IN (SELECT patient_id FROM old_rows);
    END IF;
    RETURN NULL;
END
$$;

-- Attachment rows name their message, not the patient: the patient is the message's.
CREATE FUNCTION pfs_message_attachments_token_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        UPDATE patients SET messages_token = pfs_random_token()
        WHERE id IN (SELECT m.patient_id FROM messages m JOIN new_rows n ON n.message_id = m.id);
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE patients SET messages_token = pfs_random_token()
        WHERE id IN (SELECT m.patient_id FROM messages m JOIN old_rows o ON o.message_id = m.id);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER messages_token_insert AFTER INSERT ON messages
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION pfs_messages_token_bump();
CREATE TRIGGER messages_token_update AFTER UPDATE ON messages
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION pfs_messages_token_bump();
CREATE TRIGGER messages_token_delete AFTER DELETE ON messages
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION pfs_messages_token_bump();
CREATE TRIGGER message_attachments_token_insert AFTER INSERT ON message_attachments
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION pfs_message_attachments_token_bump();
CREATE TRIGGER message_attachments_token_update AFTER UPDATE ON message_attachments
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION pfs_message_attachments_token_bump();
CREATE TRIGGER message_attachments_token_delete AFTER DELETE ON message_attachments
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION pfs_message_attachments_token_bump();
