-- A token per patient that every write to their appointments changes, in the same transaction:
-- their appointments (a booking, a cancellation, anything else), and the appointment sessions
-- those appointments are in (which a patient's appointments are read with). Each server
-- instance keeps copies of patients' appointments tagged with the token, and the batched
-- session read returns the token (postgres/batch.rs): while every read of a batch finds its
-- copy's token, the statement leaves the appointments' tables out altogether, whose plan
-- nodes cost the database their set-up on every execution whether they run or not.
--
-- Random, as record_token (0012) and medication_token (0016): a restore puts old rows back, and
-- a counter could come back to a value that once stood for other content. A patient without
-- appointments keeps 0.

ALTER TABLE patients ADD COLUMN appointments_token BIGINT NOT NULL DEFAULT 0;

UPDATE patients SET appointments_token = pfs_random_token()
WHERE id IN (SELECT patient_id FROM appointments);

CREATE FUNCTION pfs_appointments_token_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        UPDATE patients SET appointments_token = pfs_random_token()
        WHERE id IN (SELECT patient_id FROM new_rows);
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE patients SET appointments_token = pfs_random_token()
        WHERE id IN (SELECT patient_id FROM old_rows);
    END IF;
    RETURN NULL;
END
$$;

-- The same for changes to appointment sessions, which their appointments name. (A session
-- with appointments cannot be deleted: their foreign key refuses it.)
CREATE FUNCTION pfs_appointment_session_token_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE patients SET appointments_token = pfs_random_token()
    WHERE id IN (SELECT a.patient_id FROM appointments a
                 JOIN old_rows o ON o.id = a.session_id);
    RETURN NULL;
END
$$;

CREATE TRIGGER appointments_token_insert AFTER INSERT ON appointments
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION pfs_appointments_token_bump();
CREATE TRIGGER appointments_token_update AFTER UPDATE ON appointments
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION pfs_appointments_token_bump();
CREATE TRIGGER appointments_token_delete AFTER DELETE ON appointments
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION pfs_appointments_token_bump();
CREATE TRIGGER appointment_sessions_token_update AFTER UPDATE ON appointment_sessions
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION pfs_appointment_session_token_bump();
