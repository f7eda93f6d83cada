//! Appointment calls of a [`Session`]: slots, booking, the patient's appointments,
//! cancelling, and the practice's guidance texts.

use chrono::NaiveDateTime;
use pfs_wire::{
    BookAppointment, BookAppointmentReply, CancelAppointment, CancelAppointmentReply, ListSlots,
    ListSlotsReply, RequestSystmOnlineMessages, RequestSystmOnlineMessagesReply, UpperYesNo,
    ViewAppointments, ViewAppointmentsReply,
};

use crate::error::Result;
use crate::session::Session;

impl Session {
    /// `ListSlots` for the selected patient: the free slots from `start` (UK wall-clock time,
    /// usually "now"; a start in the past is read as now) for `days` days (capped at the
    /// practice's booking window, which the reply gives as `bookable_days`).
    ///
    /// A read: retried after transient failures under the retry policy. Errors (besides `3` and
    /// `9010`): `6`.
    pub async fn list_slots(&self, start: NaiveDateTime, days: u32) -> Result<ListSlotsReply> {
        let req = ListSlots {
            header: self.header(),
            scope: self.scope(),
            start_date: start,
            number_of_days: days,
        };
        self.request(&req).await
    }

    /// `BookAppointment`: books the slot of session `session_id` from `start` to `end` (UK
    /// wall-clock times, exactly as `ListSlots` gave them) for the selected patient, with an
    /// optional reason (at most 500 characters).
    ///
    /// A write: retried only when it certainly was not processed (see
    /// [`RetryPolicy`](crate::RetryPolicy)). Errors (besides `3` and `9010`): `1102` (no such
    /// slot), `1103` (already booked), `5` (in the past), `7` (limit reached), `9011` (notes too
    /// long), `6`.
    pub async fn book_appointment(
        &self,
        session_id: &str,
        start: NaiveDateTime,
        end: NaiveDateTime,
        notes: Option<&str>,
    ) -> Result<BookAppointmentReply> {
        let req = BookAppointment {
            header: self.header(),
            scope: self.scope(),
            session_id: session_id.to_owned(),
            start_date: start,
            end_date: end,
            notes: notes.map(str::to_owned),
        };
        self.request(&req).await
    }

    /// `ViewAppointments`: the selected patient's upcoming (`future`) or past appointments.
    ///
    /// A read: retried after transient failures under the retry policy. Errors (besides `3` and
    /// `9010`): `6`.
    pub async fn view_appointments(&self, future: bool) -> Result<ViewAppointmentsReply> {
        let req = ViewAppointments {
            header: self.header(),
            scope: self.scope(),
            future_appointments: UpperYesNo(future),
        };
        self.request(&req).await
    }

    /// `CancelAppointment`: cancels one of the selected patient's appointments.
    ///
    /// A write: retried only when it certainly was not processed (see
    /// [`RetryPolicy`](crate::RetryPolicy)). Errors (besides `3` and `9010`): `9012` (no such
    /// appointment), `5` (in the past), `40` (within the cut-off), `6`.
    pub async fn cancel_appointment(&self, appt_id: &str) -> Result<CancelAppointmentReply> {
        let req = CancelAppointment {
            header: self.header(),
            scope: self.scope(),
            appt_id: appt_id.to_owned(),
        };
        self.request(&req).await
    }

    /// `RequestSystmOnlineMessages`: the practice's guidance texts.
    ///
    /// A read: retried after transient failures under the retry policy.
    pub async fn request_systm_online_messages(&self) -> Result<RequestSystmOnlineMessagesReply> {
        let req = RequestSystmOnlineMessages {
            header: self.header(),
            scope: self.scope(),
        };
        self.request(&req).await
    }
}
