//! Appointments: `ListSlots`, `BookAppointment`, `ViewAppointments`, `CancelAppointment` and
//! `RequestSystmOnlineMessages` (wire reference §2.8–2.12).
//!
//! A slot is never stored: it is derived from its [`AppointmentSession`] (start + n × slot
//! length), and it is free while no live [`Appointment`] holds (session, start). The store
//! decides races ([`crate::AppointmentStore::book_appointment`]); everything else is decided here. Times
//! cross the wire as UK wall-clock time and are turned into instants only by
//! [`crate::uktime`].

use std::collections::HashSet;

use chrono::{DateTime, Duration, Utc};
use pfs_wire::codes::MAX_APPOINTMENT_NOTES;
use pfs_wire::{
    BookAppointment, BookAppointmentReply, CancelAppointment, CancelAppointmentReply, ListSlots,
    ListSlotsReply, RequestSystmOnlineMessages, RequestSystmOnlineMessagesReply, ViewAppointments,
    ViewAppointmentsReply,
};

use crate::error::DomainError;
use crate::model::{Appointment, AppointmentSession, BookOutcome, PatientContext, Prefetch};
use crate::operation::{Access, Call, Operation};
use crate::secrets::{Attempt, with_fresh_id};
use crate::uktime::{to_instant, to_wall_clock};
use crate::{Pfs, StoreError};

/// The service key every appointment message is switched by.
pub const APPOINTMENTS_SERVICE: &str = "appointments";

/// The longest session the practice side may create; bounds how far back `ListSlots` looks for
/// sessions that started earlier but still have future slots.
pub const MAX_SESSION_LENGTH: Duration = Duration::hours(24);

/// The instants of a session's slots, in order: (start, end).
pub fn slots_of(s: &AppointmentSession) -> impl Iterator<Item = (DateTime<Utc>, DateTime<Utc>)> {
    let len = Duration::minutes(i64::from(s.slot_minutes));
    let start = s.start;
    (0..s.slot_count).map(move |i| {
        let at = start + len * i as i32;
        (at, at + len)
    })
}

/// The slot of `session` that starts at `start` and ends at `end`, if there is one.
fn find_slot(s: &AppointmentSession, start: DateTime<Utc>, end: DateTime<Utc>) -> bool {
    let len = Duration::minutes(i64::from(s.slot_minutes));
    let offset = start - s.start;
    if offset < Duration::zero() || len <= Duration::zero() || end != start + len {
        return false;
    }
    let secs = offset.num_seconds();
    let step = len.num_seconds();
    offset.subsec_nanos() == 0 && secs % step == 0 && secs / step < i64::from(s.slot_count)
}

/// How an appointment is described to the patient: `Routine with Dr A Jones`.
pub fn appointment_details(s: &AppointmentSession) -> String {
    match (s.slot_type.trim(), s.staff_details.trim()) {
        ("", "") => s.session_type.clone(),
        (t, "") => t.to_owned(),
        ("", staff) => format!("Appointment with {staff}"),
        (t, staff) => format!("{t} with {staff}"),
    }
}

/// The last instant (exclusive) a patient may see or book at `now`.
fn window_end(now: DateTime<Utc>, days: u32) -> DateTime<Utc> {
    to_instant(to_wall_clock(now) + Duration::days(i64::from(days)))
}

impl Operation for ListSlots {
    const ACCESS: Access = Access::Service(APPOINTMENTS_SERVICE);
    async fn run(&self, pfs: &Pfs, call: &Call<'_>) -> Result<ListSlotsReply, DomainError> {
        pfs.list_slots(call, self).await
    }
}

impl Operation for BookAppointment {
    const ACCESS: Access = Access::Service(APPOINTMENTS_SERVICE);
    async fn run(&self, pfs: &Pfs, call: &Call<'_>) -> Result<BookAppointmentReply, DomainError> {
        pfs.book_appointment(call, self).await
    }
}

impl Operation for ViewAppointments {
    const ACCESS: Access = Access::Service(APPOINTMENTS_SERVICE);
    /// The patient's appointments come with the session read.
    const PREFETCH: Prefetch = Prefetch::Appointments;
    async fn run(&self, pfs: &Pfs, call: &Call<'_>) -> Result<ViewAppointmentsReply, DomainError> {
        pfs.view_appointments(call, self).await
    }
}

impl Operation for CancelAppointment {
    const ACCESS: Access = Access::Service(APPOINTMENTS_SERVICE);
    async fn run(&self, pfs: &Pfs, call: &Call<'_>) -> Result<CancelAppointmentReply, DomainError> {
        pfs.cancel_appointment(call, self).await
    }
}

