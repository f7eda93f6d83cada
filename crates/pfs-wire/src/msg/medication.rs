//! Medication: `ListRepeatMedication`, `ListAcuteMedication`, `RequestMedication`,
//! `GetPrescriptionRequests` and `AmendPrescriptionRequest` (wire reference §2.6, §2.7 and
//! B.2–B.5).
//!
//! A course is named by its `drugId` and `type`. Real clients offer only `Repeat` courses whose
//! `requestable` is `y` and always order with `type="Repeat"`; `type` is read in any case and
//! written `Repeat` or `Acute`. Dates in replies are UK wall-clock time written
//! `2024-06-04T09:00:00.0Z`.

use chrono::NaiveDateTime;

use super::common::{Header, PatientScope, reply_root};
use crate::codec::{DecodeError, Fields, WireMessage, per_patient_request};
use crate::scalar::{Guid, YesNo, format_request_time, format_wall_clock, parse_wall_clock};
use crate::xml::{Element, Limits};

/// The accepted form of a date in a request or reply, in words.
const WALL_CLOCK: &str = "a UK wall-clock date-time such as 2024-06-04T09:00:00.0Z";

/// Most `Medication` children a `RequestMedication` or `AmendPrescriptionRequest` may hold on
/// the wire (the practice's own maximum, at most this, is checked afterwards with a friendly
/// `Error`).
pub const MAX_WIRE_MEDICATIONS: usize = 100;

/// Parsing limits of the two messages that carry an order: the root and
/// [`MAX_WIRE_MEDICATIONS`] items, and notes well past the documented maximum (500 characters,
/// up to 2,000 bytes), so that an over-long note gets its own friendly `Error` rather than
/// `9001`.
const ORDER_LIMITS: Limits = Limits {
    max_elements: MAX_WIRE_MEDICATIONS + 1,
    max_attributes: 3 * MAX_WIRE_MEDICATIONS + 64,
    max_value_bytes: 8 * 1024,
    ..Limits::REQUEST
};

/// A course's type: `Repeat` or `Acute`, read in any case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CourseType {
    /// A repeat course: issued again and again from one authorisation.
    Repeat,
    /// An acute course: a one-off prescription.
    Acute,
}

impl CourseType {
    /// The wire text.
    pub fn as_str(self) -> &'static str {
        match self {
            CourseType::Repeat => "Repeat",
            CourseType::Acute => "Acute",
        }
    }
}

impl std::str::FromStr for CourseType {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        if s.eq_ignore_ascii_case("Repeat") {
            Ok(CourseType::Repeat)
        } else if s.eq_ignore_ascii_case("Acute") {
            Ok(CourseType::Acute)
        } else {
            Err(())
        }
    }
}

impl std::fmt::Display for CourseType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How `type` is described in errors.
const COURSE_TYPE: &str = "Repeat or Acute";

/// Reads a request's header and scope and nothing else: the two list requests.
fn read_scoped(el: &Element, root: &'static str) -> Result<(Header, PatientScope), DecodeError> {
    let f = Fields::new(el, root);
    Ok((Header::read(&f)?, PatientScope::read(&f)?))
}

// ---------------------------------------------------------------------------------------------
// ListRepeatMedication, ListAcuteMedication
// ---------------------------------------------------------------------------------------------

/// One course in a medication list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Medication {
    /// `drugId`: the course's id, which an order names.
    pub drug_id: String,
    /// `type`.
    pub course_type: CourseType,
    /// `drug`: the drug's name, e.g. `Amlodipine 5mg tablets`.
    pub drug: String,
    /// `details`: dosage and quantity, e.g. `One daily - 28 tablet`.
    pub details: String,
    /// `requestable`: whether the patient may order it now (`y`/`n`).
    pub requestable: YesNo,
}

impl Medication {
    fn to_element(&self) -> Element {
        Element::new("Medication")
            .attr("drugId", self.drug_id.clone())
            .attr("type", self.course_type.as_str())
            .attr("drug", self.drug.clone())
            .attr("details", self.details.clone())
            .attr("requestable", self.requestable.as_str())
    }

    fn read(f: &Fields<'_>) -> Result<Self, DecodeError> {
        Ok(Medication {
            drug_id: f.req("drugId")?,
            course_type: f.req_with("type", COURSE_TYPE, str::parse::<CourseType>)?,
            drug: f.opt("drug").unwrap_or_default(),
            details: f.opt("details").unwrap_or_default(),
            requestable: f
                .opt_with("requestable", "y or n", str::parse::<YesNo>)?
                .unwrap_or(YesNo(false)),
        })
    }
}

