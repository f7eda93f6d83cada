-- Appointments (sessions of slots, bookings) and the patient record access log: the same
-- tables, keys and semantics as migrations/sqlite/0002_appointments.sql.

-- One clinician's run of `slot_count` equal slots of `slot_minutes` from `start_ms`.
CREATE TABLE appointment_sessions (
    id            TEXT    NOT NULL,
    ods           TEXT    NOT NULL REFERENCES practices (ods),
    session_type  TEXT    NOT NULL,
    staff_details TEXT    NOT NULL,
    location      TEXT    NOT NULL,
    slot_type     TEXT    NOT NULL,
    start_ms      BIGINT  NOT NULL,
    slot_minutes  BIGINT  NOT NULL CHECK (slot_minutes >= 0),
    slot_count    BIGINT  NOT NULL CHECK (slot_count >= 0),
    CONSTRAINT appointment_sessions_pkey PRIMARY KEY (id)
);

-- appointment_sessions(ods, from, to); also serves the foreign key.
CREATE INDEX appointment_sessions_ods_start_idx ON appointment_sessions (ods, start_ms);

CREATE TABLE appointments (
    id           TEXT   NOT NULL,
    session_id   TEXT   NOT NULL REFERENCES appointment_sessions (id),
    patient_id   TEXT   NOT NULL REFERENCES patients (id),
    start_ms     BIGINT NOT NULL,
    end_ms       BIGINT NOT NULL,
    notes        TEXT,
    booked_by    TEXT   NOT NULL,
    booked_at    BIGINT NOT NULL,
    cancelled_at BIGINT,
    CONSTRAINT appointments_pkey PRIMARY KEY (id)
);

-- At most one live appointment per slot: this is what makes exactly one booking win, across
-- every server instance. Also serves practice_appointments and the foreign key.
CREATE UNIQUE INDEX appointments_slot_key ON appointments (session_id, start_ms)
    WHERE cancelled_at IS NULL;
-- patient_appointments and the per-patient future count; also serves the foreign key.
CREATE INDEX appointments_patient_start_idx ON appointments (patient_id, start_ms);

CREATE TABLE record_accesses (
    id           BIGINT GENERATED ALWAYS AS IDENTITY,
    patient_id   TEXT   NOT NULL REFERENCES patients (id),
    at_ms        BIGINT NOT NULL,
    accessed_by  TEXT   NOT NULL,
    organisation TEXT   NOT NULL,
    access_type  TEXT   NOT NULL,
    method       TEXT   NOT NULL,
    CONSTRAINT record_accesses_pkey PRIMARY KEY (id)
);

-- record_accesses(patient, from, to), oldest first.
CREATE INDEX record_accesses_patient_at_idx ON record_accesses (patient_id, at_ms);
