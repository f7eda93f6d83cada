//! The practice side: what the admin API and `pfs admin` do, as plain functions.
//!
//! One file per feature area, `admin/<area>.rs`, with that area's types and its `impl Pfs`
//! block; this file holds what they share: [`AdminError`] and the input helpers.
//!
//! Error texts name the field or the kind of thing, never the value that was sent: a bad value
//! can be large, or hold the very characters that made it bad.

use crate::StoreError;
use crate::model::RecordAccess;

mod account;
mod appointment;
mod demographics;
mod fault;
mod medication;
mod messaging;
mod namespace;
mod patient;
mod pharmacy;
mod practice;
mod provider;
mod proxy;
mod record;
mod sandbox;
mod seed;
mod service;

pub use account::IssuedAccount;
pub use appointment::{AppointmentView, NewAppointmentSession, SessionView, parse_wall_clock};
pub use demographics::{DemographicsView, NewContactDetails};
pub use fault::FaultRuleView;
pub use medication::{CourseChange, CourseView, NewCourse, present};
pub use messaging::{
    AttachmentFile, INBOX_LIMIT, MAX_RECIPIENT_NAME, NewMessageRecipient, PracticeMessage,
    PracticeReply, RecipientChange, ReplyAttachment,
};
pub use namespace::{MAX_NAMESPACE_PATIENTS, MAX_NAMESPACES, namespace_nhs_number, namespace_ods};
pub use patient::NewPatient;
pub use pharmacy::{
    ImportError, ImportSummary, LineError, NewPharmacy, PHARMACY_CSV_COLUMNS, check_pharmacy,
    parse_pharmacy_csv,
};
pub use practice::NewPractice;
pub use record::{
    DOCUMENT_FILE_TYPES, DocumentView, GrantChange, GrantView, NewDocument, NewRecordEvent,
    NewRecordItem, NewTestResult,
};
pub use sandbox::{DEMO_SNAPSHOT, MAX_SNAPSHOT_NAME};
pub use seed::{
    MAX_SEED_BATCH, MAX_SEED_PATIENTS_PER_PRACTICE, MAX_SEED_PRACTICES, seeded_ods, seeded_patient,
    seeded_practice,
};
pub use service::ServiceState;

/// What a practice-side operation can fail with. Texts name fields and kinds, never values.
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

impl From<crate::DomainError> for AdminError {
    fn from(e: crate::DomainError) -> Self {
        match e {
            crate::DomainError::Unavailable(_) => AdminError::Store(e.technical()),
            crate::DomainError::RegistrationEnded(m) => AdminError::Conflict(m.to_owned()),
            other => AdminError::Invalid(other.technical()),
        }
    }
}

impl crate::Pfs {
    /// The patient with this id, or `404`.
    pub(crate) async fn existing_patient(
        &self,
        id: &str,
    ) -> Result<crate::model::Patient, AdminError> {
        self.store
            .patient(id.trim())
            .await?
            .ok_or_else(|| AdminError::NotFound("patient".into()))
    }

    /// The access-log entry of a practice action on `patient_id`'s record: by the practice
    /// (its name; "Practice staff" if the patient has no practice), method `Practice`.
    pub(crate) async fn practice_access(
        &self,
        patient_id: &str,
        access_type: &str,
    ) -> Result<RecordAccess, AdminError> {
        let practice = match self.store.patient(patient_id).await? {
            Some(p) => self.store.practice(&p.ods).await?,
            None => None,
        };
        let (accessed_by, organisation) = match practice {
            Some(p) => (p.name.clone(), p.name),
            None => ("Practice staff".to_owned(), String::new()),
        };
        Ok(RecordAccess {
            patient_id: patient_id.to_owned(),
            at: self.clock.now(),
            accessed_by,
            organisation,
            access_type: access_type.to_owned(),
            method: "Practice".to_owned(),
        })
    }
}

/// ODS codes are stored in upper case; every route accepts either case.
fn ods_code(ods: &str) -> String {
    ods.trim().to_ascii_uppercase()
}

fn non_empty(what: &'static str, v: &str) -> Result<(), AdminError> {
    if v.trim().is_empty() {
        Err(AdminError::Invalid(format!("{what} must not be empty")))
    } else {
        Ok(())
    }
}

/// Refuses text XML 1.0 cannot carry: control characters other than tab, line feed and carriage
/// return, U+FFFE and U+FFFF. Whatever the practice side stores may be written into replies (a
/// practice's address goes into every `AuthenticateReply` of its patients), so such a character
/// is refused here, with `422`, rather than replaced on the way out. The error names `field`,
/// never the value.
pub fn xml_safe(field: &'static str, value: &str) -> Result<(), AdminError> {
    if pfs_wire::xml::is_xml_text(value) {
        Ok(())
    } else {
        Err(AdminError::Invalid(format!(
            "{field} contains a control character or another character XML cannot carry"
        )))
    }
}

/// [`xml_safe`] for an optional field.
fn xml_safe_opt(field: &'static str, value: Option<&str>) -> Result<(), AdminError> {
    value.map_or(Ok(()), |v| xml_safe(field, v))
}

/// Refuses a date outside the years the wire carries (`pfs_wire::scalar::MIN_YEAR` to
/// `MAX_YEAR`), so that nothing stored can overflow date arithmetic or fail to be written.
fn supported_date(field: &'static str, d: chrono::NaiveDate) -> Result<(), AdminError> {
    use chrono::Datelike;
    if pfs_wire::scalar::is_supported_year(d.year()) {
        Ok(())
    } else {
        Err(AdminError::Invalid(format!(
            "{field} must be in the years {} to {}",
            pfs_wire::scalar::MIN_YEAR,
            pfs_wire::scalar::MAX_YEAR
        )))
    }
}
