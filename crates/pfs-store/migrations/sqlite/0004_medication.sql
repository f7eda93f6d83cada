-- Medication courses, the version of each patient's list, which version each session last
-- fetched, and prescription requests. Conventions as in 0001_initial.sql.

CREATE TABLE medication_courses (
    id             TEXT    NOT NULL PRIMARY KEY,
    patient_id     TEXT    NOT NULL REFERENCES patients (id),
    drug           TEXT    NOT NULL,
    details        TEXT    NOT NULL,
    course_type    TEXT    NOT NULL CHECK (course_type IN ('Repeat', 'Acute')),
    requestable    INTEGER NOT NULL CHECK (requestable IN (0, 1)),
    online_visible INTEGER NOT NULL CHECK (online_visible IN (0, 1)),
    started_on     TEXT    NOT NULL,
    stopped_on     TEXT,
    last_issued_at INTEGER,
    issue_count    INTEGER NOT NULL CHECK (issue_count >= 0),
    max_issues     INTEGER CHECK (max_issues >= 0)
) STRICT;

-- A patient's courses by drug name; also serves the foreign key.
CREATE INDEX medication_courses_patient_idx ON medication_courses (patient_id, drug, id);

-- The version of a patient's list: moved by every change to one of their courses. No row is
-- version 0.
CREATE TABLE medication_versions (
    patient_id TEXT    NOT NULL PRIMARY KEY REFERENCES patients (id),
    version    INTEGER NOT NULL
) STRICT;

-- The version of a patient's list a session last fetched; goes with the session.
CREATE TABLE medication_list_views (
    suid_hash  TEXT    NOT NULL REFERENCES sessions (suid_hash) ON DELETE CASCADE,
    patient_id TEXT    NOT NULL REFERENCES patients (id),
    version    INTEGER NOT NULL,
    PRIMARY KEY (suid_hash, patient_id)
) STRICT;

CREATE TABLE prescription_requests (
    id               TEXT    NOT NULL PRIMARY KEY,
    patient_id       TEXT    NOT NULL REFERENCES patients (id),
    requested_by     TEXT    NOT NULL,
    requested_at     INTEGER NOT NULL,
    notes            TEXT,
    status           TEXT    NOT NULL
                     CHECK (status IN ('Requested', 'Issued', 'Rejected', 'Cancelled')),
    status_at        INTEGER NOT NULL,
    practice_comment TEXT
) STRICT;

-- prescription_requests(patient, from, to), newest first; also serves the foreign key.
CREATE INDEX prescription_requests_patient_idx ON prescription_requests (patient_id, requested_at);
-- pending_prescription_requests: the few requests still waiting.
CREATE INDEX prescription_requests_pending_idx ON prescription_requests (requested_at)
    WHERE status = 'Requested';

CREATE TABLE prescription_request_items (
    request_id  TEXT    NOT NULL REFERENCES prescription_requests (id),
    position    INTEGER NOT NULL,
    course_id   TEXT    NOT NULL REFERENCES medication_courses (id),
    drug        TEXT    NOT NULL,
    course_type TEXT    NOT NULL CHECK (course_type IN ('Repeat', 'Acute')),
    PRIMARY KEY (request_id, position)
) STRICT;

CREATE INDEX prescription_request_items_course_idx ON prescription_request_items (course_id);

-- The one outstanding request of a course: the primary key is what makes exactly one of
-- several concurrent orders of a course succeed.
CREATE TABLE outstanding_courses (
    course_id  TEXT NOT NULL PRIMARY KEY REFERENCES medication_courses (id),
    request_id TEXT NOT NULL REFERENCES prescription_requests (id)
) STRICT;

CREATE INDEX outstanding_courses_request_idx ON outstanding_courses (request_id);
