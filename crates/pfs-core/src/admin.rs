//! The practice side: what the admin API and `pfs admin` do, as plain functions.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use crate::model::*;
use crate::secrets::random_bytes;
use crate::secrets::{Attempt, with_fresh_id};
use crate::{Pfs, StoreError, nhs, services};

/// What a practice-side operation can fail with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdminError {
    /// The named thing does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// It exists already.
    #[error("already exists: {0}")]
    Conflict(String),
    /// The input breaks a rule (the text says which).
    #[error("invalid: {0}")]
    Invalid(String),
    /// The store failed; nothing was changed.
    #[error("{0}")]
    Store(String),
}

impl From<StoreError> for AdminError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(k) => AdminError::Conflict(k),
            StoreError::NotFound(k) => AdminError::NotFound(k),
            other => AdminError::Store(other.to_string()),
        }
    }
}

/// A new practice.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NewPractice {
    /// ODS code: letters and digits, 3 to 10 characters.
    pub ods: String,
    /// Name.
    pub name: String,
    /// One-line address.
    pub address: String,
    /// Settings (defaults when absent).
    #[serde(default)]
    pub settings: Option<PracticeSettings>,
}

/// A new patient.
#[derive(Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NewPatient {
    /// The practice.
    pub ods: String,
    /// A valid 10-digit NHS number.
    pub nhs_number: String,
    /// Title.
    #[serde(default)]
    pub title: Option<String>,
    /// Given names.
    pub first_name: String,
    /// Family name.
    pub last_name: String,
    /// Date of birth, `YYYY-MM-DD`.
    pub date_of_birth: NaiveDate,
    /// Gender text, e.g. `Female`.
    pub gender: String,
    /// One-line address.
    pub address: String,
}

/// An online account and the linkage key just issued for it (shown once; only a hash is kept).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IssuedAccount {
    /// The account id.
    pub account_id: String,
    /// The patient.
    pub patient_id: String,
    /// The practice.
    pub ods: String,
    /// The new linkage key.
    #[serde(serialize_with = "expose")]
    pub linkage_key: SecretString,
    /// When the key stops working.
    pub expires_at: DateTime<Utc>,
}

fn expose<S: serde::Serializer>(s: &SecretString, ser: S) -> Result<S::Ok, S::Error> {
    use secrecy::ExposeSecret;
    ser.serialize_str(s.expose_secret())
}

/// The effective state of one service for a patient.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceState {
    /// Service key.
    pub service: &'static str,
    /// Wire description.
    pub description: &'static str,
    /// Whether it is available to the patient.
    pub enabled: bool,
}

impl From<crate::DomainError> for AdminError {
    fn from(e: crate::DomainError) -> Self {
        match e {
            crate::DomainError::Unavailable(_) => AdminError::Store(e.technical()),
            crate::DomainError::RegistrationEnded(m) => AdminError::Conflict(m.to_owned()),
            other => AdminError::Invalid(other.technical()),
        }
    }
}

/// ODS codes are stored in upper case; every route accepts either case.
fn ods_code(ods: &str) -> String {
    ods.trim().to_ascii_uppercase()
}

fn non_empty(what: &str, v: &str) -> Result<(), AdminError> {
    if v.trim().is_empty() {
        Err(AdminError::Invalid(format!("{what} must not be empty")))
    } else {
        Ok(())
    }
}

impl Pfs {
    /// Registers a provider for a client certificate fingerprint; returns it with its new id.
    pub async fn add_provider(
        &self,
        name: &str,
        fingerprint: &str,
        trusted_identity: bool,
    ) -> Result<Provider, AdminError> {
        non_empty("name", name)?;
        let provider = Provider {
            id: hex::encode(random_bytes::<8>()),
            name: name.trim().to_owned(),
            fingerprint: fingerprint.to_ascii_lowercase(),
            trusted_identity,
            created_at: self.clock.now(),
            revoked_at: None,
        };
        self.store.insert_provider(&provider).await?;
        Ok(provider)
    }

    /// Every provider.
    pub async fn list_providers(&self) -> Result<Vec<Provider>, AdminError> {
        Ok(self.store.list_providers().await?)
    }

    /// Revokes a provider at once: its certificate is refused and its sessions end.
    pub async fn revoke_provider(&self, id: &str) -> Result<(), AdminError> {
        if self.store.revoke_provider(id, self.clock.now()).await? {
            Ok(())
        } else {
            Err(AdminError::NotFound(format!("provider {id}")))
        }
    }

