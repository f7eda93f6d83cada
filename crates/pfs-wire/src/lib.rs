//! PFS message types and their XML codec.
//!
//! Every message implements [`WireMessage`]: `encode` writes the exact element and attribute
//! names of the PFS wire, `decode` reads them back with errors that name the offending element
//! or attribute but never quote a value. [`Request`] is the one place that knows which `type`
//! header names which request.
//!
//! Everything here is total: untrusted text is never sliced by byte offset, nothing unwraps, and
//! no input can make the crate panic. The lints below keep it that way (tests may allow them).

#![deny(
    clippy::indexing_slicing,
    clippy::string_slice,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

pub mod codec;
pub mod codes;
pub mod msg;
pub mod scalar;
pub mod xml;

pub use codec::{
    DecodeError, Effect, MAX_SNIFFED_ID, MessageName, ReplyMessage, RequestEffect, RequestMessage,
    RootIds, WireMessage, check_root, sniff_root_ids, sniff_uuid,
};
pub use msg::account::{
    LinkedApplication, RequestAccountInformation, RequestAccountInformationReply,
    ResetOnlineAccount, ResetOnlineAccountReply,
};
pub use msg::appointments::{
    Appointment, BookAppointment, BookAppointmentReply, CancelAppointment, CancelAppointmentReply,
    ListSlots, ListSlotsReply, RequestSystmOnlineMessages, RequestSystmOnlineMessagesReply,
    Session, Slot, ViewAppointments, ViewAppointmentsReply,
};
pub use msg::binary_data::{RequestBinaryData, RequestBinaryDataReply};
pub use msg::common::{
    API_VERSION, Address, Application, Header, PatientScope, Person, PersonAddress, PersonName,
    TelephoneNumber, TelephoneType,
};
pub use msg::demographics::{
    ChangeDemographics, ChangeDemographicsReply, ChangeStatus, DemographicsChange,
    DemographicsPerson, MAX_WIRE_TELEPHONE_NUMBERS, RetrieveDemographics,
    RetrieveDemographicsReply,
};
pub use msg::error::ErrorReply;
pub use msg::linkage::{LinkAccount, LinkAccountReply, LinkVariant};
pub use msg::medication::{
    AmendAction, AmendPrescriptionRequest, AmendPrescriptionRequestReply, CourseType,
    GetPrescriptionRequests, GetPrescriptionRequestsReply, ListAcuteMedication,
    ListAcuteMedicationReply, ListRepeatMedication, ListRepeatMedicationReply,
    MAX_WIRE_MEDICATIONS, Medication, MedicationItem, PrescriptionRequest, RequestMedication,
    RequestMedicationReply, RequestStatus, RequestedMedication,
};
pub use msg::messaging::{
    AttachmentRef, MAX_ATTACHMENT_BYTES, MAX_ATTACHMENTS, MAX_FILE_NAME, MAX_MESSAGE_TEXT,
    MAX_WIRE_MESSAGE_IDS, MESSAGE_CREATE_MAX_BODY_BYTES, MessageAttachment, MessageCreate,
    MessageCreateReply, MessageDelete, MessageDeleteReply, MessageEntry, MessageMarkAsRead,
    MessageMarkAsReadReply, MessageRecipients, MessageRecipientsReply, MessageTo, MessagesView,
    MessagesViewReply, RecipientItem, RecipientKind, UnreadMessageCount, UnreadMessageCountReply,
};
pub use msg::pharmacy::{
    PharmacyEntry, RequestCommunityPharmacy, RequestCommunityPharmacyReply,
    UpdateCommunityPharmacy, UpdateCommunityPharmacyReply,
};
pub use msg::record::{
    EventItem, ListRecordAccesses, ListRecordAccessesReply, RecordAccessEntry, RecordEntry,
    RecordEvent, RequestPatientRecord, RequestPatientRecordReply, TestResultsQuery,
    TestResultsView, TestResultsViewReply, ViewPatientOverview, ViewPatientOverviewReply,
};
pub use msg::services::{ListServiceAccesses, ListServiceAccessesReply, ServiceAccess};
pub use msg::session::{
    Authenticate, AuthenticateReply, Logoff, LogoffReply, PatientAccess, PatientSelected,
    PatientSelectedReply,
};
pub use msg::version::{CheckVersion, CheckVersionReply, SupportedVersion};
pub use scalar::{Guid, UpperYesNo, YesNo};
pub use xml::{Element, Limits, Markup, XmlError};