/// Not switched by the appointments service: the texts also cover medication, and clients
/// ignore this message's failures anyway.
impl Operation for RequestSystmOnlineMessages {
    const ACCESS: Access = Access::Patient;
    async fn run(
        &self,
        pfs: &Pfs,
        call: &Call<'_>,
    ) -> Result<RequestSystmOnlineMessagesReply, DomainError> {
        pfs.request_systm_online_messages(call).await
    }
}

impl Pfs {
    pub(crate) async fn list_slots(
        &self,
        call: &Call<'_>,
        m: &ListSlots,
    ) -> Result<ListSlotsReply, DomainError> {
        let practice = &call.patient()?.practice;
        let now = self.clock.now();
        let window = practice.settings.booking_window_days;
        let from = to_instant(m.start_date).max(now);
        let days = m.number_of_days.min(window);
        let to = to_instant(to_wall_clock(from) + Duration::days(i64::from(days)))
            .min(window_end(now, window));
        let mut sessions_out = Vec::new();
        if from < to {
            let sessions = self
                .store
                .appointment_sessions(&practice.ods, from - MAX_SESSION_LENGTH, to)
                .await?;
            let booked: HashSet<(String, DateTime<Utc>)> = self
                .store
                .practice_appointments(&practice.ods, from - MAX_SESSION_LENGTH, to)
                .await?
                .into_iter()
                .map(|a| (a.session_id, a.start))
                .collect();
            for session in sessions {
                let slots: Vec<pfs_wire::Slot> = slots_of(&session)
                    .filter(|(start, _)| *start >= from && *start < to)
                    .filter(|(start, _)| !booked.contains(&(session.id.clone(), *start)))
                    .map(|(start, end)| pfs_wire::Slot {
                        start_date: to_wall_clock(start),
                        end_date: to_wall_clock(end),
                        slot_type: session.slot_type.clone(),
                    })
                    .collect();
                if slots.is_empty() {
                    continue;
                }
                sessions_out.push(pfs_wire::Session {
                    session_id: session.id,
                    session_type: session.session_type,
                    staff_details: session.staff_details,
                    location: session.location,
                    slots,
                });
            }
        }
        Ok(ListSlotsReply {
            bookable_days: window,
            sessions: sessions_out,
            ..Default::default()
        })
    }

