-- Medication courses, the version of each patient's list, which version each session last
-- fetched, and prescription requests: the same tables, keys and semantics as
-- migrations/sqlite/0004_medication.sql. Then the functions that make an order, an amendment
-- and the settling of a request one round trip (and one transaction) each, as the booking
-- function of 0003 does for a booking.
--
-- Lock order, the same in every function and statement here so that none can deadlock with
-- another: a request's row, then course rows, then the patient's medication_versions row, then
-- outstanding_courses rows. (The KEY SHARE locks that foreign key checks take on courses and
-- patients conflict with none of the writes here, which never change a key.)

CREATE TABLE medication_courses (
    id             TEXT    NOT NULL,
    patient_id     TEXT    NOT NULL REFERENCES patients (id),
    drug           TEXT    NOT NULL,
    details        TEXT    NOT NULL,
    course_type    TEXT    NOT NULL CHECK (course_type IN ('Repeat', 'Acute')),
    requestable    BOOLEAN NOT NULL,
    online_visible BOOLEAN NOT NULL,
    started_on     DATE    NOT NULL,
    stopped_on     DATE,
    last_issued_at BIGINT,
    issue_count    BIGINT  NOT NULL CHECK (issue_count >= 0),
    max_issues     BIGINT  CHECK (max_issues >= 0),
    CONSTRAINT medication_courses_pkey PRIMARY KEY (id)
);

-- A patient's courses by drug name; also serves the foreign key.
CREATE INDEX medication_courses_patient_idx ON medication_courses (patient_id, drug, id);

-- The version of a patient's list: moved by every change to one of their courses. No row is
-- version 0. An order locks the row (FOR SHARE) while it checks the version and writes, and
-- every course change moves it with INSERT ... ON CONFLICT DO UPDATE, which takes the row's
-- exclusive lock: so a course change waits for an order under way, and an order waits for a
-- course change under way and then sees its new version.
CREATE TABLE medication_versions (
    patient_id TEXT   NOT NULL REFERENCES patients (id),
    version    BIGINT NOT NULL,
    CONSTRAINT medication_versions_pkey PRIMARY KEY (patient_id)
);

-- The version of a patient's list a session last fetched; goes with the session (when
-- purge_sessions deletes it).
CREATE TABLE medication_list_views (
    suid_hash  TEXT   NOT NULL REFERENCES sessions (suid_hash) ON DELETE CASCADE,
    patient_id TEXT   NOT NULL REFERENCES patients (id),
    version    BIGINT NOT NULL,
    CONSTRAINT medication_list_views_pkey PRIMARY KEY (suid_hash, patient_id)
);

CREATE TABLE prescription_requests (
    id               TEXT   NOT NULL,
    patient_id       TEXT   NOT NULL REFERENCES patients (id),
    requested_by     TEXT   NOT NULL,
    requested_at     BIGINT NOT NULL,
    notes            TEXT,
    status           TEXT   NOT NULL
                     CHECK (status IN ('Requested', 'Issued', 'Rejected', 'Cancelled')),
    status_at        BIGINT NOT NULL,
    practice_comment TEXT,
    CONSTRAINT prescription_requests_pkey PRIMARY KEY (id)
);

-- prescription_requests(patient, from, to), newest first; also serves the foreign key.
CREATE INDEX prescription_requests_patient_idx ON prescription_requests (patient_id, requested_at);
-- pending_prescription_requests: the few requests still waiting.
CREATE INDEX prescription_requests_pending_idx ON prescription_requests (requested_at)
    WHERE status = 'Requested';

CREATE TABLE prescription_request_items (
    request_id  TEXT   NOT NULL REFERENCES prescription_requests (id),
    position    BIGINT NOT NULL,
    course_id   TEXT   NOT NULL REFERENCES medication_courses (id),
    drug        TEXT   NOT NULL,
    course_type TEXT   NOT NULL CHECK (course_type IN ('Repeat', 'Acute')),
    CONSTRAINT prescription_request_items_pkey PRIMARY KEY (request_id, position)
);

CREATE INDEX prescription_request_items_course_idx ON prescription_request_items (course_id);

-- The one outstanding request of a course: the primary key is what makes exactly one of
-- several concurrent orders of a course succeed, across every server instance (a concurrent
-- insert of the same course waits for the first to commit, then inserts nothing).
CREATE TABLE outstanding_courses (
    course_id  TEXT NOT NULL REFERENCES medication_courses (id),
    request_id TEXT NOT NULL REFERENCES prescription_requests (id),
    CONSTRAINT outstanding_courses_pkey PRIMARY KEY (course_id)
);

