-- Booking in one round trip. PostgresStore::book_appointment calls this instead of sending the
-- steps one by one: the same steps, in the same order, but one statement on the wire, so a
-- booking costs one round trip and one commit instead of six round trips.
--
-- Each statement in a (volatile) PL/pgSQL function takes a fresh snapshot under READ COMMITTED,
-- so the count below sees every booking committed before the patient's row lock was ours, exactly
-- as when the statements arrived separately.
--
-- Returns 'booked', 'slot_taken', 'limit_reached', 'no_patient' or 'no_session'. A clash on the
-- appointment id is raised as the primary key's unique violation (the caller retries another id).
CREATE FUNCTION pfs_book_appointment(
    a_id           TEXT,
    a_session_id   TEXT,
    a_patient_id   TEXT,
    a_start_ms     BIGINT,
    a_end_ms       BIGINT,
    a_notes        TEXT,
    a_booked_by    TEXT,
    a_booked_at    BIGINT,
    now_ms         BIGINT,
    max_future     BIGINT,
    log_patient_id TEXT,
    log_at_ms      BIGINT,
    log_by         TEXT,
    log_organisation TEXT,
    log_type       TEXT,
    log_method     TEXT
) RETURNS TEXT LANGUAGE plpgsql
-- Plan each statement for the call at hand: a plan cached while the tables were new (and their
-- statistics said empty) would go on scanning whole tables long after they had grown.
SET plan_cache_mode = force_custom_plan
AS $$
DECLARE
    future BIGINT;
BEGIN
    -- Locking the patient's row serialises that patient's bookings, so the count cannot be
    -- overtaken. NO KEY UPDATE still lets other rows reference the patient meanwhile.
    PERFORM 1 FROM patients WHERE id = a_patient_id FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        RETURN 'no_patient';
    END IF;
    PERFORM 1 FROM appointment_sessions WHERE id = a_session_id;
    IF NOT FOUND THEN
        RETURN 'no_session';
    END IF;
    SELECT count(*) INTO future FROM appointments
        WHERE patient_id = a_patient_id AND start_ms > now_ms AND cancelled_at IS NULL;
    IF future >= max_future THEN
        RETURN 'limit_reached';
    END IF;
    -- The partial unique index decides the race for the slot across every instance: a
    -- concurrent insert of the same slot waits for ours to commit, then inserts nothing.
    INSERT INTO appointments (id, session_id, patient_id, start_ms, end_ms, notes, booked_by,
                              booked_at, cancelled_at)
        VALUES (a_id, a_session_id, a_patient_id, a_start_ms, a_end_ms, a_notes, a_booked_by,
                a_booked_at, NULL)
        ON CONFLICT (session_id, start_ms) WHERE cancelled_at IS NULL DO NOTHING;
    IF NOT FOUND THEN
        RETURN 'slot_taken';
    END IF;
    INSERT INTO record_accesses (patient_id, at_ms, accessed_by, organisation, access_type,
                                 method)
        VALUES (log_patient_id, log_at_ms, log_by, log_organisation, log_type, log_method);
    RETURN 'booked';
END
$$;