/// Declares a medication list request (common attributes and scope only) and its reply (the
/// echo and the courses).
macro_rules! medication_list {
    ($(#[$doc:meta])* $request:ident, $(#[$rdoc:meta])* $reply:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $request {
            /// Common attributes.
            pub header: Header,
            /// The selected patient and the online user.
            pub scope: PatientScope,
        }

        impl WireMessage for $request {
            const ROOT: &'static str = stringify!($request);

            fn to_element(&self) -> Element {
                self.scope.write(self.header.write(Element::new(Self::ROOT)))
            }

            fn from_element(el: &Element) -> Result<Self, DecodeError> {
                let (header, scope) = read_scoped(el, Self::ROOT)?;
                Ok($request { header, scope })
            }
        }

        $(#[$rdoc])*
        #[derive(Debug, Clone, Default, PartialEq, Eq)]
        pub struct $reply {
            /// Echo of `patientId` and `onlineUserId`.
            pub scope: Option<PatientScope>,
            /// Echo of the request `uuid`.
            pub uuid: Option<Guid>,
            /// The courses, by drug name.
            pub medications: Vec<Medication>,
        }

        impl WireMessage for $reply {
            const ROOT: &'static str = concat!(stringify!($request), "Reply");

            fn to_element(&self) -> Element {
                reply_root(Self::ROOT, self.scope.as_ref(), self.uuid)
                    .children(self.medications.iter().map(Medication::to_element))
            }

            fn from_element(el: &Element) -> Result<Self, DecodeError> {
                let f = Fields::new(el, Self::ROOT);
                Ok($reply {
                    scope: PatientScope::read(&f).ok(),
                    uuid: f.uuid()?,
                    medications: f
                        .children("Medication")
                        .map(|m| Medication::read(&m))
                        .collect::<Result<_, _>>()?,
                })
            }
        }

        per_patient_request!($request => $reply);
    };
}

medication_list!(
    /// `ListRepeatMedication`: the patient's current repeat courses (§2.6). Fetching it is what
    /// allows an order.
    ListRepeatMedication,
    /// `ListRepeatMedicationReply`.
    ListRepeatMedicationReply
);

medication_list!(
    /// `ListAcuteMedication`: the patient's current acute courses (B.2).
    ListAcuteMedication,
    /// `ListAcuteMedicationReply`: `requestable` says whether the practice takes requests for
    /// that acute course.
    ListAcuteMedicationReply
);

// ---------------------------------------------------------------------------------------------
// RequestMedication
// ---------------------------------------------------------------------------------------------

/// One course named in an order: `Medication` with `drugId` and `type`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MedicationItem {
    /// `drugId`: the course's id from the medication list.
    pub drug_id: String,
    /// `type`: the course's type (real clients always send `Repeat`).
    pub course_type: CourseType,
}

impl MedicationItem {
    fn to_element(&self) -> Element {
        Element::new("Medication")
            .attr("drugId", self.drug_id.clone())
            .attr("type", self.course_type.as_str())
    }

    fn read(f: &Fields<'_>) -> Result<Self, DecodeError> {
        Ok(MedicationItem {
            drug_id: f.req("drugId")?,
            course_type: f.req_with("type", COURSE_TYPE, str::parse::<CourseType>)?,
        })
    }
}

/// Reads an order's `Medication` children: at least one, no `drugId` twice.
fn read_items(f: &Fields<'_>) -> Result<Vec<MedicationItem>, DecodeError> {
    let items = f
        .children("Medication")
        .map(|m| MedicationItem::read(&m))
        .collect::<Result<Vec<_>, _>>()?;
    if items.is_empty() {
        return Err(DecodeError::MissingChild {
            element: f.name,
            child: "Medication",
        });
    }
    for (i, item) in items.iter().enumerate() {
        if items.iter().skip(i + 1).any(|o| o.drug_id == item.drug_id) {
            return Err(DecodeError::Shape(
                "an order names the same Medication/@drugId more than once",
            ));
        }
    }
    Ok(items)
}

/// Prints notes as `[REDACTED]`: they are the patient's own words about their health.
struct Redacted<'a>(&'a Option<String>);

impl std::fmt::Debug for Redacted<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(_) => f.write_str("Some([REDACTED])"),
            None => f.write_str("None"),
        }
    }
}

/// `RequestMedication`: order one or more courses, all or nothing (§2.7, B.3).
#[derive(Clone, PartialEq, Eq)]
pub struct RequestMedication {
    /// Common attributes.
    pub header: Header,
    /// The selected patient (whose courses they must be) and the online user.
    pub scope: PatientScope,
    /// `notes`: the patient's free-text message to the practice, if any.
    pub notes: Option<String>,
    /// The courses ordered (at least one, each once).
    pub medications: Vec<MedicationItem>,
}

