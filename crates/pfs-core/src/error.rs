//! The one mapping from what went wrong to the `Error` reply a client sees.

use pfs_wire::codes::{self, Code};
use pfs_wire::{DecodeError, ErrorReply, Guid};

use crate::store::StoreError;

/// Everything an operation can fail with. `technical` texts name fields and rules, never values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    /// The request body could not be decoded.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// The body is larger than the configured limit (bytes).
    #[error("the body is larger than {0} bytes")]
    TooLarge(usize),
    /// Only POST is served.
    #[error("only POST is accepted")]
    NotPost,
    /// An `apiVersion` other than the supported ones.
    #[error("apiVersion is not supported; supported versions: {0}")]
    UnsupportedApiVersion(&'static str),
    /// The certificate's provider is unknown or revoked.
    #[error("the client certificate's provider is {0}")]
    ProviderNotRecognised(&'static str),
    /// A `providerId` in the body is not the certificate's provider.
    #[error("providerId does not match the provider of the client certificate")]
    ProviderIdMismatch,
    /// The provider may not use this `LinkAccount` variant.
    #[error("this provider may not use the {0} variant of LinkAccount")]
    VariantNotAllowed(&'static str),
    /// No valid session.
    #[error("no valid session: {0}")]
    NotAuthenticated(&'static str),
    /// A switched-off service, or a patient the user may not act for.
    #[error("{0}")]
    NoAccess(&'static str),
    /// `patientId`/`onlineUserId` are not the session's.
    #[error("{0}")]
    PatientNotSelected(&'static str),
    /// Unknown account, wrong or missing linkage key.
    #[error("the account id and linkage key do not match")]
    InvalidLinkageCredentials,
    /// Too many failed attempts.
    #[error("too many failed attempts; retry after {retry_after_secs} seconds")]
    RateLimited {
        /// Seconds until an attempt will be checked again.
        retry_after_secs: i64,
    },
    /// The linkage key has expired or the account has ended.
    #[error("{0}")]
    RegistrationEnded(&'static str),
    /// Last name does not match.
    #[error("lastName does not match the practice's record")]
    LastNameMismatch,
    /// Date of birth does not match.
    #[error("dateOfBirth does not match the practice's record")]
    DateOfBirthMismatch,
    /// Under the practice's minimum age.
    #[error("the patient is younger than the practice's minimum age for online services")]
    TooYoung,
    /// No patient with that NHS number.
    #[error("no patient has that nhsNumber")]
    NhsNumberNotFound,
    /// Not registered at `organisationCode`.
    #[error("the patient is not registered at the practice named by organisationCode")]
    NotRegisteredAtPractice,
    /// Authenticate failed.
    #[error("{0}")]
    ProblemLoggingOn(&'static str),
    /// No such slot (the text says why, naming fields only).
    #[error("{0}")]
    SlotNotFound(&'static str),
    /// Another appointment holds the slot.
    #[error("the slot is already booked")]
    SlotAlreadyBooked,
    /// The slot or appointment starts in the past.
    #[error("{0}")]
    StartDateInPast(&'static str),
    /// The patient holds the practice's maximum number of future appointments.
    #[error("the patient already holds the practice's maximum of {0} future appointments")]
    AppointmentLimitReached(u32),
    /// Inside the practice's cancellation cut-off.
    #[error("the appointment starts within the practice's cancellation cut-off of {0} minutes")]
    TooLateToCancel(u32),
    /// `notes` too long.
    #[error("notes is longer than {0} characters")]
    NotesTooLong(usize),
    /// No live appointment of the selected patient with that id.
    #[error("apptId names no live appointment of the selected patient")]
    AppointmentNotFound,
    /// The store failed; nothing was changed.
    #[error("the service is temporarily unavailable")]
    Unavailable(String),
}

impl From<StoreError> for DomainError {
    fn from(e: StoreError) -> Self {
        DomainError::Unavailable(e.to_string())
    }
}

impl DomainError {
    /// The code this error is sent with, for a request of `message_type`.
    pub fn code(&self, message_type: Option<&str>) -> Code {
        use DomainError::*;
        match self {
            Decode(DecodeError::Xml(_)) | NotPost => codes::MALFORMED_REQUEST,
            Decode(DecodeError::UnknownType) => codes::UNKNOWN_MESSAGE_TYPE,
            Decode(DecodeError::WrongRoot { .. }) => codes::TYPE_MISMATCH,
            Decode(_) => codes::INVALID_FIELD,
            TooLarge(_) => codes::REQUEST_TOO_LARGE,
            UnsupportedApiVersion(_) => codes::UNSUPPORTED_API_VERSION,
            ProviderIdMismatch if message_type == Some("LinkAccount") => codes::INVALID_PROVIDER_ID,
            ProviderNotRecognised(_) | ProviderIdMismatch => codes::PROVIDER_NOT_RECOGNISED,
            VariantNotAllowed(_) => codes::INVALID_PROVIDER_ID,
            NotAuthenticated(_) => codes::NOT_AUTHENTICATED,
            NoAccess(_) => codes::NO_ACCESS,
            PatientNotSelected(_) => codes::PATIENT_NOT_SELECTED,
            InvalidLinkageCredentials => codes::INVALID_LINKAGE_CREDENTIALS,
            RateLimited { .. } => codes::RATE_LIMITED,
            RegistrationEnded(_) => codes::REGISTRATION_ENDED,
            LastNameMismatch => codes::LAST_NAME_MISMATCH,
            DateOfBirthMismatch => codes::DATE_OF_BIRTH_MISMATCH,
            TooYoung => codes::TOO_YOUNG,
            NhsNumberNotFound => codes::NHS_NUMBER_NOT_FOUND,
            NotRegisteredAtPractice => codes::NOT_REGISTERED_AT_PRACTICE,
            ProblemLoggingOn(_) => codes::PROBLEM_LOGGING_ON,
            SlotNotFound(_) => codes::SLOT_NOT_FOUND,
            SlotAlreadyBooked => codes::SLOT_ALREADY_BOOKED,
            StartDateInPast(_) => codes::START_DATE_IN_PAST,
            AppointmentLimitReached(_) => codes::APPOINTMENT_LIMIT_REACHED,
            TooLateToCancel(_) => codes::APPOINTMENT_WITHIN_CUTOFF,
            NotesTooLong(_) => codes::NOTES_TOO_LONG,
            AppointmentNotFound => codes::APPOINTMENT_NOT_FOUND,
            Unavailable(_) => codes::SERVICE_UNAVAILABLE,
        }
    }

    /// Text that is safe to show a patient.
    pub fn user_friendly(&self) -> &'static str {
        use DomainError::*;
        match self {
            NotAuthenticated(_) => "Your session has ended. Please log in again.",
            NoAccess(_) => "You don't have access to this online service",
            InvalidLinkageCredentials | VariantNotAllowed(_) => {
                "There was a problem linking your account. Please check the details your GP practice gave you and try again."
            }
            RateLimited { .. } => "Too many attempts. Please wait a few minutes and try again.",
            RegistrationEnded(_) => {
                "Your online account details have expired or ended. Please ask your GP practice for new ones."
            }
            LastNameMismatch | DateOfBirthMismatch | NhsNumberNotFound => {
                "The details you entered do not match your GP practice's records."
            }
            TooYoung => "You are not old enough to register for online services yourself.",
            NotRegisteredAtPractice => "You are not registered at this GP practice.",
            ProblemLoggingOn(_) => {
                "There was a problem logging on. Please try again or contact your GP practice."
            }
            PatientNotSelected(_) => "Something went wrong. Please go back and try again.",
            Unavailable(_) => "The service is temporarily unavailable. Please try again later.",
            SlotNotFound(_) | SlotAlreadyBooked => {
                "Sorry, this appointment is no longer available. Please choose another."
            }
            StartDateInPast(_) => "This appointment is in the past.",
            AppointmentLimitReached(_) => {
                "You have reached the maximum number of appointments you can book online. Please contact your GP practice."
            }
            TooLateToCancel(_) => {
                "It is too late to cancel this appointment online. Please contact your GP practice."
            }
            NotesTooLong(_) => "Your reason for the appointment is too long. Please shorten it.",
            AppointmentNotFound => {
                "This appointment could not be found. It may already have been cancelled."
            }
            Decode(_)
            | TooLarge(_)
            | NotPost
            | UnsupportedApiVersion(_)
            | ProviderNotRecognised(_)
            | ProviderIdMismatch => "Something went wrong. Please try again later.",
        }
    }

    /// Text for a developer.
    pub fn technical(&self) -> String {
        match self {
            // Store errors carry driver text; say what happened without it.
            DomainError::Unavailable(_) => {
                "the server could not complete the request (database unavailable or internal fault); retry later".to_owned()
            }
            other => other.to_string(),
        }
    }

    /// The `Error` reply for this error.
    pub fn to_reply(&self, message_type: Option<&str>, uuid: Option<Guid>) -> ErrorReply {
        ErrorReply {
            error_code: self.code(message_type).code.to_owned(),
            user_friendly_message: self.user_friendly().to_owned(),
            technical_message: self.technical(),
            uuid: Some(uuid.unwrap_or_else(Guid::new_v4)),
        }
    }
}