CREATE INDEX outstanding_courses_request_idx ON outstanding_courses (request_id);

-- Writes a request's items (in the order given: positions 0, 1, ...) and claims their courses
-- for it. When one of the courses is claimed already it raises SQLSTATE PFS01, which the
-- callers catch around a block of their own: that rolls back everything the block wrote (the
-- request, its items, its other claims), so nothing is written unless the whole order is.
CREATE FUNCTION pfs_claim_prescription_items(
    r_id              TEXT,
    item_course_ids   TEXT[],
    item_drugs        TEXT[],
    item_course_types TEXT[]
) RETURNS VOID LANGUAGE plpgsql
-- As in 0003: plan each statement for the call at hand.
SET plan_cache_mode = force_custom_plan
AS $$
DECLARE
    claimed BIGINT;
BEGIN
    INSERT INTO prescription_request_items (request_id, position, course_id, drug, course_type)
        SELECT r_id, i.n - 1, i.course_id, i.drug, i.course_type
        FROM unnest(item_course_ids, item_drugs, item_course_types)
             WITH ORDINALITY AS i (course_id, drug, course_type, n);
    INSERT INTO outstanding_courses (course_id, request_id)
        SELECT course_id, r_id FROM unnest(item_course_ids) AS i (course_id)
        ON CONFLICT (course_id) DO NOTHING;
    GET DIAGNOSTICS claimed = ROW_COUNT;
    IF claimed < coalesce(cardinality(item_course_ids), 0) THEN
        RAISE EXCEPTION USING ERRCODE = 'PFS01', MESSAGE = 'course already requested';
    END IF;
END
$$;

-- A new order (MedicationStore::request_medication) in one round trip.
--
-- Returns 'stored', 'list_changed' or 'already_requested'; only 'stored' writes anything. A
-- clash on the request id is raised as the primary key's unique violation (the caller retries
-- another id), an unknown patient or course as a foreign key violation.
CREATE FUNCTION pfs_request_medication(
    r_id               TEXT,
    r_patient_id       TEXT,
    r_requested_by     TEXT,
    r_requested_at     BIGINT,
    r_notes            TEXT,
    r_status           TEXT,
    r_status_at        BIGINT,
    r_practice_comment TEXT,
    item_course_ids    TEXT[],
    item_drugs         TEXT[],
    item_course_types  TEXT[],
    checked_version    BIGINT,
    log_patient_id     TEXT,
    log_at_ms          BIGINT,
    log_by             TEXT,
    log_organisation   TEXT,
    log_type           TEXT,
    log_method         TEXT
) RETURNS TEXT LANGUAGE plpgsql
SET plan_cache_mode = force_custom_plan
AS $$
DECLARE
    current BIGINT;
BEGIN
    -- Held until commit: a course change of this patient cannot commit between the check and
    -- the order. A patient with no row has no courses, so the list an order was checked
    -- against offered nothing to order (and an order of another patient's course is refused
    -- before it gets here).
    SELECT version INTO current FROM medication_versions
        WHERE patient_id = r_patient_id FOR SHARE;
    IF coalesce(current, 0) <> checked_version THEN
        RETURN 'list_changed';
    END IF;
    BEGIN
        INSERT INTO prescription_requests (id, patient_id, requested_by, requested_at, notes,
                                           status, status_at, practice_comment)
            VALUES (r_id, r_patient_id, r_requested_by, r_requested_at, r_notes, r_status,
                    r_status_at, r_practice_comment);
        PERFORM pfs_claim_prescription_items(r_id, item_course_ids, item_drugs,
                                             item_course_types);
    EXCEPTION WHEN SQLSTATE 'PFS01' THEN
        RETURN 'already_requested';
    END;
    INSERT INTO record_accesses (patient_id, at_ms, accessed_by, organisation, access_type,
                                 method)
        VALUES (log_patient_id, log_at_ms, log_by, log_organisation, log_type, log_method);
    RETURN 'stored';
END
$$;

