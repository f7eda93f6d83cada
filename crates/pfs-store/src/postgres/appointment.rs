//! Appointment sessions, appointments and booking: [`AppointmentStore`].

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use pfs_core::model::{Appointment, AppointmentSession, BookOutcome, RecordAccess};
use pfs_core::store::*;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use super::PostgresStore;
use super::sql::{AccessParams, Cols, execute, ms, query_all, query_opt};

/// Selects appointment sessions' columns (as read by `appointment_session_row`).
macro_rules! select_appointment_sessions {
    ($rest:literal) => {
        concat!(
            "SELECT id, ods, session_type, staff_details, location, slot_type, start_ms,
                    slot_minutes, slot_count
             FROM appointment_sessions ",
            $rest
        )
    };
}

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

fn appointment_session_row(row: &Row) -> StoreResult<AppointmentSession> {
    appointment_session_at(row, 0)
}

/// An appointment session whose columns start at `offset` (after another table's, in a join).
fn appointment_session_at(row: &Row, offset: usize) -> StoreResult<AppointmentSession> {
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

fn appointment_row(row: &Row) -> StoreResult<Appointment> {
    appointment_at(row, 0)
}

/// An appointment whose columns start at `offset` (after another table's, in a join).
fn appointment_at(row: &Row, offset: usize) -> StoreResult<Appointment> {
    let c = Cols {
        offset,
        ..Cols::new(row, "appointments")
    };
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
fn appointment_with_session_row(row: &Row) -> StoreResult<(Appointment, AppointmentSession)> {
    appointment_with_session_at(row, 0)
}

/// As [`appointment_with_session_row`], with the columns starting at `offset`.
pub(super) fn appointment_with_session_at(
    row: &Row,
    offset: usize,
) -> StoreResult<(Appointment, AppointmentSession)> {
    Ok((
        appointment_at(row, offset)?,
        appointment_session_at(row, offset + 9)?,
    ))
}

/// Puts a patient's appointments in the order the store promises: by start, then id. (Sorted
/// here rather than by an ORDER BY: the database's sort node allocated enough to make its
/// allocator grow and trim the heap on every call, a tenth of its time.)
pub(super) fn sort_appointments(all: &mut [(Appointment, AppointmentSession)]) {
    all.sort_by(|(a, _), (b, _)| (a.start, &a.id).cmp(&(b.start, &b.id)));
}

#[async_trait]
impl AppointmentStore for PostgresStore {
    async fn insert_appointment_session(&self, session: &AppointmentSession) -> StoreResult<()> {
        execute(
            &self.db,
            "appointment_sessions",
            "INSERT INTO appointment_sessions
                 (id, ods, session_type, staff_details, location, slot_type, start_ms,
                  slot_minutes, slot_count)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            &[
                &session.id,
                &session.ods,
                &session.session_type,
                &session.staff_details,
                &session.location,
                &session.slot_type,
                &ms(session.start),
                &i64::from(session.slot_minutes),
                &i64::from(session.slot_count),
            ],
        )
        .await?;
        Ok(())
    }

    async fn appointment_session(&self, id: &str) -> StoreResult<Option<AppointmentSession>> {
        query_opt(
            &self.db,
            "appointment_sessions",
            select_appointment_sessions!("WHERE id = $1"),
            &[&id],
            appointment_session_row,
        )
        .await
    }

    async fn appointment_sessions(
        &self,
        ods: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<Vec<AppointmentSession>> {
        query_all(
            &self.db,
            "appointment_sessions",
            select_appointment_sessions!(
                "WHERE ods = $1 AND start_ms >= $2 AND start_ms < $3 ORDER BY start_ms, id"
            ),
            &[&ods, &ms(from), &ms(to)],
            appointment_session_row,
        )
        .await
    }

    async fn practice_appointments(
        &self,
        ods: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<Vec<Appointment>> {
        query_all(
            &self.db,
            "appointments",
            select_appointments!(
                "JOIN appointment_sessions s ON s.id = a.session_id
             WHERE s.ods = $1 AND a.start_ms >= $2 AND a.start_ms < $3
               AND a.cancelled_at IS NULL
             ORDER BY a.start_ms, a.id"
            ),
            &[&ods, &ms(from), &ms(to)],
            appointment_row,
        )
        .await
    }

    async fn book_appointment(
        &self,
        appointment: &Appointment,
        max_future: u32,
        now: DateTime<Utc>,
        log: &RecordAccess,
    ) -> StoreResult<BookOutcome> {
        // One round trip: the steps are in the function (migration 0003), which says why.
        let sql = "SELECT pfs_book_appointment(
                 $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)";
        let a = appointment;
        let (start, end, booked_at, now) = (ms(a.start), ms(a.end), ms(a.booked_at), ms(now));
        let max_future = i64::from(max_future);
        let log = AccessParams::new(log);
        let mut params: Vec<&(dyn ToSql + Sync)> = vec![
            &a.id,
            &a.session_id,
            &a.patient_id,
            &start,
            &end,
            &a.notes,
            &a.booked_by,
            &booked_at,
            &now,
            &max_future,
        ];
        params.extend(log.params());
        let outcome: String = self
            .db
            .write("appointments", async |c| {
                let st = c.statement(sql).await?;
                c.client.query_one(&st, &params).await?.try_get(0)
            })
            .await?;
        match outcome.as_str() {
            "booked" => {
                self.contexts.forget_appointments(&a.patient_id);
                Ok(BookOutcome::Booked)
            }
            "slot_taken" => Ok(BookOutcome::SlotTaken),
            "limit_reached" => Ok(BookOutcome::LimitReached),
            "no_patient" => Err(StoreError::NotFound("patient".into())),
            "no_session" => Err(StoreError::NotFound("appointment session".into())),
            _ => Err(StoreError::Other(
                "appointments: unexpected booking outcome".into(),
            )),
        }
    }

    async fn appointment(&self, id: &str) -> StoreResult<Option<Appointment>> {
        let sql = select_appointments!("WHERE a.id = $1");
        query_opt(&self.db, "appointments", sql, &[&id], appointment_row).await
    }

    async fn patient_appointments(
        &self,
        patient_id: &str,
    ) -> StoreResult<Vec<(Appointment, AppointmentSession)>> {
        // Each appointment's session is a lookup of its own, whatever the generic plan guesses
        // about how many appointments a patient has (see `batch.rs`).
        let sql = "SELECT a.id, a.session_id, a.patient_id, a.start_ms, a.end_ms, a.notes,
                    a.booked_by, a.booked_at, a.cancelled_at,
                    s.*
             FROM appointments a
             CROSS JOIN LATERAL (
                 SELECT s.id, s.ods, s.session_type, s.staff_details, s.location, s.slot_type,
                        s.start_ms, s.slot_minutes, s.slot_count
                 FROM appointment_sessions s WHERE s.id = a.session_id
                 OFFSET 0
             ) s
             WHERE a.patient_id = $1 AND a.cancelled_at IS NULL";
        let mut all = query_all(
            &self.db,
            "appointments",
            sql,
            &[&patient_id],
            appointment_with_session_row,
        )
        .await?;
        sort_appointments(&mut all);
        Ok(all)
    }

    async fn cancel_appointment(
        &self,
        id: &str,
        at: DateTime<Utc>,
        log: &RecordAccess,
    ) -> StoreResult<bool> {
        // One statement: the log entry is written only if an appointment was cancelled.
        let sql = "WITH cancelled AS (
                 UPDATE appointments SET cancelled_at = $8
                 WHERE id = $7 AND cancelled_at IS NULL
                 RETURNING patient_id
             )
             INSERT INTO record_accesses
                 (patient_id, at_ms, accessed_by, organisation, access_type, method)
             SELECT $1, $2, $3, $4, $5, $6 FROM cancelled";
        let at = ms(at);
        let entry = AccessParams::new(log);
        let mut params = entry.params().to_vec();
        params.extend([&id as &(dyn ToSql + Sync), &at]);
        let cancelled = execute(&self.db, "appointments", sql, &params).await? > 0;
        // The entry is about the appointment's patient.
        self.contexts.forget_appointments(&log.patient_id);
        Ok(cancelled)
    }
}
