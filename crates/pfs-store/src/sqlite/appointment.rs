//! Appointment sessions and appointments: [`AppointmentStore`], their row mappers and the
//! booking transaction.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use pfs_core::model::{Appointment, AppointmentSession, BookOutcome, RecordAccess};
use pfs_core::store::{AppointmentStore, StoreError, StoreResult};
use rusqlite::{Connection, Row, TransactionBehavior, params};

use super::SqliteStore;
use super::access_log::insert_record_access;
use super::hot::Appointments;
use super::sql::{Cols, execute, map_err, ms, opt_ms, present, query_all, query_opt};

impl SqliteStore {
    /// A patient's live appointments with their sessions, by start then id: the copy in
    /// [`super::hot`] when it is current, else read in `c`'s transaction and kept, tagged with
    /// `read_at` (the write generation taken before that transaction began). Session.rs
    /// prefetches them with the session.
    pub(super) fn appointments_in(
        &self,
        c: &Connection,
        patient_id: &str,
        read_at: u64,
    ) -> StoreResult<Appointments> {
        let hot = &self.inner.hot;
        if let Some(appointments) = hot.appointments(patient_id, read_at) {
            return Ok(appointments);
        }
        let appointments = read_patient_appointments(c, patient_id)?;
        hot.keep_appointments(patient_id, read_at, &appointments);
        Ok(appointments)
    }
}

/// A patient's live appointments with their sessions, by start then id.
fn read_patient_appointments(
    c: &Connection,
    patient_id: &str,
) -> StoreResult<Vec<(Appointment, AppointmentSession)>> {
    query_all(
        c,
        "appointments",
        PATIENT_APPOINTMENTS,
        [patient_id],
        appointment_with_session_row,
    )
}

/// A patient's live appointments with their sessions, in order (read on every
/// `ViewAppointments`): a constant for a test of its plan.
pub(super) const PATIENT_APPOINTMENTS: &str =
    "SELECT a.id, a.session_id, a.patient_id, a.start_ms, a.end_ms, a.notes,
            a.booked_by, a.booked_at, a.cancelled_at,
            s.id, s.ods, s.session_type, s.staff_details, s.location, s.slot_type,
            s.start_ms, s.slot_minutes, s.slot_count
     FROM appointments a JOIN appointment_sessions s ON s.id = a.session_id
     WHERE a.patient_id = ?1 AND a.cancelled_at IS NULL
     ORDER BY a.start_ms, a.id";

fn appointment_session_row(row: &Row<'_>) -> StoreResult<AppointmentSession> {
    appointment_session_at(row, 0)
}

/// An appointment session whose columns start at `offset` (after another table's, in a join).
fn appointment_session_at(row: &Row<'_>, offset: usize) -> StoreResult<AppointmentSession> {
    let c = Cols {
        offset,
        ..Cols::new(row, "appointment_sessions")
    };
    let slot_minutes: i64 = c.get(7, "slot_minutes")?;
    let slot_count: i64 = c.get(8, "slot_count")?;
    Ok(AppointmentSession {
        id: c.get(0, "id")?,
        ods: c.get(1, "ods")?,
        session_type: c.get(2, "session_type")?,
        staff_details: c.get(3, "staff_details")?,
        location: c.get(4, "location")?,
        slot_type: c.get(5, "slot_type")?,
        start: c.instant(6, "start_ms")?,
        slot_minutes: u32::try_from(slot_minutes)
            .map_err(|_| c.corrupt("slot_minutes", "out of range"))?,
        slot_count: u32::try_from(slot_count)
            .map_err(|_| c.corrupt("slot_count", "out of range"))?,
    })
}

fn appointment_row(row: &Row<'_>) -> StoreResult<Appointment> {
    let c = Cols::new(row, "appointments");
    Ok(Appointment {
        id: c.get(0, "id")?,
        session_id: c.get(1, "session_id")?,
        patient_id: c.get(2, "patient_id")?,
        start: c.instant(3, "start_ms")?,
        end: c.instant(4, "end_ms")?,
        notes: c.get(5, "notes")?,
        booked_by: c.get(6, "booked_by")?,
        booked_at: c.instant(7, "booked_at")?,
        cancelled_at: c.opt_instant(8, "cancelled_at")?,
    })
}

/// An appointment (columns 0..9) joined with its session (9..18).
fn appointment_with_session_row(row: &Row<'_>) -> StoreResult<(Appointment, AppointmentSession)> {
    Ok((appointment_row(row)?, appointment_session_at(row, 9)?))
}

fn count_row(row: &Row<'_>) -> StoreResult<i64> {
    Cols::new(row, "appointments").get(0, "count")
}

const APPOINTMENT_SESSION_COLUMNS: &str =
    "id, ods, session_type, staff_details, location, slot_type,
     start_ms, slot_minutes, slot_count";

/// Selects appointments' columns (as read by `appointment_row`) from `appointments a`.
macro_rules! select_appointments {
    ($rest:literal) => {
        concat!(
            "SELECT a.id, a.session_id, a.patient_id, a.start_ms, a.end_ms, a.notes, a.booked_by,
                    a.booked_at, a.cancelled_at
             FROM appointments a ",
            $rest
        )
    };
}