-- An amendment (MedicationStore::amend_prescription_request) in one round trip: the request's
-- courses and notes replaced, under the rules of an order (its own courses do not count as
-- outstanding).
--
-- Returns 'stored', 'not_found', 'actioned:<status>', 'list_changed' or 'already_requested';
-- only 'stored' writes anything.
CREATE FUNCTION pfs_amend_prescription_request(
    r_id              TEXT,
    r_patient_id      TEXT,
    r_notes           TEXT,
    r_status_at       BIGINT,
    item_course_ids   TEXT[],
    item_drugs        TEXT[],
    item_course_types TEXT[],
    checked_version   BIGINT,
    log_patient_id    TEXT,
    log_at_ms         BIGINT,
    log_by            TEXT,
    log_organisation  TEXT,
    log_type          TEXT,
    log_method        TEXT
) RETURNS TEXT LANGUAGE plpgsql
SET plan_cache_mode = force_custom_plan
AS $$
DECLARE
    current_status  TEXT;
    current_version BIGINT;
BEGIN
    -- The request's row lock serialises this with the request's other amendments and its
    -- settling: whichever comes second sees the first's outcome.
    SELECT status INTO current_status FROM prescription_requests
        WHERE id = r_id FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        RETURN 'not_found';
    END IF;
    IF current_status <> 'Requested' THEN
        RETURN 'actioned:' || current_status;
    END IF;
    SELECT version INTO current_version FROM medication_versions
        WHERE patient_id = r_patient_id FOR SHARE;
    IF coalesce(current_version, 0) <> checked_version THEN
        RETURN 'list_changed';
    END IF;
    BEGIN
        DELETE FROM outstanding_courses WHERE request_id = r_id;
        DELETE FROM prescription_request_items WHERE request_id = r_id;
        PERFORM pfs_claim_prescription_items(r_id, item_course_ids, item_drugs,
                                             item_course_types);
        UPDATE prescription_requests SET notes = r_notes, status_at = r_status_at
            WHERE id = r_id;
    EXCEPTION WHEN SQLSTATE 'PFS01' THEN
        RETURN 'already_requested';
    END;
    INSERT INTO record_accesses (patient_id, at_ms, accessed_by, organisation, access_type,
                                 method)
        VALUES (log_patient_id, log_at_ms, log_by, log_organisation, log_type, log_method);
    RETURN 'stored';
END
$$;

-- Settling a request (MedicationStore::settle_prescription_request) in one round trip: its
-- new status, its courses freed, and when issued, an issue counted on each course and the
-- patient's list moved to a new version.
--
-- Returns 'stored', 'not_found' or 'actioned:<status>'; only 'stored' writes anything.
CREATE FUNCTION pfs_settle_prescription_request(
    r_id             TEXT,
    new_status       TEXT,
    comment          TEXT,
    at_ms            BIGINT,
    log_patient_id   TEXT,
    log_at_ms        BIGINT,
    log_by           TEXT,
    log_organisation TEXT,
    log_type         TEXT,
    log_method       TEXT
) RETURNS TEXT LANGUAGE plpgsql
SET plan_cache_mode = force_custom_plan
AS $$
DECLARE
    current_status TEXT;
    r_patient_id   TEXT;
BEGIN
    SELECT status, patient_id INTO current_status, r_patient_id FROM prescription_requests
        WHERE id = r_id FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        RETURN 'not_found';
    END IF;
    IF current_status <> 'Requested' THEN
        RETURN 'actioned:' || current_status;
    END IF;
    UPDATE prescription_requests
        SET status = new_status, status_at = at_ms, practice_comment = comment
        WHERE id = r_id;
    IF new_status = 'Issued' THEN
        UPDATE medication_courses SET issue_count = issue_count + 1, last_issued_at = at_ms
            WHERE id IN (SELECT course_id FROM prescription_request_items
                         WHERE request_id = r_id);
        INSERT INTO medication_versions (patient_id, version) VALUES (r_patient_id, 1)
            ON CONFLICT (patient_id)
            DO UPDATE SET version = medication_versions.version + 1;
    END IF;
    -- Last, after the version (see the lock order above): an order of one of these courses
    -- waits for this to commit, then finds the course free.
    DELETE FROM outstanding_courses WHERE request_id = r_id;
    INSERT INTO record_accesses (patient_id, at_ms, accessed_by, organisation, access_type,
                                 method)
        VALUES (log_patient_id, log_at_ms, log_by, log_organisation, log_type, log_method);
    RETURN 'stored';
END
$$;