    /// Adds a practice.
    pub async fn add_practice(&self, p: NewPractice) -> Result<Practice, AdminError> {
        let ods = ods_code(&p.ods);
        if !(3..=10).contains(&ods.len()) || !ods.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(AdminError::Invalid(
                "ods must be 3 to 10 letters or digits".into(),
            ));
        }
        non_empty("name", &p.name)?;
        non_empty("address", &p.address)?;
        let practice = Practice {
            ods,
            name: p.name.trim().to_owned(),
            address: p.address.trim().to_owned(),
            settings: p.settings.unwrap_or_default(),
        };
        self.store.insert_practice(&practice).await?;
        Ok(practice)
    }

    /// Every practice.
    pub async fn list_practices(&self) -> Result<Vec<Practice>, AdminError> {
        Ok(self.store.list_practices().await?)
    }

    /// Replaces a practice's settings.
    pub async fn update_practice_settings(
        &self,
        ods: &str,
        settings: PracticeSettings,
    ) -> Result<Practice, AdminError> {
        let ods = &ods_code(ods);
        if !(1..=365).contains(&settings.booking_window_days) {
            return Err(AdminError::Invalid(
                "bookingWindowDays must be 1 to 365".into(),
            ));
        }
        if settings.cancellation_cutoff_minutes > 7 * 24 * 60 {
            return Err(AdminError::Invalid(
                "cancellationCutoffMinutes must be at most 10080 (a week)".into(),
            ));
        }
        if !self.store.update_practice_settings(ods, &settings).await? {
            return Err(AdminError::NotFound(format!("practice {ods}")));
        }
        self.store
            .practice(ods)
            .await?
            .ok_or_else(|| AdminError::NotFound(format!("practice {ods}")))
    }

    /// Adds a patient with a new patient id.
    pub async fn add_patient(&self, p: NewPatient) -> Result<Patient, AdminError> {
        let nhs_number = nhs::normalise(&p.nhs_number);
        if !nhs::is_valid(&nhs_number) {
            return Err(AdminError::Invalid(
                "nhsNumber must be ten digits with a valid check digit".into(),
            ));
        }
        non_empty("firstName", &p.first_name)?;
        non_empty("lastName", &p.last_name)?;
        non_empty("address", &p.address)?;
        if p.date_of_birth > crate::uktime::uk_date(self.clock.now()) {
            return Err(AdminError::Invalid("dateOfBirth is in the future".into()));
        }
        let ods = ods_code(&p.ods);
        if self.store.practice(&ods).await?.is_none() {
            return Err(AdminError::NotFound(format!("practice {ods}")));
        }
        let new = Patient {
            id: String::new(),
            ods,
            nhs_number,
            title: p.title.clone().filter(|t| !t.trim().is_empty()),
            first_name: p.first_name.trim().to_owned(),
            last_name: p.last_name.trim().to_owned(),
            date_of_birth: p.date_of_birth,
            gender: p.gender.trim().to_owned(),
            address: p.address.trim().to_owned(),
        };
        let added = with_fresh_id(10, |id| {
            let patient = Patient { id, ..new.clone() };
            async move {
                match self.store.insert_patient(&patient).await {
                    Ok(()) => Ok(Attempt::Done(patient)),
                    Err(StoreError::Conflict(k)) if k.contains("nhs") => Err(AdminError::Conflict(
                        "a patient with that NHS number".into(),
                    )),
                    Err(StoreError::Conflict(_)) => Ok(Attempt::IdTaken),
                    Err(e) => Err(e.into()),
                }
            }
        })
        .await?;
        added.ok_or_else(|| AdminError::Store("could not allocate a patient id".into()))
    }

    /// Patients of one practice, or all.
    pub async fn list_patients(&self, ods: Option<&str>) -> Result<Vec<Patient>, AdminError> {
        let ods = ods.map(ods_code);
        Ok(self.store.list_patients(ods.as_deref()).await?)
    }

    /// Opens the patient's online account if needed and issues a new linkage key (any earlier
    /// key stops working).
    pub async fn issue_account(
        &self,
        patient_id: &str,
        email: Option<String>,
        mobile: Option<String>,
    ) -> Result<IssuedAccount, AdminError> {
        let patient = self
            .store
            .patient(patient_id)
            .await?
            .ok_or_else(|| AdminError::NotFound(format!("patient {patient_id}")))?;
        let account = self.open_account(&patient, email, mobile).await?;
        let key = self.issue_linkage_key(&account.id).await?;
        Ok(IssuedAccount {
            account_id: account.id,
            patient_id: patient.id,
            ods: patient.ods,
            linkage_key: key,
            expires_at: self.clock.now() + self.config.linkage_key_ttl,
        })
    }

    /// Ends an online account: it can no longer link or log on, and its sessions end.
    pub async fn end_account(&self, account_id: &str) -> Result<(), AdminError> {
        if self.store.end_account(account_id, self.clock.now()).await? {
            Ok(())
        } else {
            Err(AdminError::NotFound(format!("account {account_id}")))
        }
    }

    /// Lets the online user `grantee_id` act for `patient_id`.
    pub async fn grant_proxy(&self, grantee_id: &str, patient_id: &str) -> Result<(), AdminError> {
        if grantee_id == patient_id {
            return Err(AdminError::Invalid(
                "a patient cannot be their own proxy".into(),
            ));
        }
        for id in [grantee_id, patient_id] {
            if self.store.patient(id).await?.is_none() {
                return Err(AdminError::NotFound(format!("patient {id}")));
            }
        }
        Ok(self
            .store
            .grant_proxy(grantee_id, patient_id, self.clock.now())
            .await?)
    }

    /// Withdraws a proxy grant.
    pub async fn revoke_proxy(&self, grantee_id: &str, patient_id: &str) -> Result<(), AdminError> {
        if self.store.revoke_proxy(grantee_id, patient_id).await? {
            Ok(())
        } else {
            Err(AdminError::NotFound("proxy grant".into()))
        }
    }

    /// Patients `grantee_id` may act for.
    pub async fn proxies_of(&self, grantee_id: &str) -> Result<Vec<Patient>, AdminError> {
        Ok(self.store.proxy_patients(grantee_id).await?)
    }

    /// Sets (`Some`) or clears (`None`) a service switch for a practice, or for one patient when
    /// `patient_id` is given.
    pub async fn set_service(
        &self,
        ods: Option<&str>,
        patient_id: Option<&str>,
        service: &str,
        enabled: Option<bool>,
    ) -> Result<(), AdminError> {
        if services::service(service).is_none() {
            let known: Vec<_> = services::SERVICES.iter().map(|s| s.key).collect();
            return Err(AdminError::Invalid(format!(
                "unknown service; known services: {}",
                known.join(", ")
            )));
        }
        match (ods, patient_id) {
            (_, Some(pid)) => {
                if self.store.patient(pid).await?.is_none() {
                    return Err(AdminError::NotFound(format!("patient {pid}")));
                }
                Ok(self
                    .store
                    .set_patient_service(pid, service, enabled)
                    .await?)
            }
            (Some(ods), None) => {
                let ods = &ods_code(ods);
                if self.store.practice(ods).await?.is_none() {
                    return Err(AdminError::NotFound(format!("practice {ods}")));
                }
                Ok(self
                    .store
                    .set_practice_service(ods, service, enabled)
                    .await?)
            }
            (None, None) => Err(AdminError::Invalid("name a practice or a patient".into())),
        }
    }

    /// The effective state of every service for a patient.
    pub async fn services_for(&self, patient_id: &str) -> Result<Vec<ServiceState>, AdminError> {
        let patient = self
            .store
            .patient(patient_id)
            .await?
            .ok_or_else(|| AdminError::NotFound(format!("patient {patient_id}")))?;
        let practice = self.store.practice_services(&patient.ods).await?;
        let own = self.store.patient_services(&patient.id).await?;
        Ok(services::SERVICES
            .iter()
            .map(|s| ServiceState {
                service: s.key,
                description: s.description,
                enabled: services::is_enabled(s.key, &practice, &own),
            })
            .collect())
    }
}

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
        super::parse_wall_clock(&text)
            .ok_or_else(|| serde::de::Error::custom("expected UK local time as YYYY-MM-DDTHH:MM"))
    }
}