    pub(crate) async fn book_appointment(
        &self,
        call: &Call<'_>,
        m: &BookAppointment,
    ) -> Result<BookAppointmentReply, DomainError> {
        let s = call.session()?;
        let PatientContext {
            patient, practice, ..
        } = call.patient()?;
        let notes = m
            .notes
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_owned);
        if notes
            .as_ref()
            .is_some_and(|n| n.chars().count() > MAX_APPOINTMENT_NOTES)
        {
            return Err(DomainError::NotesTooLong(MAX_APPOINTMENT_NOTES));
        }
        let session = self
            .store
            .appointment_session(m.session_id.trim())
            .await?
            .filter(|x| x.ods == practice.ods)
            .ok_or(DomainError::SlotNotFound(
                "sessionId names no appointment session of the patient's practice",
            ))?;
        let start = to_instant(m.start_date);
        let end = to_instant(m.end_date);
        if !find_slot(&session, start, end) {
            return Err(DomainError::SlotNotFound(
                "startDate and endDate are not a slot of that session",
            ));
        }
        let now = self.clock.now();
        if start < now {
            return Err(DomainError::StartDateInPast("the slot starts in the past"));
        }
        if start >= window_end(now, practice.settings.booking_window_days) {
            return Err(DomainError::SlotNotFound(
                "the slot is outside the practice's booking window",
            ));
        }
        let log = self
            .online_access(s, call.caller, patient, practice, "Booked appointment")
            .await?;
        let new = Appointment {
            id: String::new(),
            session_id: session.id.clone(),
            patient_id: patient.id.clone(),
            start,
            end,
            notes,
            booked_by: s.record.online_user_id.clone(),
            booked_at: now,
            cancelled_at: None,
        };
        let max_future = practice.settings.max_future_appointments;
        let log = &log;
        let booked = with_fresh_id(9, |id| {
            let appointment = Appointment { id, ..new.clone() };
            async move {
                match self
                    .store
                    .book_appointment(&appointment, max_future, now, log)
                    .await
                {
                    Ok(outcome) => Ok(Attempt::Done(outcome)),
                    Err(StoreError::Conflict(_)) => Ok(Attempt::IdTaken),
                    Err(StoreError::NotFound(_)) => {
                        Err(DomainError::SlotNotFound("the session no longer exists"))
                    }
                    Err(e) => Err(e.into()),
                }
            }
        })
        .await?;
        match booked {
            Some(BookOutcome::Booked) => {}
            Some(BookOutcome::SlotTaken) => return Err(DomainError::SlotAlreadyBooked),
            Some(BookOutcome::LimitReached) => {
                return Err(DomainError::AppointmentLimitReached(
                    practice.settings.max_future_appointments,
                ));
            }
            None => {
                return Err(DomainError::Unavailable(
                    "could not allocate an appointment id".into(),
                ));
            }
        }
        Ok(BookAppointmentReply::default())
    }

    pub(crate) async fn view_appointments(
        &self,
        call: &Call<'_>,
        m: &ViewAppointments,
    ) -> Result<ViewAppointmentsReply, DomainError> {
        let s = call.session()?;
        let PatientContext {
            patient, practice, ..
        } = call.patient()?;
        let now = self.clock.now();
        let future = m.future_appointments.0;
        let prefetched = s.named_as(&patient.id).and_then(|n| n.appointments.clone());
        let appointments = match prefetched {
            Some(read) => read,
            None => self.store.patient_appointments(&patient.id).await?,
        };
        let out = appointments
            .into_iter()
            .filter(|(a, _)| (a.start >= now) == future)
            .map(|(a, session)| pfs_wire::Appointment {
                appt_id: a.id,
                start_date: to_wall_clock(a.start),
                end_date: to_wall_clock(a.end),
                details: appointment_details(&session),
                site_name: practice.name.clone(),
                address: practice.address.clone(),
            })
            .collect();
        self.log_online_read(call, "Viewed appointments").await?;
        Ok(ViewAppointmentsReply {
            appointments: out,
            ..Default::default()
        })
    }

    pub(crate) async fn cancel_appointment(
        &self,
        call: &Call<'_>,
        m: &CancelAppointment,
    ) -> Result<CancelAppointmentReply, DomainError> {
        let s = call.session()?;
        let PatientContext {
            patient, practice, ..
        } = call.patient()?;
        // Unknown, cancelled and another patient's appointments get one answer.
        let appointment = self
            .store
            .appointment(m.appt_id.trim())
            .await?
            .filter(|a| a.patient_id == patient.id && a.cancelled_at.is_none())
            .ok_or(DomainError::AppointmentNotFound)?;
        let now = self.clock.now();
        if appointment.start < now {
            return Err(DomainError::StartDateInPast(
                "the appointment has already started or is in the past",
            ));
        }
        let cutoff = practice.settings.cancellation_cutoff_minutes;
        if appointment.start - now < Duration::minutes(i64::from(cutoff)) {
            return Err(DomainError::TooLateToCancel(cutoff));
        }
        let log = self
            .online_access(s, call.caller, patient, practice, "Cancelled appointment")
            .await?;
        if !self
            .store
            .cancel_appointment(&appointment.id, now, &log)
            .await?
        {
            return Err(DomainError::AppointmentNotFound);
        }
        Ok(CancelAppointmentReply::default())
    }

    /// The practice's guidance texts. Not switched by the appointments service: the texts also
    /// cover medication, and clients ignore this message's failures anyway.
    pub(crate) async fn request_systm_online_messages(
        &self,
        call: &Call<'_>,
    ) -> Result<RequestSystmOnlineMessagesReply, DomainError> {
        let practice = &call.patient()?.practice;
        let text = |t: &Option<String>| {
            t.as_deref()
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(str::to_owned)
        };
        let settings = &practice.settings;
        Ok(RequestSystmOnlineMessagesReply {
            book_appointments: text(&settings.booking_guidance),
            request_medication_confirmation: text(&settings.medication_request_confirmation),
            medication: text(&settings.medication_guidance),
            ..Default::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn session(start: DateTime<Utc>) -> AppointmentSession {
        AppointmentSession {
            id: "1".into(),
            ods: "X1".into(),
            session_type: "Morning surgery".into(),
            staff_details: "Dr A Jones".into(),
            location: "Main site".into(),
            slot_type: "Routine".into(),
            start,
            slot_minutes: 10,
            slot_count: 3,
        }
    }

    #[test]
    fn slots_are_on_the_grid() {
        let t0 = Utc.with_ymd_and_hms(2027, 1, 4, 9, 0, 0).unwrap();
        let s = session(t0);
        let all: Vec<_> = slots_of(&s).collect();
        assert_eq!(all.len(), 3);
        assert_eq!(all[2].0, t0 + Duration::minutes(20));
        let m = Duration::minutes;
        assert!(find_slot(&s, t0, t0 + m(10)));
        assert!(find_slot(&s, t0 + m(20), t0 + m(30)));
        assert!(!find_slot(&s, t0 + m(30), t0 + m(40)), "past the last slot");
        assert!(!find_slot(&s, t0 + m(5), t0 + m(15)), "off the grid");
        assert!(!find_slot(&s, t0, t0 + m(20)), "wrong end");
        assert!(!find_slot(&s, t0 - m(10), t0), "before the first slot");
    }

    #[test]
    fn details_text() {
        let s = session(Utc::now());
        assert_eq!(appointment_details(&s), "Routine with Dr A Jones");
    }
}