impl std::fmt::Debug for RequestMedication {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestMedication")
            .field("header", &self.header)
            .field("scope", &self.scope)
            .field("notes", &Redacted(&self.notes))
            .field("medications", &self.medications)
            .finish()
    }
}

impl WireMessage for RequestMedication {
    const ROOT: &'static str = "RequestMedication";

    fn to_element(&self) -> Element {
        self.scope
            .write(self.header.write(Element::new(Self::ROOT)))
            .opt_attr("notes", self.notes.clone())
            .children(self.medications.iter().map(MedicationItem::to_element))
    }

    fn from_element(el: &Element) -> Result<Self, DecodeError> {
        let f = Fields::new(el, Self::ROOT);
        Ok(RequestMedication {
            header: Header::read(&f)?,
            scope: PatientScope::read(&f)?,
            notes: f.opt("notes"),
            medications: read_items(&f)?,
        })
    }
}

/// `RequestMedicationReply`: failures are an `Error`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestMedicationReply {
    /// Echo of `patientId` and `onlineUserId`.
    pub scope: Option<PatientScope>,
    /// Echo of the request `uuid`.
    pub uuid: Option<Guid>,
    /// `message`: the practice's confirmation text (its `RequestMedicationConfirmation`
    /// setting), when it has one.
    pub message: Option<String>,
    /// `requestId`: the new request's id, as `GetPrescriptionRequests` lists it (an openpfs
    /// addition; clients that do not know it ignore it).
    pub request_id: Option<String>,
}

impl WireMessage for RequestMedicationReply {
    const ROOT: &'static str = "RequestMedicationReply";

    fn to_element(&self) -> Element {
        let el = match &self.scope {
            Some(s) => s.write(Element::new(Self::ROOT)),
            None => Element::new(Self::ROOT),
        };
        // The wire reference's order: patientId, onlineUserId, message, uuid.
        el.opt_attr("message", self.message.clone())
            .opt_attr("uuid", self.uuid.map(|g| g.to_string()))
            .opt_attr("requestId", self.request_id.clone())
    }

    fn from_element(el: &Element) -> Result<Self, DecodeError> {
        let f = Fields::new(el, Self::ROOT);
        Ok(RequestMedicationReply {
            scope: PatientScope::read(&f).ok(),
            uuid: f.uuid()?,
            message: f.opt("message"),
            request_id: f.opt("requestId"),
        })
    }
}

// ---------------------------------------------------------------------------------------------
// GetPrescriptionRequests
// ---------------------------------------------------------------------------------------------

/// `GetPrescriptionRequests`: the patient's prescription requests made between `startDate`
/// and `endDate` (default: the last 180 days), newest first (B.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GetPrescriptionRequests {
    /// Common attributes.
    pub header: Header,
    /// The selected patient and the online user.
    pub scope: PatientScope,
    /// `startDate`: the earliest request date to include (UK wall-clock time).
    pub start_date: Option<NaiveDateTime>,
    /// `endDate`: the latest request date to include (UK wall-clock time).
    pub end_date: Option<NaiveDateTime>,
}

impl WireMessage for GetPrescriptionRequests {
    const ROOT: &'static str = "GetPrescriptionRequests";

    fn to_element(&self) -> Element {
        self.scope
            .write(self.header.write(Element::new(Self::ROOT)))
            .opt_attr("startDate", self.start_date.map(format_request_time))
            .opt_attr("endDate", self.end_date.map(format_request_time))
    }

    fn from_element(el: &Element) -> Result<Self, DecodeError> {
        let f = Fields::new(el, Self::ROOT);
        Ok(GetPrescriptionRequests {
            header: Header::read(&f)?,
            scope: PatientScope::read(&f)?,
            start_date: f.opt_with("startDate", WALL_CLOCK, parse_wall_clock)?,
            end_date: f.opt_with("endDate", WALL_CLOCK, parse_wall_clock)?,
        })
    }
}

/// Where a prescription request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RequestStatus {
    /// Waiting for the practice; the patient may still amend or cancel it.
    Requested,
    /// The practice issued the prescription.
    Issued,
    /// The practice turned the request down (see its comment).
    Rejected,
    /// The patient cancelled it.
    Cancelled,
}

impl RequestStatus {
    /// The wire text.
    pub fn as_str(self) -> &'static str {
        match self {
            RequestStatus::Requested => "Requested",
            RequestStatus::Issued => "Issued",
            RequestStatus::Rejected => "Rejected",
            RequestStatus::Cancelled => "Cancelled",
        }
    }
}