/// Calls `$callback! { Name, Name, … }` with every request type this implementation
/// understands: the one list of messages. Everything else about a message is declared with its
/// type ([`RequestMessage`]), so adding a message to the API is one line here. pfs-core uses it
/// to generate its dispatch.
#[macro_export]
macro_rules! for_each_request {
    ($callback:ident) => {
        $callback! {
            LinkAccount,
            Authenticate,
            PatientSelected,
            Logoff,
            CheckVersion,
            ListServiceAccesses,
            ListSlots,
            BookAppointment,
            ViewAppointments,
            CancelAppointment,
            RequestSystmOnlineMessages,
            ListRepeatMedication,
            ListAcuteMedication,
            RequestMedication,
            GetPrescriptionRequests,
            AmendPrescriptionRequest,
            RetrieveDemographics,
            ChangeDemographics,
            RequestCommunityPharmacy,
            UpdateCommunityPharmacy,
            RequestAccountInformation,
            ResetOnlineAccount,
            MessageRecipients,
            MessagesView,
            MessageCreate,
            MessageMarkAsRead,
            UnreadMessageCount,
            MessageDelete,
            RequestBinaryData,
            ViewPatientOverview,
            RequestPatientRecord,
            TestResultsView,
            ListRecordAccesses,
        }
    };
}

/// Declares the [`Effect`] of every request type: whether sending it again is safe, which is
/// what decides whether a client may retry it. The one table of effects, next to the one list of
/// messages; a request type missing here does not compile (its [`RequestMessage`] impl needs
/// [`RequestEffect`]).
macro_rules! effects {
    ($($effect:ident: [$($name:ident),* $(,)?]),* $(,)?) => {
        $($(
            impl RequestEffect for $name {
                const EFFECT: Effect = Effect::$effect;
            }
        )*)*
    };
}

effects! {
    // Change nothing but the access log.
    Read: [
        CheckVersion,
        ListServiceAccesses,
        ListSlots,
        ViewAppointments,
        RequestSystmOnlineMessages,
        GetPrescriptionRequests,
        RetrieveDemographics,
        RequestCommunityPharmacy,
        RequestAccountInformation,
        MessageRecipients,
        MessagesView,
        UnreadMessageCount,
        RequestBinaryData,
        ViewPatientOverview,
        RequestPatientRecord,
        TestResultsView,
        ListRecordAccesses,
    ],
    // Change state, but a second copy leaves the same state and gets the same reply.
    Idempotent: [
        // Selects the patient for the session (again).
        PatientSelected,
        // Record that this session fetched the list, which allows it to order.
        ListRepeatMedication,
        ListAcuteMedication,
        // Marking a read message as read changes nothing.
        MessageMarkAsRead,
        // Nominating the nominated pharmacy (or removing no nomination) changes nothing.
        UpdateCommunityPharmacy,
    ],
    // A second copy does it again or is refused: booked twice, a second session, `9012`, …
    Write: [
        // Issues a new passphrase, replacing the one the lost reply carried; counts towards
        // the linkage budget.
        LinkAccount,
        // Opens a session; a lost reply leaves one open until its idle timeout.
        Authenticate,
        // A second copy gets `3`.
        Logoff,
        BookAppointment,
        CancelAppointment,
        RequestMedication,
        AmendPrescriptionRequest,
        ChangeDemographics,
        ResetOnlineAccount,
        MessageCreate,
        MessageDelete,
    ],
}

