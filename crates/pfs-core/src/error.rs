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
    /// A header that must appear at most once (`type`, `suid`) appeared more than once.
    #[error("the {0} header was sent more than once; send it once")]
    DuplicateHeader(&'static str),
    /// The request did not arrive in full within the whole-request deadline (milliseconds).
    #[error("the request did not arrive in full within {0} ms of its first byte")]
    RequestTimeout(u64),
    /// The provider already has the most requests being served at once (the limit).
    #[error(
        "the provider has too many requests in flight (at most {0} at once); retry when earlier requests have been answered"
    )]
    TooManyInFlight(usize),
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
    /// Too many linkage-key checks are waiting, for everyone or for this provider.
    #[error("too many linkage-key checks are waiting; retry after {retry_after_secs} seconds")]
    Busy {
        /// Seconds to wait before trying again.
        retry_after_secs: i64,
    },
    /// A field is longer than its documented maximum (characters).
    #[error("{field} is longer than {max} characters")]
    FieldTooLong {
        /// The field's name on the wire.
        field: &'static str,
        /// Its maximum length.
        max: usize,
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
    /// A medication order's `notes` is longer than the practice's maximum (characters).
    #[error("notes is longer than the practice's maximum of {0} characters")]
    OrderNotesTooLong(u32),
    /// A medication order names more courses than the practice's maximum.
    #[error("the order names more than the practice's maximum of {0} courses")]
    TooManyMedications(u32),
    /// The session has not fetched the patient's medication list.
    #[error(
        "this session has not fetched the patient's medication list since selecting the patient; send ListRepeatMedication (or ListAcuteMedication) first"
    )]
    MedicationListNotFetched,
    /// The practice changed the courses since the session fetched the list.
    #[error(
        "the patient's medication list changed after this session fetched it; send ListRepeatMedication (or ListAcuteMedication) again"
    )]
    MedicationListChanged,
    /// A `drugId` is not a current course of the patient with that `type`.
    #[error("a Medication/@drugId names no current course of the patient with that type")]
    UnknownCourse,
    /// A course cannot be ordered now (the text says why).
    #[error("{0}")]
    CourseNotRequestable(&'static str),
    /// A course already has an outstanding request.
    #[error("a course named in the order already has an outstanding request")]
    AlreadyRequested,
    /// No prescription request of the selected patient with that id.
    #[error("requestId names no prescription request of the selected patient")]
    PrescriptionRequestNotFound,
    /// The request is no longer `Requested`.
    #[error("the prescription request is {0}, not Requested, so it can no longer change")]
    PrescriptionRequestActioned(&'static str),
    /// A postcode is not a UK postcode.
    #[error("{0}")]
    InvalidPostcode(&'static str),
    /// A telephone number is not a UK number, or there are too many.
    #[error("{0}")]
    InvalidTelephoneNumber(&'static str),
    /// An e-mail address is not of the form local-part@domain.
    #[error("{0}")]
    InvalidEmailAddress(&'static str),
    /// A demographics field is longer than its maximum (characters).
    #[error("{field} is longer than {max} characters")]
    DemographicsFieldTooLong {
        /// The field's name on the wire.
        field: &'static str,
        /// Its maximum length.
        max: usize,
    },
    /// A change names the name or the date of birth.
    #[error("{0}")]
    DemographicsNotChangeable(&'static str),
    /// A new address lacks its postcode or its first line.
    #[error("{0}")]
    AddressIncomplete(&'static str),
    /// A change carries nothing to change.
    #[error("ChangeDemographics must carry Address, TelephoneNumbers or EmailAddress")]
    NothingToChange,
    /// A pharmacy search's `name` is too short or too long.
    #[error("{0}")]
    InvalidSearch(&'static str),
    /// `odsCode` names no pharmacy of the directory.
    #[error("odsCode names no pharmacy of the directory")]
    PharmacyNotFound,
    /// The pharmacy has closed.
    #[error("the pharmacy named by odsCode has closed")]
    PharmacyClosed,
    /// `providerId` names no application linked to the account.
    #[error("providerId names no application linked to this online account")]
    ApplicationNotLinked,
    /// An attachment is larger than the practice's limit, decoded (the limit in bytes).
    #[error("an attachment is larger than the practice's limit of {0} bytes once decoded")]
    AttachmentTooLarge(u32),
    /// The recipient is unknown, not of the practice, not of the kind the attribute names, or
    /// takes no messages from patients.
    #[error(
        "recipientId or unitRecipientId names no recipient of the patient's practice that takes messages (list them with MessageRecipients)"
    )]
    RecipientNotFound,
    /// `conversationId` names no conversation of the patient.
    #[error("conversationId names no conversation of the selected patient")]
    ConversationNotFound,
    /// The message text is empty.
    #[error("message is empty")]
    MessageEmpty,
    /// The message text is too long (characters).
    #[error("message is longer than {0} characters")]
    MessageTooLong(usize),
    /// A `messageId` names no undeleted message of the patient.
    #[error(
        "a Message/@messageId names no undeleted message of the selected patient; nothing was changed"
    )]
    MessageNotFound,
    /// An attachment's type is not one the practice accepts.
    #[error("an Attachment/@fileType is not one the practice accepts")]
    AttachmentTypeNotAllowed,
    /// An attachment's bytes are not of its declared type.
    #[error(
        "an attachment's content is not a file of its fileType (its magic number does not match)"
    )]
    AttachmentContentMismatch,
    /// An attachment's text is not base64.
    #[error("an attachment's text is not standard base64")]
    AttachmentNotBase64,
    /// More attachments than the practice accepts.
    #[error("the message carries more than the practice's maximum of {0} attachments")]
    TooManyAttachments(u32),
    /// An attachment's file name is unsafe (the text says why).
    #[error("{0}")]
    AttachmentNameInvalid(&'static str),
    /// `binaryDataId` names no file of the patient that they may see.
    #[error("binaryDataId names no file of this patient that is available online")]
    BinaryDataNotFound,
    /// The file is larger than the practice's maximum for online download (bytes).
    #[error("the file is larger than the practice's maximum of {0} bytes for online download")]
    FileTooLarge(u64),
    /// The file is still being uploaded at the practice.
    #[error("the file is still being uploaded at the practice")]
    FileStillUploading,
    /// `testResultId` names no test result of the patient that they may see.
    #[error("testResultId names no test result of this patient that is available online")]
    TestResultNotFound,
    /// A window whose start is after its end.
    #[error("startDate is after endDate")]
    InvalidDateRange,
    /// The store failed; nothing was changed.
    #[error("the service is temporarily unavailable")]
    Unavailable(String),
    /// The request's handler panicked; the panic was caught and counted.
    #[error(
        "an internal fault interrupted the request (the server caught a panic in its handler); retry later"
    )]
    InternalFault,
}

