//! Every `errorCode` openpfs sends, with its meaning.
//!
//! Codes below 9000 keep the meanings the real API gives them (they are per message: `5` means
//! one thing on `LinkAccount` and another on `BookAppointment`). Codes from 9000 up are openpfs's
//! own, for conditions the real API's public record has no code for; they never reuse a number
//! from the real API. docs/error-codes.md documents this table, and a test keeps the two in step.

/// A documented error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Code {
    /// The `errorCode` text.
    pub code: &'static str,
    /// A short name.
    pub name: &'static str,
    /// The messages that send it.
    pub messages: &'static str,
}

/// The longest `BookAppointment/@notes` accepted, in characters.
pub const MAX_APPOINTMENT_NOTES: usize = 500;

/// The default longest `notes` of a medication order, in characters (a practice may set
/// another).
pub const DEFAULT_MAX_MEDICATION_NOTES: usize = 500;

macro_rules! codes {
    ($($(#[$doc:meta])* $ident:ident = $code:literal, $messages:literal;)*) => {
        $( $(#[$doc])* pub const $ident: Code = Code { code: $code, name: stringify!($ident), messages: $messages }; )*
        /// Every code, in the order of this module.
        pub const ALL: &[Code] = &[$($ident),*];
    };
}

codes! {
    /// The `suid` is missing, made up, ended, expired, or belongs to another provider.
    NOT_AUTHENTICATED = "3", "every message sent with a suid";
    /// The `Application/@providerId` does not match the client certificate's provider, or the
    /// provider may not use this variant.
    INVALID_PROVIDER_ID = "5", "LinkAccount";
    /// The slot or appointment starts in the past: it cannot be booked, or cancelled online.
    START_DATE_IN_PAST = "5", "BookAppointment, CancelAppointment";
    /// The patient is not one the user may act for (never granted, or the grant was withdrawn);
    /// later services also answer it when switched off for the patient or practice.
    NO_ACCESS = "6", "PatientSelected, ListServiceAccesses, ListSlots, BookAppointment, ViewAppointments, CancelAppointment, ListRepeatMedication, ListAcuteMedication, RequestMedication, GetPrescriptionRequests, AmendPrescriptionRequest, RetrieveDemographics, ChangeDemographics, RequestCommunityPharmacy, UpdateCommunityPharmacy, RequestAccountInformation, ResetOnlineAccount, RequestBinaryData, ViewPatientOverview, RequestPatientRecord, TestResultsView, ListRecordAccesses, MessageRecipients, MessagesView, MessageCreate, MessageMarkAsRead, UnreadMessageCount, MessageDelete";
    /// The patient already holds the practice's maximum number of future appointments.
    APPOINTMENT_LIMIT_REACHED = "7", "BookAppointment";
    /// Unknown account or wrong linkage key (the same answer for both).
    INVALID_LINKAGE_CREDENTIALS = "8", "LinkAccount";
    /// Wrong account id or passphrase, unlinked provider, wrong practice, or ended account.
    PROBLEM_LOGGING_ON = "9", "Authenticate";
    /// `RequestBinaryData`: the file is larger than the practice lets patients download
    /// online. `MessageCreate`: an attachment is larger than the practice's limit once decoded
    /// (default 5 MiB), or the message is larger than the largest valid one.
    FILE_TOO_LARGE = "24", "RequestBinaryData, MessageCreate";
    /// The appointment starts within the practice's cancellation cut-off (one hour unless the
    /// practice sets another): too late to cancel online.
    APPOINTMENT_WITHIN_CUTOFF = "40", "CancelAppointment";
    /// The file is still being uploaded at the practice; it can be fetched once complete.
    FILE_STILL_UPLOADING = "45", "RequestBinaryData";
    /// The linkage key was right but has expired, or the online account has ended.
    REGISTRATION_ENDED = "509", "LinkAccount";
    /// The last name does not match the practice's record.
    LAST_NAME_MISMATCH = "512", "LinkAccount";
    /// The date of birth does not match the practice's record.
    DATE_OF_BIRTH_MISMATCH = "513", "LinkAccount";
    /// The patient is younger than the practice's minimum age for online services.
    TOO_YOUNG = "553", "LinkAccount";
    /// No patient with that NHS number.
    NHS_NUMBER_NOT_FOUND = "554", "LinkAccount";
    /// The patient is not registered at the practice named by `organisationCode`.
    NOT_REGISTERED_AT_PRACTICE = "555", "LinkAccount";
    /// No such slot: unknown session, a start off the slot grid, an end that is not the slot's
    /// end, another practice's session, or a slot outside the booking window.
    SLOT_NOT_FOUND = "1102", "BookAppointment";
    /// Another appointment already holds the slot.
    SLOT_ALREADY_BOOKED = "1103", "BookAppointment";
    /// The body is not well-formed UTF-8 XML, has a DOCTYPE or entities, or is not a POST.
    MALFORMED_REQUEST = "9001", "any";
    /// The `type` header is missing or names no message this server knows.
    UNKNOWN_MESSAGE_TYPE = "9002", "any";
    /// The root element is not the one the `type` header names.
    TYPE_MISMATCH = "9003", "any";
    /// A required attribute or element is missing, or a value has the wrong form.
    INVALID_FIELD = "9004", "any";
    /// The body is larger than the server accepts.
    REQUEST_TOO_LARGE = "9005", "any";
    /// The `apiVersion` is not one this server speaks.
    UNSUPPORTED_API_VERSION = "9006", "any";
    /// The client certificate's provider is not registered or has been revoked, or a
    /// `providerId` in the body does not match it.
    PROVIDER_NOT_RECOGNISED = "9007", "any";
    /// Too many attempts; retry after the time given in `technicalMessage`.
    RATE_LIMITED = "9008", "LinkAccount";
    /// `patientId`/`onlineUserId` are not the session's selected patient and online user.
    PATIENT_NOT_SELECTED = "9009", "every per-patient message";
    /// The server cannot reach its database or hit an internal fault; nothing was changed.
    SERVICE_UNAVAILABLE = "9010", "any";
    /// `notes` is longer than [`MAX_APPOINTMENT_NOTES`] characters (booking) or than the
    /// practice's maximum for a medication order (default [`DEFAULT_MAX_MEDICATION_NOTES`]).
    NOTES_TOO_LONG = "9011", "BookAppointment, RequestMedication, AmendPrescriptionRequest";
    /// `apptId` names no live appointment of the selected patient (unknown, cancelled, or
    /// another patient's: one answer for all).
    APPOINTMENT_NOT_FOUND = "9012", "CancelAppointment";
    /// This session has not fetched the patient's medication list (`ListRepeatMedication` or
    /// `ListAcuteMedication`) since it selected the patient.
    MEDICATION_LIST_NOT_FETCHED = "9013", "RequestMedication, AmendPrescriptionRequest";
    /// The practice changed the patient's courses after this session last fetched the list.
    MEDICATION_LIST_CHANGED = "9014", "RequestMedication, AmendPrescriptionRequest";
    /// A `drugId` names no current course of the patient (or not with that `type`).
    UNKNOWN_COURSE = "9015", "RequestMedication, AmendPrescriptionRequest";
    /// A course may not be ordered now: the practice made it unrequestable, its issues are
    /// used up, or it is acute and the practice takes no acute requests.
    COURSE_NOT_REQUESTABLE = "9016", "RequestMedication, AmendPrescriptionRequest";
    /// A course already has an outstanding request (this wins over "not requestable").
    ALREADY_REQUESTED = "9017", "RequestMedication, AmendPrescriptionRequest";
    /// More courses than the practice's maximum per request.
    TOO_MANY_MEDICATIONS = "9018", "RequestMedication, AmendPrescriptionRequest";
    /// `requestId` names no prescription request of the selected patient.
    PRESCRIPTION_REQUEST_NOT_FOUND = "9019", "AmendPrescriptionRequest";
    /// The request is no longer `Requested` (issued, rejected or cancelled): it cannot change.
    PRESCRIPTION_REQUEST_ACTIONED = "9020", "AmendPrescriptionRequest";
    /// A postcode is not a UK postcode (nor one of the special forms such as `GIR 0AA`).
    INVALID_POSTCODE = "9021", "ChangeDemographics, RequestCommunityPharmacy";
    /// A telephone number is not a UK number, or there are more numbers than the server keeps.
    INVALID_TELEPHONE_NUMBER = "9022", "ChangeDemographics";
    /// The e-mail address is not of the form local-part@domain.
    INVALID_EMAIL_ADDRESS = "9023", "ChangeDemographics";
    /// A part of the address, or the e-mail address, is longer than its documented maximum.
    DEMOGRAPHICS_FIELD_TOO_LONG = "9024", "ChangeDemographics";
    /// The change names a name (`PersonName`) or a date of birth: these cannot change online.
    DEMOGRAPHICS_NOT_CHANGEABLE = "9025", "ChangeDemographics";
    /// The new address has no postcode, or neither a house name or number nor a street.
    ADDRESS_INCOMPLETE = "9026", "ChangeDemographics";
    /// The change carries none of `Address`, `TelephoneNumbers` and `EmailAddress`.
    NOTHING_TO_CHANGE = "9027", "ChangeDemographics";
    /// `odsCode` names no pharmacy of the directory.
    PHARMACY_NOT_FOUND = "9028", "UpdateCommunityPharmacy";
    /// The pharmacy has closed: it cannot be nominated.
    PHARMACY_CLOSED = "9029", "UpdateCommunityPharmacy";
    /// `providerId` names no application linked to the account.
    APPLICATION_NOT_LINKED = "9030", "ResetOnlineAccount";
    /// `recipientId` or `unitRecipientId` names no recipient of the patient's practice that
    /// takes messages from patients (or a recipient of the other kind).
    RECIPIENT_NOT_FOUND = "9041", "MessageCreate";
    /// `conversationId` names no conversation of the selected patient.
    CONVERSATION_NOT_FOUND = "9042", "MessageCreate";
    /// The message text is empty (or white space only).
    MESSAGE_EMPTY = "9043", "MessageCreate";
    /// The message text is longer than [`crate::MAX_MESSAGE_TEXT`] characters.
    MESSAGE_TOO_LONG = "9044", "MessageCreate";
    /// A `messageId` names no undeleted message of the selected patient; nothing was changed.
    MESSAGE_NOT_FOUND = "9045", "MessageMarkAsRead, MessageDelete";
    /// An attachment's `fileType` is not one the practice accepts (default pdf, jpg, jpeg, png).
    ATTACHMENT_TYPE_NOT_ALLOWED = "9046", "MessageCreate";
    /// An attachment's bytes are not a file of its declared `fileType` (checked by its magic
    /// number).
    ATTACHMENT_CONTENT_MISMATCH = "9047", "MessageCreate";
    /// An attachment's text is not standard base64.
    ATTACHMENT_NOT_BASE64 = "9048", "MessageCreate";
    /// More attachments than the practice accepts on one message (default 3).
    TOO_MANY_ATTACHMENTS = "9049", "MessageCreate";
    /// An attachment's `fileName` is empty, too long, or holds a path separator, a control
    /// character or a name such as `..`.
    ATTACHMENT_NAME_INVALID = "9050", "MessageCreate";
    /// No file with that `binaryDataId` belongs to the patient (unknown, another patient's, or
    /// a document hidden from online access: the same answer for all three).
    BINARY_DATA_NOT_FOUND = "9031", "RequestBinaryData";
    /// No test result with that `testResultId` belongs to the patient (unknown, another
    /// patient's, or hidden from online access: the same answer for all three).
    TEST_RESULT_NOT_FOUND = "9032", "TestResultsView";
    /// `startDate` is after `endDate`.
    INVALID_DATE_RANGE = "9033", "TestResultsView, ListRecordAccesses";
}

/// The most telephone numbers a patient's record keeps.
pub const MAX_TELEPHONE_NUMBERS: usize = 5;

/// The longest part of an address (`houseNameFlat`, `street`, `village`, `town`, `county`),
/// in characters: the 35 of a line of an NHS address.
pub const MAX_ADDRESS_PART: usize = 35;

/// The longest e-mail address, in characters.
pub const MAX_EMAIL_ADDRESS: usize = 254;

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::ALL;

    /// docs/error-codes.md is what integrators read: every code must have its own row there.
    #[test]
    fn every_code_is_documented() {
        let doc = include_str!("../../../docs/error-codes.md");
        for c in ALL {
            assert!(
                doc.contains(&format!("| `{}` |", c.code)),
                "docs/error-codes.md has no row for code {} ({})",
                c.code,
                c.name
            );
        }
    }

    /// openpfs's own codes (9000 up) are unique; a real-API code may appear more than once
    /// only for different messages (codes are per message).
    #[test]
    fn codes_are_unique() {
        for (i, a) in ALL.iter().enumerate() {
            assert!(
                ALL[i + 1..].iter().all(|b| b.name != a.name),
                "{} twice",
                a.name
            );
            for b in &ALL[i + 1..] {
                if b.code == a.code {
                    assert!(a.code.parse::<u32>().unwrap() < 9000, "{} twice", a.code);
                    let theirs: Vec<&str> = b.messages.split(", ").collect();
                    assert!(
                        a.messages.split(", ").all(|m| !theirs.contains(&m)),
                        "{} twice for one message",
                        a.code
                    );
                }
            }
        }
    }
}