macro_rules! requests {
    ($($name:ident),* $(,)?) => {
        /// A decoded request, one variant per `type` header value.
        #[derive(Debug, Clone)]
        #[allow(clippy::large_enum_variant)]
        pub enum Request {
            $(
                #[doc = concat!("`", stringify!($name), "`")]
                $name($name),
            )*
        }

        /// Every request `type` this implementation understands.
        pub const REQUEST_TYPES: &[&str] = &[$(stringify!($name)),*];

        /// The root element of every message this implementation knows: each request, its
        /// reply, and `Error`. The only element names an `Error` text may repeat.
        pub const MESSAGE_ROOTS: &[&str] = &[
            $(stringify!($name), <<$name as RequestMessage>::Reply as WireMessage>::ROOT,)*
            <ErrorReply as WireMessage>::ROOT,
        ];

        impl Request {
            /// The `type` header / root element name.
            pub fn message_type(&self) -> &'static str {
                match self { $(Request::$name(_) => stringify!($name)),* }
            }

            /// The common attributes.
            pub fn header(&self) -> &Header {
                match self { $(Request::$name(m) => m.header()),* }
            }

            /// The patient and online user a per-patient request names; `None` for the others.
            pub fn scope(&self) -> Option<&PatientScope> {
                match self { $(Request::$name(m) => m.scope()),* }
            }

            /// The patient a per-patient request names (its `patientId`); `None` for the others.
            pub fn patient_id(&self) -> Option<&str> {
                self.scope().map(|s| s.patient_id.as_str())
            }

            /// Whether the request must carry a valid `suid` header.
            pub fn needs_session(&self) -> bool {
                match self { $(Request::$name(_) => <$name as RequestMessage>::NEEDS_SESSION),* }
            }

            /// What a request of this type does to the server's state ([`RequestEffect::EFFECT`]).
            pub fn effect(&self) -> Effect {
                match self { $(Request::$name(_) => <$name as RequestEffect>::EFFECT),* }
            }

            /// What requests of `message_type` do to the server's state
            /// ([`RequestEffect::EFFECT`]); `None` for a type this implementation does not know.
            pub fn type_effect(message_type: &str) -> Option<Effect> {
                match message_type {
                    $(stringify!($name) => Some(<$name as RequestEffect>::EFFECT),)*
                    _ => None,
                }
            }

            /// Whether requests of `message_type` carry the `<Application>` element; `None` for
            /// a type this implementation does not know.
            pub fn sends_application(message_type: &str) -> Option<bool> {
                match message_type {
                    $(stringify!($name) => Some(<$name as RequestMessage>::SENDS_APPLICATION),)*
                    _ => None,
                }
            }

            /// Whether requests of `message_type` must carry a valid `suid` header
            /// ([`RequestMessage::NEEDS_SESSION`]); `None` for a type this implementation does
            /// not know.
            pub fn type_needs_session(message_type: &str) -> Option<bool> {
                match message_type {
                    $(stringify!($name) => Some(<$name as RequestMessage>::NEEDS_SESSION),)*
                    _ => None,
                }
            }

            /// Whether requests of `message_type` name a patient with `unitId`, `patientId` and
            /// `onlineUserId` ([`RequestMessage::PER_PATIENT`]); `None` for a type this
            /// implementation does not know.
            pub fn is_per_patient(message_type: &str) -> Option<bool> {
                match message_type {
                    $(stringify!($name) => Some(<$name as RequestMessage>::PER_PATIENT),)*
                    _ => None,
                }
            }

            /// The parsing limits of requests of `message_type` ([`RequestMessage::LIMITS`]);
            /// `None` for a type this implementation does not know.
            pub fn limits(message_type: &str) -> Option<Limits> {
                match message_type {
                    $(stringify!($name) => Some(<$name as RequestMessage>::LIMITS),)*
                    _ => None,
                }
            }

            /// The largest body of `message_type` the transport must accept when it is larger
            /// than the transport's limit for every request ([`RequestMessage::MAX_BODY_BYTES`]);
            /// `None` for the other types and for a type this implementation does not know.
            pub fn max_body_bytes(message_type: &str) -> Option<usize> {
                match message_type {
                    $(stringify!($name) => <$name as RequestMessage>::MAX_BODY_BYTES,)*
                    _ => None,
                }
            }

            /// Decodes a body whose `type` header is `message_type`: the type must be known,
            /// the body a well-formed document within that type's limits, and the root element
            /// must equal the type.
            pub fn decode(message_type: &str, body: &[u8]) -> Result<Request, DecodeError> {
                match message_type {
                    $(stringify!($name) => {
                        let el = Element::parse_with(body, &<$name as RequestMessage>::LIMITS)?;
                        check_root(&el, stringify!($name))?;
                        Ok(Request::$name($name::from_owned_element(el)?))
                    })*
                    _ => Err(DecodeError::UnknownType),
                }
            }

            /// Encodes the request body.
            pub fn encode(&self) -> String {
                match self { $(Request::$name(m) => m.encode()),* }
            }
        }
    };
}

for_each_request!(requests);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_request_type_has_an_effect() {
        for ty in REQUEST_TYPES {
            assert!(Request::type_effect(ty).is_some(), "{ty}");
        }
        assert_eq!(Request::type_effect("NoSuchMessage"), None);
    }

    #[test]
    fn effects_of_the_messages_that_matter() {
        for ty in [
            "LinkAccount",
            "Authenticate",
            "Logoff",
            "BookAppointment",
            "CancelAppointment",
            "RequestMedication",
            "AmendPrescriptionRequest",
            "ChangeDemographics",
            "ResetOnlineAccount",
            "MessageCreate",
            "MessageDelete",
        ] {
            assert_eq!(Request::type_effect(ty), Some(Effect::Write), "{ty}");
            assert!(!Effect::Write.is_repeatable());
        }
        for ty in [
            "CheckVersion",
            "ListSlots",
            "ViewAppointments",
            "RequestBinaryData",
        ] {
            assert_eq!(Request::type_effect(ty), Some(Effect::Read), "{ty}");
        }
        assert_eq!(
            Request::type_effect("PatientSelected"),
            Some(Effect::Idempotent)
        );
        assert!(Effect::Read.is_repeatable() && Effect::Idempotent.is_repeatable());
        assert_eq!(Effect::Idempotent.to_string(), "idempotent");
        assert_eq!(<BookAppointment as RequestEffect>::EFFECT, Effect::Write);
    }
}