impl From<StoreError> for DomainError {
    fn from(e: StoreError) -> Self {
        DomainError::Unavailable(e.to_string())
    }
}

/// Shown for failures a patient can do nothing about but try again.
const TRY_AGAIN: &str = "Something went wrong. Please try again later.";
/// Shown when linkage details are wrong.
const CHECK_LINKAGE_DETAILS: &str = "There was a problem linking your account. Please check the details your GP practice gave you and try again.";
/// Shown when demographic details do not match.
const DETAILS_DO_NOT_MATCH: &str =
    "The details you entered do not match your GP practice's records.";
/// Shown when a slot cannot be booked.
const SLOT_GONE: &str = "Sorry, this appointment is no longer available. Please choose another.";

impl DomainError {
    /// The one table of what each error means to a client: its code and the text a patient is
    /// shown. Per-message exceptions to the code are in [`DomainError::code_for_message`].
    fn meaning(&self) -> (Code, &'static str) {
        use DomainError::*;
        match self {
            Decode(DecodeError::Xml(_)) | NotPost | DuplicateHeader(_) | RequestTimeout(_) => {
                (codes::MALFORMED_REQUEST, TRY_AGAIN)
            }
            Decode(DecodeError::UnknownType) => (codes::UNKNOWN_MESSAGE_TYPE, TRY_AGAIN),
            Decode(DecodeError::WrongRoot { .. }) => (codes::TYPE_MISMATCH, TRY_AGAIN),
            Decode(_) => (codes::INVALID_FIELD, TRY_AGAIN),
            TooLarge(_) => (codes::REQUEST_TOO_LARGE, TRY_AGAIN),
            UnsupportedApiVersion(_) => (codes::UNSUPPORTED_API_VERSION, TRY_AGAIN),
            ProviderNotRecognised(_) | ProviderIdMismatch => {
                (codes::PROVIDER_NOT_RECOGNISED, TRY_AGAIN)
            }
            VariantNotAllowed(_) => (codes::INVALID_PROVIDER_ID, CHECK_LINKAGE_DETAILS),
            NotAuthenticated(_) => (
                codes::NOT_AUTHENTICATED,
                "Your session has ended. Please log in again.",
            ),
            NoAccess(_) => (
                codes::NO_ACCESS,
                "You don't have access to this online service",
            ),
            PatientNotSelected(_) => (
                codes::PATIENT_NOT_SELECTED,
                "Something went wrong. Please go back and try again.",
            ),
            InvalidLinkageCredentials => {
                (codes::INVALID_LINKAGE_CREDENTIALS, CHECK_LINKAGE_DETAILS)
            }
            RateLimited { .. } => (
                codes::RATE_LIMITED,
                "Too many attempts. Please wait a few minutes and try again.",
            ),
            TooManyInFlight(_) | Busy { .. } => (
                codes::RATE_LIMITED,
                "The service is busy. Please try again in a moment.",
            ),
            FieldTooLong { .. } => (codes::INVALID_FIELD, CHECK_LINKAGE_DETAILS),
            RegistrationEnded(_) => (
                codes::REGISTRATION_ENDED,
                "Your online account details have expired or ended. Please ask your GP practice for new ones.",
            ),
            LastNameMismatch => (codes::LAST_NAME_MISMATCH, DETAILS_DO_NOT_MATCH),
            DateOfBirthMismatch => (codes::DATE_OF_BIRTH_MISMATCH, DETAILS_DO_NOT_MATCH),
            NhsNumberNotFound => (codes::NHS_NUMBER_NOT_FOUND, DETAILS_DO_NOT_MATCH),
            TooYoung => (
                codes::TOO_YOUNG,
                "You are not old enough to register for online services yourself.",
            ),
            NotRegisteredAtPractice => (
                codes::NOT_REGISTERED_AT_PRACTICE,
                "You are not registered at this GP practice.",
            ),
            ProblemLoggingOn(_) => (
                codes::PROBLEM_LOGGING_ON,
                "There was a problem logging on. Please try again or contact your GP practice.",
            ),
            SlotNotFound(_) => (codes::SLOT_NOT_FOUND, SLOT_GONE),
            SlotAlreadyBooked => (codes::SLOT_ALREADY_BOOKED, SLOT_GONE),
            StartDateInPast(_) => (
                codes::START_DATE_IN_PAST,
                "This appointment is in the past.",
            ),
            AppointmentLimitReached(_) => (
                codes::APPOINTMENT_LIMIT_REACHED,
                "You have reached the maximum number of appointments you can book online. Please contact your GP practice.",
            ),
            TooLateToCancel(_) => (
                codes::APPOINTMENT_WITHIN_CUTOFF,
                "It is too late to cancel this appointment online. Please contact your GP practice.",
            ),
            NotesTooLong(_) => (
                codes::NOTES_TOO_LONG,
                "Your reason for the appointment is too long. Please shorten it.",
            ),
            AppointmentNotFound => (
                codes::APPOINTMENT_NOT_FOUND,
                "This appointment could not be found. It may already have been cancelled.",
            ),
            OrderNotesTooLong(_) => (
                codes::NOTES_TOO_LONG,
                "Your note to the practice is too long. Please shorten it.",
            ),
            TooManyMedications(_) => (
                codes::TOO_MANY_MEDICATIONS,
                "You have chosen too many medicines for one request. Please order fewer at a time.",
            ),
            MedicationListNotFetched => (
                codes::MEDICATION_LIST_NOT_FETCHED,
                "Please view your medication list again before ordering.",
            ),
            MedicationListChanged => (
                codes::MEDICATION_LIST_CHANGED,
                "Your medication list has changed. Please view your medication list again before ordering.",
            ),
            UnknownCourse => (
                codes::UNKNOWN_COURSE,
                "One of the medicines requested is not recognised. Please choose from your current medication list.",
            ),
            CourseNotRequestable(_) => (
                codes::COURSE_NOT_REQUESTABLE,
                "One of the medications requested is no longer available. Please contact your GP practice.",
            ),
            AlreadyRequested => (
                codes::ALREADY_REQUESTED,
                "One of the medicines has already been requested and is waiting for your GP practice.",
            ),
            PrescriptionRequestNotFound => (
                codes::PRESCRIPTION_REQUEST_NOT_FOUND,
                "This prescription request could not be found.",
            ),
            PrescriptionRequestActioned(_) => (
                codes::PRESCRIPTION_REQUEST_ACTIONED,
                "Your GP practice has already dealt with this request, or it was cancelled, so it can no longer be changed.",
            ),
            InvalidPostcode(_) => (
                codes::INVALID_POSTCODE,
                "The postcode is not a valid UK postcode. Please check it and try again.",
            ),
            InvalidTelephoneNumber(_) => (
                codes::INVALID_TELEPHONE_NUMBER,
                "A telephone number is not a valid UK number. Please check it and try again.",
            ),
            InvalidEmailAddress(_) => (
                codes::INVALID_EMAIL_ADDRESS,
                "The email address is not valid. Please check it and try again.",
            ),
            DemographicsFieldTooLong { .. } => (
                codes::DEMOGRAPHICS_FIELD_TOO_LONG,
                "Part of your details is too long. Please shorten it.",
            ),
            DemographicsNotChangeable(_) => (
                codes::DEMOGRAPHICS_NOT_CHANGEABLE,
                "Your name and date of birth cannot be changed online. Please contact your GP practice.",
            ),
            AddressIncomplete(_) => (
                codes::ADDRESS_INCOMPLETE,
                "Please enter the first line of your address and your postcode.",
            ),
            NothingToChange => (
                codes::NOTHING_TO_CHANGE,
                "There is nothing to change. Please enter your new details.",
            ),
            InvalidSearch(_) => (
                codes::INVALID_FIELD,
                "Please enter between 2 and 100 characters of the pharmacy's name.",
            ),
            PharmacyNotFound => (
                codes::PHARMACY_NOT_FOUND,
                "This pharmacy could not be found. Please search again.",
            ),
            PharmacyClosed => (
                codes::PHARMACY_CLOSED,
                "This pharmacy has closed. Please choose another.",
            ),
            ApplicationNotLinked => (
                codes::APPLICATION_NOT_LINKED,
                "This app is not linked to your account.",
            ),
            AttachmentTooLarge(_) => (
                codes::FILE_TOO_LARGE,
                "A file is too large to send. Please send a smaller file.",
            ),
            RecipientNotFound => (
                codes::RECIPIENT_NOT_FOUND,
                "This person or team cannot receive messages. Please choose another.",
            ),
            ConversationNotFound => (
                codes::CONVERSATION_NOT_FOUND,
                "This conversation could not be found. Please start a new message.",
            ),
            MessageEmpty => (codes::MESSAGE_EMPTY, "Please write your message."),
            MessageTooLong(_) => (
                codes::MESSAGE_TOO_LONG,
                "Your message is too long. Please shorten it.",
            ),
            MessageNotFound => (
                codes::MESSAGE_NOT_FOUND,
                "This message could not be found. It may have been deleted.",
            ),
            AttachmentTypeNotAllowed => (
                codes::ATTACHMENT_TYPE_NOT_ALLOWED,
                "Your GP practice does not accept this type of file.",
            ),
            AttachmentContentMismatch => (
                codes::ATTACHMENT_CONTENT_MISMATCH,
                "A file is not what its name says it is. Please check the file and try again.",
            ),
            AttachmentNotBase64 => (
                codes::ATTACHMENT_NOT_BASE64,
                "A file could not be read. Please try again.",
            ),
            TooManyAttachments(_) => (
                codes::TOO_MANY_ATTACHMENTS,
                "You have attached too many files. Please send fewer files with each message.",
            ),
            AttachmentNameInvalid(_) => (
                codes::ATTACHMENT_NAME_INVALID,
                "A file name cannot be used. Please rename the file and try again.",
            ),
            BinaryDataNotFound => (
                codes::BINARY_DATA_NOT_FOUND,
                "This document could not be found.",
            ),
            FileTooLarge(_) => (
                codes::FILE_TOO_LARGE,
                "This document is too large to view online. Please contact your GP practice.",
            ),
            FileStillUploading => (
                codes::FILE_STILL_UPLOADING,
                "This document is not ready yet. Please try again later.",
            ),
            TestResultNotFound => (
                codes::TEST_RESULT_NOT_FOUND,
                "This test result could not be found.",
            ),
            InvalidDateRange => (
                codes::INVALID_DATE_RANGE,
                "Something went wrong. Please go back and try again.",
            ),
            Unavailable(_) | InternalFault => (
                codes::SERVICE_UNAVAILABLE,
                "The service is temporarily unavailable. Please try again later.",
            ),
        }
    }

    /// Where one message's clients expect another code than [`DomainError::meaning`]'s.
    fn code_for_message(&self, message_type: &str) -> Option<Code> {
        match (self, message_type) {
            // The real LinkAccount answers a providerId that is not the certificate's with 5.
            (DomainError::ProviderIdMismatch, "LinkAccount") => Some(codes::INVALID_PROVIDER_ID),
            // A MessageCreate body beyond the largest valid one, or an attachment's text far
            // beyond the largest file, is a file too large, as a real client expects.
            (DomainError::TooLarge(_), "MessageCreate")
            | (
                DomainError::Decode(DecodeError::Xml(pfs_wire::XmlError::TooLong)),
                "MessageCreate",
            ) => Some(codes::FILE_TOO_LARGE),
            _ => None,
        }
    }

    /// The code this error is sent with, for a request of `message_type`.
    pub fn code(&self, message_type: Option<&str>) -> Code {
        message_type
            .and_then(|t| self.code_for_message(t))
            .unwrap_or(self.meaning().0)
    }

    /// Text that is safe to show a patient.
    pub fn user_friendly(&self) -> &'static str {
        self.meaning().1
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
