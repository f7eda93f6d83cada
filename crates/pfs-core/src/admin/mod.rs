//! The practice side: what the admin API and `pfs admin` do, as plain functions.
//!
//! One file per feature area, `admin/<area>.rs`, with that area's types and its `impl Pfs`
//! block; this file holds what they share: [`AdminError`] and the input helpers.

use crate::StoreError;

mod account;
mod appointment;
mod patient;
mod practice;
mod provider;
mod proxy;
mod service;

pub use account::IssuedAccount;
pub use appointment::{AppointmentView, NewAppointmentSession, SessionView, parse_wall_clock};
pub use patient::NewPatient;
pub use practice::NewPractice;
pub use service::ServiceState;

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
