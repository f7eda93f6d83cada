//! Appointment sessions, their slots' bookings and cancellations.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::StoreResult;
use crate::model::*;

/// Appointment sessions, their slots' bookings and cancellations.
#[async_trait]
pub trait AppointmentStore: Send + Sync {
    /// Adds an appointment session; `Conflict` if the id exists, `NotFound` if the practice
    /// does not.
    async fn insert_appointment_session(&self, session: &AppointmentSession) -> StoreResult<()>;
    /// The appointment session with this id.
    async fn appointment_session(&self, id: &str) -> StoreResult<Option<AppointmentSession>>;
    /// A practice's sessions that start in `[from, to)`, by start then id.
    async fn appointment_sessions(
        &self,
        ods: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<Vec<AppointmentSession>>;
    /// Live (not cancelled) appointments of a practice's sessions starting in `[from, to)`, by
    /// start then id.
    async fn practice_appointments(
        &self,
        ods: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<Vec<Appointment>>;
    /// Books a slot atomically and, in the same transaction, appends `log` to the access log:
    /// `SlotTaken` if a live appointment holds (session, start); `LimitReached` if the patient
    /// already holds `max_future` live appointments starting after `now` (nothing is written
    /// for either). Exactly one of any number of concurrent bookings of a slot succeeds, on
    /// every backend. `NotFound` if the session or patient does not exist.
    async fn book_appointment(
        &self,
        appointment: &Appointment,
        max_future: u32,
        now: DateTime<Utc>,
        log: &RecordAccess,
    ) -> StoreResult<BookOutcome>;
    /// The appointment with this id (cancelled or not).
    async fn appointment(&self, id: &str) -> StoreResult<Option<Appointment>>;
    /// A patient's live appointments, each with its session, by start then id.
    async fn patient_appointments(
        &self,
        patient_id: &str,
    ) -> StoreResult<Vec<(Appointment, AppointmentSession)>>;
    /// Cancels a live appointment, freeing its slot, and appends `log` to the access log in the
    /// same transaction; false (and nothing written) if unknown or already cancelled.
    async fn cancel_appointment(
        &self,
        id: &str,
        at: DateTime<Utc>,
        log: &RecordAccess,
    ) -> StoreResult<bool>;
}
