//! Appointment sessions (a clinician's run of equal slots) and the bookings in them.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{AdminError, non_empty, ods_code, supported_date, xml_safe};
use crate::model::*;
use crate::secrets::{Attempt, with_fresh_id};
use crate::{Pfs, StoreError};

/// A new appointment session, from the practice's template.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NewAppointmentSession {
    /// Session name, e.g. `Morning surgery`.
    pub session_type: String,
    /// Clinician, e.g. `Dr A Jones (Female)`.
    pub staff_details: String,
    /// Where, e.g. `Main site`.
    pub location: String,
    /// Slot type, e.g. `Routine`.
    pub slot_type: String,
    /// Start of the first slot, UK local wall-clock time `YYYY-MM-DDTHH:MM`.
    #[serde(with = "wall_clock")]
    pub start: NaiveDateTime,
    /// Length of every slot, minutes (1 to 240).
    pub slot_minutes: u32,
    /// Number of slots (1 to 288; the session may last at most 24 hours).
    pub slot_count: u32,
}

/// An appointment session as the practice sees it: the stored session and its start in UK
/// local time.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionView {
    /// The session.
    #[serde(flatten)]
    pub session: AppointmentSession,
    /// Start of the first slot, UK local wall-clock time.
    #[serde(with = "wall_clock")]
    pub start_local: NaiveDateTime,
    /// Slots booked.
    pub booked: u32,
}

/// A booking as the practice sees it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AppointmentView {
    /// The appointment.
    #[serde(flatten)]
    pub appointment: Appointment,
    /// Start, UK local wall-clock time.
    #[serde(with = "wall_clock")]
    pub start_local: NaiveDateTime,
    /// End, UK local wall-clock time.
    #[serde(with = "wall_clock")]
    pub end_local: NaiveDateTime,
}

/// `YYYY-MM-DDTHH:MM` (seconds accepted on input) for UK wall-clock times in the admin API.
mod wall_clock {
    use chrono::NaiveDateTime;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &NaiveDateTime, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&t.format("%Y-%m-%dT%H:%M").to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<NaiveDateTime, D::Error> {
        let text = String::deserialize(d)?;
        super::parse_wall_clock(&text).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "expected UK local time as YYYY-MM-DDTHH:MM in the years {} to {}",
                pfs_wire::scalar::MIN_YEAR,
                pfs_wire::scalar::MAX_YEAR
            ))
        })
    }
}

/// Parses `YYYY-MM-DDTHH:MM` or `YYYY-MM-DDTHH:MM:SS` (a space for the `T` is accepted), in
/// the years the wire carries (`pfs_wire::scalar::MIN_YEAR` to `MAX_YEAR`).
pub fn parse_wall_clock(text: &str) -> Option<NaiveDateTime> {
    use chrono::Datelike;
    let t = text.trim().replacen(' ', "T", 1);
    NaiveDateTime::parse_from_str(&t, "%Y-%m-%dT%H:%M")
        .or_else(|_| NaiveDateTime::parse_from_str(&t, "%Y-%m-%dT%H:%M:%S"))
        .ok()
        .filter(|t| pfs_wire::scalar::is_supported_year(t.year()))
}

/// The instants of UK dates `[from, to]` (whole days); defaults: today and 56 days on.
fn date_range(
    now: DateTime<Utc>,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
) -> Result<(DateTime<Utc>, DateTime<Utc>), AdminError> {
    let from = from.unwrap_or_else(|| crate::uktime::uk_date(now));
    supported_date("from", from)?;
    let to = to.unwrap_or(from + chrono::Days::new(56));
    supported_date("to", to)?;
    if to < from {
        return Err(AdminError::Invalid("to is before from".into()));
    }
    let day = |d: NaiveDate| crate::uktime::to_instant(d.and_time(chrono::NaiveTime::MIN));
    Ok((day(from), day(to + chrono::Days::new(1))))
}