/// Parses `YYYY-MM-DDTHH:MM` or `YYYY-MM-DDTHH:MM:SS` (a space for the `T` is accepted).
pub fn parse_wall_clock(text: &str) -> Option<NaiveDateTime> {
    let t = text.trim().replacen(' ', "T", 1);
    NaiveDateTime::parse_from_str(&t, "%Y-%m-%dT%H:%M")
        .or_else(|_| NaiveDateTime::parse_from_str(&t, "%Y-%m-%dT%H:%M:%S"))
        .ok()
}

/// The instants of UK dates `[from, to]` (whole days); defaults: today and 56 days on.
fn date_range(
    now: DateTime<Utc>,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
) -> Result<(DateTime<Utc>, DateTime<Utc>), AdminError> {
    let from = from.unwrap_or_else(|| crate::uktime::uk_date(now));
    let to = to.unwrap_or(from + chrono::Days::new(56));
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
            return Err(AdminError::NotFound(format!("practice {ods}")));
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
            return Err(AdminError::NotFound(format!("practice {ods}")));
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
            return Err(AdminError::NotFound(format!("practice {ods}")));
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
            .ok_or_else(|| AdminError::NotFound(format!("appointment {id}")))?;
        if a.start < now {
            return Err(AdminError::Invalid("the appointment is in the past".into()));
        }
        let patient = self
            .store
            .patient(&a.patient_id)
            .await?
            .ok_or_else(|| AdminError::NotFound(format!("patient {}", a.patient_id)))?;
        let practice = self
            .store
            .practice(&patient.ods)
            .await?
            .ok_or_else(|| AdminError::NotFound(format!("practice {}", patient.ods)))?;
        let log = RecordAccess {
            patient_id: patient.id,
            at: now,
            accessed_by: format!("{} staff", practice.name),
            organisation: practice.name,
            access_type: "Cancelled appointment".to_owned(),
            method: "Practice".to_owned(),
        };
        if !self.store.cancel_appointment(&a.id, now, &log).await? {
            return Err(AdminError::NotFound(format!("appointment {id}")));
        }
        Ok(())
    }
}