impl std::str::FromStr for RequestStatus {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        [
            RequestStatus::Requested,
            RequestStatus::Issued,
            RequestStatus::Rejected,
            RequestStatus::Cancelled,
        ]
        .into_iter()
        .find(|st| st.as_str().eq_ignore_ascii_case(s))
        .ok_or(())
    }
}

impl std::fmt::Display for RequestStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How `status` is described in errors.
const STATUS: &str = "Requested, Issued, Rejected or Cancelled";

/// One course of a [`PrescriptionRequest`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestedMedication {
    /// `drugId`.
    pub drug_id: String,
    /// `drug`: the drug's name when it was requested.
    pub drug: String,
    /// `type`.
    pub course_type: CourseType,
}

impl RequestedMedication {
    fn to_element(&self) -> Element {
        Element::new("Medication")
            .attr("drugId", self.drug_id.clone())
            .attr("drug", self.drug.clone())
            .attr("type", self.course_type.as_str())
    }

    fn read(f: &Fields<'_>) -> Result<Self, DecodeError> {
        Ok(RequestedMedication {
            drug_id: f.req("drugId")?,
            drug: f.opt("drug").unwrap_or_default(),
            course_type: f.req_with("type", COURSE_TYPE, str::parse::<CourseType>)?,
        })
    }
}

/// One `PrescriptionRequest` of a [`GetPrescriptionRequestsReply`].
#[derive(Clone, PartialEq, Eq)]
pub struct PrescriptionRequest {
    /// `requestId`: the id `AmendPrescriptionRequest` names it by.
    pub request_id: String,
    /// `dateRequested`, UK wall-clock time.
    pub date_requested: NaiveDateTime,
    /// `status`.
    pub status: RequestStatus,
    /// `statusDate`: when the status last changed, UK wall-clock time.
    pub status_date: NaiveDateTime,
    /// `notes`: the patient's own note, if any.
    pub notes: Option<String>,
    /// `practiceComment`: the practice's comment when it issued or rejected the request.
    pub practice_comment: Option<String>,
    /// The courses requested.
    pub medications: Vec<RequestedMedication>,
}

impl std::fmt::Debug for PrescriptionRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrescriptionRequest")
            .field("request_id", &self.request_id)
            .field("status", &self.status)
            .field("date_requested", &self.date_requested)
            .finish_non_exhaustive()
    }
}

impl PrescriptionRequest {
    fn to_element(&self) -> Element {
        Element::new("PrescriptionRequest")
            .attr("requestId", self.request_id.clone())
            .attr("dateRequested", format_wall_clock(self.date_requested))
            .attr("status", self.status.as_str())
            .attr("statusDate", format_wall_clock(self.status_date))
            .opt_attr("notes", self.notes.clone())
            .opt_attr("practiceComment", self.practice_comment.clone())
            .children(self.medications.iter().map(RequestedMedication::to_element))
    }

    fn read(f: &Fields<'_>) -> Result<Self, DecodeError> {
        Ok(PrescriptionRequest {
            request_id: f.req("requestId")?,
            date_requested: f.req_with("dateRequested", WALL_CLOCK, parse_wall_clock)?,
            status: f.req_with("status", STATUS, str::parse::<RequestStatus>)?,
            status_date: f.req_with("statusDate", WALL_CLOCK, parse_wall_clock)?,
            notes: f.opt("notes"),
            practice_comment: f.opt("practiceComment"),
            medications: f
                .children("Medication")
                .map(|m| RequestedMedication::read(&m))
                .collect::<Result<_, _>>()?,
        })
    }
}

/// `GetPrescriptionRequestsReply`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GetPrescriptionRequestsReply {
    /// Echo of `patientId` and `onlineUserId`.
    pub scope: Option<PatientScope>,
    /// Echo of the request `uuid`.
    pub uuid: Option<Guid>,
    /// The requests, newest first.
    pub requests: Vec<PrescriptionRequest>,
}

impl WireMessage for GetPrescriptionRequestsReply {
    const ROOT: &'static str = "GetPrescriptionRequestsReply";

    fn to_element(&self) -> Element {
        reply_root(Self::ROOT, self.scope.as_ref(), self.uuid)
            .children(self.requests.iter().map(PrescriptionRequest::to_element))
    }