impl Pfs {
    /// Creates an appointment session from a template; its slots are bookable at once.
    pub async fn add_appointment_session(
        &self,
        ods: &str,
        s: NewAppointmentSession,
    ) -> Result<AppointmentSession, AdminError> {
        let ods = ods_code(ods);
        non_empty("sessionType", &s.session_type)?;
        non_empty("staffDetails", &s.staff_details)?;
        non_empty("location", &s.location)?;
        non_empty("slotType", &s.slot_type)?;
        xml_safe("sessionType", &s.session_type)?;
        xml_safe("staffDetails", &s.staff_details)?;
        xml_safe("location", &s.location)?;
        xml_safe("slotType", &s.slot_type)?;
        supported_date("start", s.start.date())?;
        if !(1..=240).contains(&s.slot_minutes) {
            return Err(AdminError::Invalid("slotMinutes must be 1 to 240".into()));
        }
        let length = chrono::Duration::minutes(i64::from(s.slot_minutes) * i64::from(s.slot_count));
        if s.slot_count == 0 || length > crate::appointments::MAX_SESSION_LENGTH {
            return Err(AdminError::Invalid(
                "slotCount must be at least 1 and the session at most 24 hours long".into(),
            ));
        }
        if self.store.practice(&ods).await?.is_none() {
            return Err(AdminError::NotFound("practice".into()));
        }
        let new = AppointmentSession {
            id: String::new(),
            ods,
            session_type: s.session_type.trim().to_owned(),
            staff_details: s.staff_details.trim().to_owned(),
            location: s.location.trim().to_owned(),
            slot_type: s.slot_type.trim().to_owned(),
            start: crate::uktime::to_instant(s.start),
            slot_minutes: s.slot_minutes,
            slot_count: s.slot_count,
        };
        let added = with_fresh_id(8, |id| {
            let session = AppointmentSession { id, ..new.clone() };
            async move {
                match self.store.insert_appointment_session(&session).await {
                    Ok(()) => Ok(Attempt::Done(session)),
                    Err(StoreError::Conflict(_)) => Ok(Attempt::IdTaken),
                    Err(e) => Err(AdminError::from(e)),
                }
            }
        })
        .await?;
        added.ok_or_else(|| AdminError::Store("could not allocate a session id".into()))
    }

    /// A practice's sessions starting on UK dates `from` to `to` (inclusive).
    pub async fn list_appointment_sessions(
        &self,
        ods: &str,
        from: Option<NaiveDate>,
        to: Option<NaiveDate>,
    ) -> Result<Vec<SessionView>, AdminError> {
        let ods = ods_code(ods);
        if self.store.practice(&ods).await?.is_none() {
            return Err(AdminError::NotFound("practice".into()));
        }
        let (from, to) = date_range(self.clock.now(), from, to)?;
        let sessions = self.store.appointment_sessions(&ods, from, to).await?;
        let mut booked: std::collections::HashMap<String, u32> = Default::default();
        for a in self
            .store
            .practice_appointments(&ods, from, to + crate::appointments::MAX_SESSION_LENGTH)
            .await?
        {
            *booked.entry(a.session_id).or_default() += 1;
        }
        Ok(sessions
            .into_iter()
            .map(|session| SessionView {
                start_local: crate::uktime::to_wall_clock(session.start),
                booked: booked.get(&session.id).copied().unwrap_or(0),
                session,
            })
            .collect())
    }

    /// A practice's live bookings starting on UK dates `from` to `to` (inclusive).
    pub async fn list_practice_appointments(
        &self,
        ods: &str,
        from: Option<NaiveDate>,
        to: Option<NaiveDate>,
    ) -> Result<Vec<AppointmentView>, AdminError> {
        let ods = ods_code(ods);
        if self.store.practice(&ods).await?.is_none() {
            return Err(AdminError::NotFound("practice".into()));
        }
        let (from, to) = date_range(self.clock.now(), from, to)?;
        Ok(self
            .store
            .practice_appointments(&ods, from - crate::appointments::MAX_SESSION_LENGTH, to)
            .await?
            .into_iter()
            .filter(|a| a.start >= from && a.start < to)
            .map(|a| AppointmentView {
                start_local: crate::uktime::to_wall_clock(a.start),
                end_local: crate::uktime::to_wall_clock(a.end),
                appointment: a,
            })
            .collect())
    }

    /// Cancels a live, future appointment as the practice (no cut-off applies) and writes the
    /// patient's access log.
    pub async fn cancel_appointment_as_practice(&self, id: &str) -> Result<(), AdminError> {
        let now = self.clock.now();
        let a = self
            .store
            .appointment(id)
            .await?
            .filter(|a| a.cancelled_at.is_none())
            .ok_or_else(|| AdminError::NotFound("appointment".into()))?;
        if a.start < now {
            return Err(AdminError::Invalid("the appointment is in the past".into()));
        }
        let patient = self
            .store
            .patient(&a.patient_id)
            .await?
            .ok_or_else(|| AdminError::NotFound("patient".into()))?;
        let practice = self
            .store
            .practice(&patient.ods)
            .await?
            .ok_or_else(|| AdminError::NotFound("practice".into()))?;
        let log = RecordAccess {
            patient_id: patient.id,
            at: now,
            accessed_by: format!("{} staff", practice.name),
            organisation: practice.name,
            access_type: "Cancelled appointment".to_owned(),
            method: "Practice".to_owned(),
        };
        if !self.store.cancel_appointment(&a.id, now, &log).await? {
            return Err(AdminError::NotFound("appointment".into()));
        }
        Ok(())
    }
}