#[async_trait]
impl AppointmentStore for SqliteStore {
    async fn insert_appointment_session(&self, session: &AppointmentSession) -> StoreResult<()> {
        self.write(|c| {
            execute(
                c,
                "appointment_sessions",
                "INSERT INTO appointment_sessions (id, ods, session_type, staff_details, location,
                                                  slot_type, start_ms, slot_minutes, slot_count)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    session.id,
                    session.ods,
                    session.session_type,
                    session.staff_details,
                    session.location,
                    session.slot_type,
                    ms(session.start),
                    i64::from(session.slot_minutes),
                    i64::from(session.slot_count),
                ],
            )
        })
        .await?;
        Ok(())
    }

    async fn appointment_session(&self, id: &str) -> StoreResult<Option<AppointmentSession>> {
        self.read(|c| {
            query_opt(
                c,
                "appointment_sessions",
                &format!(
                    "SELECT {APPOINTMENT_SESSION_COLUMNS} FROM appointment_sessions WHERE id = ?1"
                ),
                [id],
                appointment_session_row,
            )
        })
    }

    async fn appointment_sessions(
        &self,
        ods: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<Vec<AppointmentSession>> {
        self.read(|c| {
            query_all(
                c,
                "appointment_sessions",
                &format!(
                    "SELECT {APPOINTMENT_SESSION_COLUMNS} FROM appointment_sessions
                     WHERE ods = ?1 AND start_ms >= ?2 AND start_ms < ?3
                     ORDER BY start_ms, id"
                ),
                params![ods, ms(from), ms(to)],
                appointment_session_row,
            )
        })
    }

    async fn practice_appointments(
        &self,
        ods: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<Vec<Appointment>> {
        self.read(|c| {
            query_all(
                c,
                "appointments",
                select_appointments!(
                    "JOIN appointment_sessions s ON s.id = a.session_id
                     WHERE s.ods = ?1 AND a.start_ms >= ?2 AND a.start_ms < ?3
                       AND a.cancelled_at IS NULL
                     ORDER BY a.start_ms, a.id"
                ),
                params![ods, ms(from), ms(to)],
                appointment_row,
            )
        })
    }

    async fn book_appointment(
        &self,
        appointment: &Appointment,
        max_future: u32,
        now: DateTime<Utc>,
        log: &RecordAccess,
    ) -> StoreResult<BookOutcome> {
        let a = appointment;
        self.write(|c| {
            let err = map_err("appointments");
            // The writer connection already serialises writes; IMMEDIATE also keeps another
            // process's writer out between the count and the insert.
            let tx = c
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(&err)?;
            let session = query_opt(
                &tx,
                "appointment_sessions",
                "SELECT 1 FROM appointment_sessions WHERE id = ?1",
                [&a.session_id],
                present,
            )?;
            if session.is_none() {
                return Err(StoreError::NotFound("appointment session".into()));
            }
            let patient = query_opt(
                &tx,
                "patients",
                "SELECT 1 FROM patients WHERE id = ?1",
                [&a.patient_id],
                present,
            )?;
            if patient.is_none() {
                return Err(StoreError::NotFound("patient".into()));
            }
            let future = query_opt(
                &tx,
                "appointments",
                "SELECT count(*) FROM appointments
                 WHERE patient_id = ?1 AND start_ms > ?2 AND cancelled_at IS NULL",
                params![a.patient_id, ms(now)],
                count_row,
            )?
            .unwrap_or(0);
            if future >= i64::from(max_future) {
                return Ok(BookOutcome::LimitReached);
            }
            // A live appointment in the slot makes this insert nothing.
            let inserted = execute(
                &tx,
                "appointments",
                "INSERT INTO appointments (id, session_id, patient_id, start_ms, end_ms, notes,
                                           booked_by, booked_at, cancelled_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                 ON CONFLICT (session_id, start_ms) WHERE cancelled_at IS NULL DO NOTHING",
                params![
                    a.id,
                    a.session_id,
                    a.patient_id,
                    ms(a.start),
                    ms(a.end),
                    a.notes,
                    a.booked_by,
                    ms(a.booked_at),
                    opt_ms(a.cancelled_at),
                ],
            )?;
            if inserted == 0 {
                return Ok(BookOutcome::SlotTaken);
            }
            insert_record_access(&tx, log)?;
            tx.commit().map_err(&err)?;
            Ok(BookOutcome::Booked)
        })
        .await
    }

    async fn appointment(&self, id: &str) -> StoreResult<Option<Appointment>> {
        self.read(|c| {
            query_opt(
                c,
                "appointments",
                select_appointments!("WHERE a.id = ?1"),
                [id],
                appointment_row,
            )
        })
    }

    async fn patient_appointments(
        &self,
        patient_id: &str,
    ) -> StoreResult<Vec<(Appointment, AppointmentSession)>> {
        let read_at = self.inner.hot.generation();
        if let Some(appointments) = self.inner.hot.appointments(patient_id, read_at) {
            return Ok(appointments);
        }
        self.read(|c| self.appointments_in(c, patient_id, read_at))
    }

    async fn cancel_appointment(
        &self,
        id: &str,
        at: DateTime<Utc>,
        log: &RecordAccess,
    ) -> StoreResult<bool> {
        self.write(|c| {
            let tx = c.transaction().map_err(map_err("appointments"))?;
            let changed = execute(
                &tx,
                "appointments",
                "UPDATE appointments SET cancelled_at = ?2
                 WHERE id = ?1 AND cancelled_at IS NULL",
                params![id, ms(at)],
            )?;
            if changed == 0 {
                return Ok(false);
            }
            insert_record_access(&tx, log)?;
            tx.commit().map_err(map_err("appointments"))?;
            Ok(true)
        })
        .await
    }
}
