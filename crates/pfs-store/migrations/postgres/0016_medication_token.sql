-- A token per patient that every write to their medication list changes, in the same
-- transaction: their courses, and the claims that outstanding requests hold on them (which the
-- list shows as not requestable). Each server instance keeps copies of lists' courses tagged
-- with the token, and the batched session read returns the token (postgres/batch.rs): a copy
-- is used only while the token is the same, so a change made through any instance is seen by
-- the next read on every instance, and a re-read sends no course rows.
--
-- Random, as record_token (0012): a restore puts old rows back, and a counter could come back
-- to a value that once stood for other content. A patient without courses keeps 0.

ALTER TABLE patients ADD COLUMN medication_token BIGINT NOT NULL DEFAULT 0;

UPDATE patients SET medication_token = pfs_random_token()
WHERE id IN (SELECT patient_id FROM medication_courses);

CREATE FUNCTION pfs_medication_token_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        UPDATE patients SET medication_token = pfs_random_token()
        WHERE id IN (SELECT patient_id FROM new_rows);
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE patients SET medication_token = pfs_random_token()
        WHERE id IN (SELECT patient_id FROM old_rows);
    END IF;
    RETURN NULL;
END
$$;

-- The same for claims, which name their course rather than its patient.
CREATE FUNCTION pfs_medication_claim_token_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        UPDATE patients SET medication_token = pfs_random_token()
        WHERE id IN (SELECT c.patient_id FROM medication_courses c
                     JOIN new_rows n ON n.course_id = c.id);
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE patients SET medication_token = pfs_random_token()
        WHERE id IN (SELECT c.patient_id FROM medication_courses c
                     JOIN old_rows o ON o.course_id = c.id);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER medication_courses_token_insert AFTER INSERT ON medication_courses
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION pfs_medication_token_bump();
CREATE TRIGGER medication_courses_token_update AFTER UPDATE ON medication_courses
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION pfs_medication_token_bump();
CREATE TRIGGER medication_courses_token_delete AFTER DELETE ON medication_courses
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION pfs_medication_token_bump();
CREATE TRIGGER outstanding_courses_token_insert AFTER INSERT ON outstanding_courses
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION pfs_medication_claim_token_bump();
CREATE TRIGGER outstanding_courses_token_update AFTER UPDATE ON outstanding_courses
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION pfs_medication_claim_token_bump();
CREATE TRIGGER outstanding_courses_token_delete AFTER DELETE ON outstanding_courses
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION pfs_medication_claim_token_bump();
