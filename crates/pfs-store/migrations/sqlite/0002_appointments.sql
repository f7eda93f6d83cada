-- Appointments (sessions of slots, bookings) and the patient record access log.
-- Conventions as in 0001_initial.sql.

-- One clinician's run of `slot_count` equal slots of `slot_minutes` from `start_ms`.
CREATE TABLE appointment_sessions (
    id           TEXT    NOT NULL PRIMARY KEY,
    ods          TEXT    NOT NULL REFERENCES practices (ods),
    session_type TEXT    NOT NULL,
    staff_details TEXT    NOT NULL,
    location     TEXT    NOT NULL,
    slot_type    TEXT    NOT NULL,
    start_ms     INTEGER NOT NULL,
    slot_minutes INTEGER NOT NULL CHECK (slot_minutes >= 0),
    slot_count   INTEGER NOT NULL CHECK (slot_count >= 0)
) STRICT;

-- appointment_sessions(ods, from, to); also serves the foreign key.
CREATE INDEX appointment_sessions_ods_start_idx ON appointment_sessions (ods, start_ms);

CREATE TABLE appointments (
    id           TEXT    NOT NULL PRIMARY KEY,
    session_id   TEXT    NOT NULL REFERENCES appointment_sessions (id),
    patient_id   TEXT    NOT NULL REFERENCES patients (id),
    start_ms     INTEGER NOT NULL,
    end_ms       INTEGER NOT NULL,
    notes        TEXT,
    booked_by    TEXT    NOT NULL,
    booked_at    INTEGER NOT NULL,
    cancelled_at INTEGER
) STRICT;

-- At most one live appointment per slot: this is what makes exactly one booking win.
-- Also serves practice_appointments (per session, by start) and the foreign key.
CREATE UNIQUE INDEX appointments_slot_key ON appointments (session_id, start_ms)
    WHERE cancelled_at IS NULL;
-- patient_appointments and the per-patient future count; also serves the foreign key.
CREATE INDEX appointments_patient_start_idx ON appointments (patient_id, start_ms);

CREATE TABLE record_accesses (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    patient_id   TEXT    NOT NULL REFERENCES patients (id),
    at_ms        INTEGER NOT NULL,
    accessed_by  TEXT    NOT NULL,
    organisation TEXT    NOT NULL,
    access_type  TEXT    NOT NULL,
    method       TEXT    NOT NULL
) STRICT;

-- record_accesses(patient, from, to), oldest first.
CREATE INDEX record_accesses_patient_at_idx ON record_accesses (patient_id, at_ms);