    fn from_element(el: &Element) -> Result<Self, DecodeError> {
        let f = Fields::new(el, Self::ROOT);
        Ok(GetPrescriptionRequestsReply {
            scope: PatientScope::read(&f).ok(),
            uuid: f.uuid()?,
            requests: f
                .children("PrescriptionRequest")
                .map(|r| PrescriptionRequest::read(&r))
                .collect::<Result<_, _>>()?,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// AmendPrescriptionRequest
// ---------------------------------------------------------------------------------------------

/// What `AmendPrescriptionRequest` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AmendAction {
    /// Withdraw the request.
    Cancel,
    /// Replace its courses (and notes).
    Amend,
}

impl AmendAction {
    /// The wire text.
    pub fn as_str(self) -> &'static str {
        match self {
            AmendAction::Cancel => "Cancel",
            AmendAction::Amend => "Amend",
        }
    }
}

impl std::str::FromStr for AmendAction {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        if s.eq_ignore_ascii_case("Cancel") {
            Ok(AmendAction::Cancel)
        } else if s.eq_ignore_ascii_case("Amend") {
            Ok(AmendAction::Amend)
        } else {
            Err(())
        }
    }
}

/// `AmendPrescriptionRequest`: cancel a request, or replace its courses and notes, while it is
/// still `Requested` (B.5). `Amend` must name the new list of courses (at least one); `notes`
/// replaces the old note (absent: no note).
#[derive(Clone, PartialEq, Eq)]
pub struct AmendPrescriptionRequest {
    /// Common attributes.
    pub header: Header,
    /// The selected patient (whose request it must be) and the online user.
    pub scope: PatientScope,
    /// `requestId`.
    pub request_id: String,
    /// `action`.
    pub action: AmendAction,
    /// `notes` (for `Amend`).
    pub notes: Option<String>,
    /// The new courses (for `Amend`; empty for `Cancel`).
    pub medications: Vec<MedicationItem>,
}

impl std::fmt::Debug for AmendPrescriptionRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AmendPrescriptionRequest")
            .field("header", &self.header)
            .field("scope", &self.scope)
            .field("request_id", &self.request_id)
            .field("action", &self.action)
            .field("notes", &Redacted(&self.notes))
            .field("medications", &self.medications)
            .finish()
    }
}

impl WireMessage for AmendPrescriptionRequest {
    const ROOT: &'static str = "AmendPrescriptionRequest";

    fn to_element(&self) -> Element {
        self.scope
            .write(self.header.write(Element::new(Self::ROOT)))
            .attr("requestId", self.request_id.clone())
            .attr("action", self.action.as_str())
            .opt_attr("notes", self.notes.clone())
            .children(self.medications.iter().map(MedicationItem::to_element))
    }

    fn from_element(el: &Element) -> Result<Self, DecodeError> {
        let f = Fields::new(el, Self::ROOT);
        let action = f.req_with("action", "Cancel or Amend", str::parse::<AmendAction>)?;
        Ok(AmendPrescriptionRequest {
            header: Header::read(&f)?,
            scope: PatientScope::read(&f)?,
            request_id: f.req("requestId")?,
            action,
            notes: f.opt("notes"),
            medications: match action {
                AmendAction::Cancel => Vec::new(),
                AmendAction::Amend => read_items(&f)?,
            },
        })
    }
}

/// `AmendPrescriptionRequestReply`: the request's id and its status afterwards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AmendPrescriptionRequestReply {
    /// Echo of `patientId` and `onlineUserId`.
    pub scope: Option<PatientScope>,
    /// Echo of the request `uuid`.
    pub uuid: Option<Guid>,
    /// `requestId`.
    pub request_id: String,
    /// `status`: `Cancelled` after a cancel, `Requested` after an amendment.
    pub status: RequestStatus,
}

impl WireMessage for AmendPrescriptionRequestReply {
    const ROOT: &'static str = "AmendPrescriptionRequestReply";

    fn to_element(&self) -> Element {
        reply_root(Self::ROOT, self.scope.as_ref(), self.uuid)
            .attr("requestId", self.request_id.clone())
            .attr("status", self.status.as_str())
    }

    fn from_element(el: &Element) -> Result<Self, DecodeError> {
        let f = Fields::new(el, Self::ROOT);
        Ok(AmendPrescriptionRequestReply {
            scope: PatientScope::read(&f).ok(),
            uuid: f.uuid()?,
            request_id: f.req("requestId")?,
            status: f.req_with("status", STATUS, str::parse::<RequestStatus>)?,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// What the server knows of each request
// ---------------------------------------------------------------------------------------------

per_patient_request!(RequestMedication => RequestMedicationReply, LIMITS = ORDER_LIMITS);
per_patient_request!(GetPrescriptionRequests => GetPrescriptionRequestsReply);
per_patient_request!(
    AmendPrescriptionRequest => AmendPrescriptionRequestReply,
    LIMITS = ORDER_LIMITS
);
