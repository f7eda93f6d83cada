//! Appointments: `ListSlots`, `BookAppointment`, `ViewAppointments`, `CancelAppointment` and
//! the practice's guidance texts, `RequestSystmOnlineMessages` (wire reference §2.8–2.12).
//!
//! Every time here is UK local wall-clock time ([`NaiveDateTime`]) with a decorative `Z` or
//! `+00:00` on the wire (§1.6): requests are read with [`parse_wall_clock`], which accepts every
//! form real clients send (`2024-06-04T09:00:00+00:00`, `2024-06-03T14:07:12.3Z`, plain,
//! `….0Z`), and replies are written `2024-06-04T09:00:00.0Z` by [`format_wall_clock`], the
//! wall-clock time unchanged in summer and in winter. Turning them into instants is not this
//! crate's business.
//!
//! A slot has no id of its own: `ListSlots` names it by its session's `sessionId` and its start
//! time, and `BookAppointment` books it by `sessionId` + `startDate` + `endDate`.

use chrono::NaiveDateTime;

use super::common::{Header, PatientScope, reply_root};
use crate::codec::{DecodeError, Fields, WireMessage, per_patient_request};
use crate::scalar::{
    Guid, UpperYesNo, format_booking, format_request_time, format_wall_clock, parse_wall_clock,
};
use crate::xml::{Element, Limits};

/// The accepted form of a request time, in words (for [`DecodeError::Invalid`]).
const REQUEST_TIME: &str = "a UK wall-clock date-time such as 2024-06-03T14:07:12.3Z";
/// The accepted form of a booking time, in words.
const BOOKING_TIME: &str = "a UK wall-clock date-time such as 2024-06-04T09:00:00+00:00";
/// The accepted form of a reply time, in words.
const REPLY_TIME: &str = "a UK wall-clock date-time such as 2024-06-04T09:00:00.0Z";

// ---------------------------------------------------------------------------------------------
// ListSlots
// ---------------------------------------------------------------------------------------------

/// `ListSlots`: the free slots from `startDate` for `numberOfDays` days (§2.9).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListSlots {
    /// Common attributes.
    pub header: Header,
    /// The selected patient and the online user.
    pub scope: PatientScope,
    /// `startDate`: "now" as UK wall-clock time. Clients send `2024-06-03T14:07:12.3Z` (one
    /// fractional digit, decorative `Z`); every form [`parse_wall_clock`] accepts is read, and
    /// requests are written in the client's form ([`format_request_time`]).
    pub start_date: NaiveDateTime,
    /// `numberOfDays`: how many days ahead to list (real clients send 56 or 112).
    pub number_of_days: u32,
}

impl WireMessage for ListSlots {
    const ROOT: &'static str = "ListSlots";

    fn to_element(&self) -> Element {
        self.scope
            .write(self.header.write(Element::new(Self::ROOT)))
            .attr("startDate", format_request_time(self.start_date))
            .attr("numberOfDays", self.number_of_days.to_string())
    }

    fn from_element(el: &Element) -> Result<Self, DecodeError> {
        let f = Fields::new(el, Self::ROOT);
        Ok(ListSlots {
            header: Header::read(&f)?,
            scope: PatientScope::read(&f)?,
            start_date: f.req_with("startDate", REQUEST_TIME, parse_wall_clock)?,
            number_of_days: f.req_with(
                "numberOfDays",
                "a whole number of days such as 56",
                str::parse::<u32>,
            )?,
        })
    }
}

/// One free `Slot` of a [`Session`]: identified by the session's id and its start time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slot {
    /// `startDate`, UK wall-clock time (written `2024-06-04T09:00:00.0Z`).
    pub start_date: NaiveDateTime,
    /// `endDate`, UK wall-clock time.
    pub end_date: NaiveDateTime,
    /// `type`: the slot type name, e.g. `Routine` or `Telephone` (clients drop slots whose
    /// type is empty).
    pub slot_type: String,
}

impl Slot {
    fn to_element(&self) -> Element {
        Element::new("Slot")
            .attr("startDate", format_wall_clock(self.start_date))
            .attr("endDate", format_wall_clock(self.end_date))
            .attr("type", self.slot_type.clone())
    }

    fn read(f: &Fields<'_>) -> Result<Self, DecodeError> {
        Ok(Slot {
            start_date: f.req_with("startDate", REPLY_TIME, parse_wall_clock)?,
            end_date: f.req_with("endDate", REPLY_TIME, parse_wall_clock)?,
            slot_type: f.opt("type").unwrap_or_default(),
        })
    }
}

/// One `Session` of a [`ListSlotsReply`]: a clinician's block of slots at one location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// `sessionId`: the id `BookAppointment` names the slot by.
    pub session_id: String,
    /// `type`: the session name, e.g. `Morning surgery`.
    pub session_type: String,
    /// `staffDetails`: the clinician, e.g. `Dr A Jones (Female)`.
    pub staff_details: String,
    /// `location`: where the session takes place, e.g. `Main site`.
    pub location: String,
    /// The free slots, in time order.
    pub slots: Vec<Slot>,
}

impl Session {
    fn to_element(&self) -> Element {
        Element::new("Session")
            .attr("sessionId", self.session_id.clone())
            .attr("type", self.session_type.clone())
            .attr("staffDetails", self.staff_details.clone())
            .attr("location", self.location.clone())
            .children(self.slots.iter().map(Slot::to_element))
    }

    fn read(f: &Fields<'_>) -> Result<Self, DecodeError> {
        Ok(Session {
            session_id: f.req("sessionId")?,
            session_type: f.opt("type").unwrap_or_default(),
            staff_details: f.opt("staffDetails").unwrap_or_default(),
            location: f.opt("location").unwrap_or_default(),
            slots: f
                .children("Slot")
                .map(|s| Slot::read(&s))
                .collect::<Result<_, _>>()?,
        })
    }
}

/// `ListSlotsReply`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListSlotsReply {
    /// Echo of `patientId` and `onlineUserId`.
    pub scope: Option<PatientScope>,
    /// Echo of the request `uuid`.
    pub uuid: Option<Guid>,
    /// `bookableDays`: how many days ahead the practice lets patients book. Always written;
    /// clients parse it as an integer, so it is never empty. Read as 0 when absent.
    pub bookable_days: u32,
    /// Sessions holding at least one free slot.
    pub sessions: Vec<Session>,
}

impl WireMessage for ListSlotsReply {
    const ROOT: &'static str = "ListSlotsReply";

    fn to_element(&self) -> Element {
        reply_root(Self::ROOT, self.scope.as_ref(), self.uuid)
            .attr("bookableDays", self.bookable_days.to_string())
            .children(self.sessions.iter().map(Session::to_element))
    }

    fn from_element(el: &Element) -> Result<Self, DecodeError> {
        let f = Fields::new(el, Self::ROOT);
        Ok(ListSlotsReply {
            scope: PatientScope::read(&f).ok(),
            uuid: f.uuid()?,
            bookable_days: f
                .opt_parse("bookableDays", "an integer such as 28")?
                .unwrap_or(0),
            sessions: f
                .children("Session")
                .map(|s| Session::read(&s))
                .collect::<Result<_, _>>()?,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// BookAppointment
// ---------------------------------------------------------------------------------------------

/// `BookAppointment`: book the slot starting at `startDate` in session `sessionId` (§2.10).
#[derive(Clone, PartialEq, Eq)]
pub struct BookAppointment {
    /// Common attributes.
    pub header: Header,
    /// The selected patient (the appointment is theirs) and the online user.
    pub scope: PatientScope,
    /// `sessionId`: the [`Session::session_id`] of the slot.
    pub session_id: String,
    /// `startDate`: the slot's start, UK wall-clock time. Clients send the booking form
    /// `2024-06-04T09:00:00+00:00` (a literal `+00:00` even in summer); every form
    /// [`parse_wall_clock`] accepts is read, and requests are written in the booking form
    /// ([`format_booking`]).
    pub start_date: NaiveDateTime,
    /// `endDate`: the slot's end, in the same form as `startDate`.
    pub end_date: NaiveDateTime,
    /// `notes`: the patient's free-text booking reason, if any.
    pub notes: Option<String>,
}

impl std::fmt::Debug for BookAppointment {
    // The booking reason is health information in the patient's own words: never print it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BookAppointment")
            .field("header", &self.header)
            .field("scope", &self.scope)
            .field("session_id", &self.session_id)
            .field("start_date", &self.start_date)
            .field("end_date", &self.end_date)
            .field("notes", &self.notes.as_ref().map(|_| "[REDACTED]"))
            .finish()
    }
}

impl WireMessage for BookAppointment {
    const ROOT: &'static str = "BookAppointment";

    fn to_element(&self) -> Element {
        self.scope
            .write(self.header.write(Element::new(Self::ROOT)))
            .attr("sessionId", self.session_id.clone())
            .attr("startDate", format_booking(self.start_date))
            .attr("endDate", format_booking(self.end_date))
            .opt_attr("notes", self.notes.clone())
    }

    fn from_element(el: &Element) -> Result<Self, DecodeError> {
        let f = Fields::new(el, Self::ROOT);
        Ok(BookAppointment {
            header: Header::read(&f)?,
            scope: PatientScope::read(&f)?,
            session_id: f.req("sessionId")?,
            start_date: f.req_with("startDate", BOOKING_TIME, parse_wall_clock)?,
            end_date: f.req_with("endDate", BOOKING_TIME, parse_wall_clock)?,
            notes: f.opt("notes"),
        })
    }
}

/// `BookAppointmentReply`: only success matters to clients; failures are an `Error`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BookAppointmentReply {
    /// Echo of `patientId` and `onlineUserId`.
    pub scope: Option<PatientScope>,
    /// Echo of the request `uuid`.
    pub uuid: Option<Guid>,
}

impl WireMessage for BookAppointmentReply {
    const ROOT: &'static str = "BookAppointmentReply";

    fn to_element(&self) -> Element {
        reply_root(Self::ROOT, self.scope.as_ref(), self.uuid)
    }

    fn from_element(el: &Element) -> Result<Self, DecodeError> {
        let f = Fields::new(el, Self::ROOT);
        Ok(BookAppointmentReply {
            scope: PatientScope::read(&f).ok(),
            uuid: f.uuid()?,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// ViewAppointments
// ---------------------------------------------------------------------------------------------

/// `ViewAppointments`: the patient's upcoming (`Y`) or past (`N`) appointments (§2.12).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViewAppointments {
    /// Common attributes.
    pub header: Header,
    /// The selected patient and the online user.
    pub scope: PatientScope,
    /// `futureAppointments`: `Y` for upcoming, `N` for past. Read in either case, written in
    /// upper case (see [`UpperYesNo`]).
    pub future_appointments: UpperYesNo,
}

impl WireMessage for ViewAppointments {
    const ROOT: &'static str = "ViewAppointments";

    fn to_element(&self) -> Element {
        self.scope
            .write(self.header.write(Element::new(Self::ROOT)))
            .attr("futureAppointments", self.future_appointments.as_str())
    }

    fn from_element(el: &Element) -> Result<Self, DecodeError> {
        let f = Fields::new(el, Self::ROOT);
        Ok(ViewAppointments {
            header: Header::read(&f)?,
            scope: PatientScope::read(&f)?,
            future_appointments: f.req_with(
                "futureAppointments",
                "Y or N",
                str::parse::<UpperYesNo>,
            )?,
        })
    }
}

/// One booked `Appointment`.
#[derive(Clone, PartialEq, Eq)]
pub struct Appointment {
    /// `apptId`: the id `CancelAppointment` names it by.
    pub appt_id: String,
    /// `startDate`, UK wall-clock time (written `2024-06-04T09:00:00.0Z`). Clients tell past
    /// from upcoming by comparing it with "now".
    pub start_date: NaiveDateTime,
    /// `endDate`, UK wall-clock time.
    pub end_date: NaiveDateTime,
    /// `details`: shown as the appointment type, e.g. `Clinician: Dr A Jones`.
    pub details: String,
    /// `siteName`: shown as the location.
    pub site_name: String,
    /// `address`: the site's address (not shown by the NHS App).
    pub address: String,
}

impl std::fmt::Debug for Appointment {
    // Who a patient sees and where can hint at their care: print the id and times only.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Appointment")
            .field("appt_id", &self.appt_id)
            .field("start_date", &self.start_date)
            .field("end_date", &self.end_date)
            .finish_non_exhaustive()
    }
}

impl Appointment {
    fn to_element(&self) -> Element {
        Element::new("Appointment")
            .attr("apptId", self.appt_id.clone())
            .attr("startDate", format_wall_clock(self.start_date))
            .attr("endDate", format_wall_clock(self.end_date))
            .attr("details", self.details.clone())
            .attr("siteName", self.site_name.clone())
            .attr("address", self.address.clone())
    }

    fn read(f: &Fields<'_>) -> Result<Self, DecodeError> {
        Ok(Appointment {
            appt_id: f.req("apptId")?,
            start_date: f.req_with("startDate", REPLY_TIME, parse_wall_clock)?,
            end_date: f.req_with("endDate", REPLY_TIME, parse_wall_clock)?,
            details: f.opt("details").unwrap_or_default(),
            site_name: f.opt("siteName").unwrap_or_default(),
            address: f.opt("address").unwrap_or_default(),
        })
    }
}

/// `ViewAppointmentsReply`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ViewAppointmentsReply {
    /// Echo of `patientId` and `onlineUserId`.
    pub scope: Option<PatientScope>,
    /// Echo of the request `uuid`.
    pub uuid: Option<Guid>,
    /// The appointments asked for, in time order.
    pub appointments: Vec<Appointment>,
}

impl WireMessage for ViewAppointmentsReply {
    const ROOT: &'static str = "ViewAppointmentsReply";

    fn to_element(&self) -> Element {
        reply_root(Self::ROOT, self.scope.as_ref(), self.uuid)
            .children(self.appointments.iter().map(Appointment::to_element))
    }

    fn from_element(el: &Element) -> Result<Self, DecodeError> {
        let f = Fields::new(el, Self::ROOT);
        Ok(ViewAppointmentsReply {
            scope: PatientScope::read(&f).ok(),
            uuid: f.uuid()?,
            appointments: f
                .children("Appointment")
                .map(|a| Appointment::read(&a))
                .collect::<Result<_, _>>()?,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// CancelAppointment
// ---------------------------------------------------------------------------------------------

/// `CancelAppointment`: cancel the appointment `apptId` (§2.11). Real clients send no reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CancelAppointment {
    /// Common attributes.
    pub header: Header,
    /// The selected patient (whose appointment it must be) and the online user.
    pub scope: PatientScope,
    /// `apptId`: the [`Appointment::appt_id`] to cancel.
    pub appt_id: String,
}

impl WireMessage for CancelAppointment {
    const ROOT: &'static str = "CancelAppointment";

    fn to_element(&self) -> Element {
        self.scope
            .write(self.header.write(Element::new(Self::ROOT)))
            .attr("apptId", self.appt_id.clone())
    }

    fn from_element(el: &Element) -> Result<Self, DecodeError> {
        let f = Fields::new(el, Self::ROOT);
        Ok(CancelAppointment {
            header: Header::read(&f)?,
            scope: PatientScope::read(&f)?,
            appt_id: f.req("apptId")?,
        })
    }
}

/// `CancelAppointmentReply`: only success matters to clients; failures are an `Error`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CancelAppointmentReply {
    /// Echo of `patientId` and `onlineUserId`.
    pub scope: Option<PatientScope>,
    /// Echo of the request `uuid`.
    pub uuid: Option<Guid>,
}

impl WireMessage for CancelAppointmentReply {
    const ROOT: &'static str = "CancelAppointmentReply";

    fn to_element(&self) -> Element {
        reply_root(Self::ROOT, self.scope.as_ref(), self.uuid)
    }

    fn from_element(el: &Element) -> Result<Self, DecodeError> {
        let f = Fields::new(el, Self::ROOT);
        Ok(CancelAppointmentReply {
            scope: PatientScope::read(&f).ok(),
            uuid: f.uuid()?,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// RequestSystmOnlineMessages
// ---------------------------------------------------------------------------------------------

/// `RequestSystmOnlineMessages`: the practice's guidance texts (§2.8). Clients call it after
/// `ListSlots` and ignore its failures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestSystmOnlineMessages {
    /// Common attributes.
    pub header: Header,
    /// The selected patient and the online user.
    pub scope: PatientScope,
}

impl WireMessage for RequestSystmOnlineMessages {
    const ROOT: &'static str = "RequestSystmOnlineMessages";

    fn to_element(&self) -> Element {
        self.scope
            .write(self.header.write(Element::new(Self::ROOT)))
    }

    fn from_element(el: &Element) -> Result<Self, DecodeError> {
        let f = Fields::new(el, Self::ROOT);
        Ok(RequestSystmOnlineMessages {
            header: Header::read(&f)?,
            scope: PatientScope::read(&f)?,
        })
    }
}

/// `RequestSystmOnlineMessagesReply`. Note the **capitalised** attribute names of the three
/// texts (`BookAppointments`, `RequestMedicationConfirmation`, `Medication`): they are part of
/// the wire contract. A text the practice has not set is left out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestSystmOnlineMessagesReply {
    /// Echo of `patientId` and `onlineUserId`.
    pub scope: Option<PatientScope>,
    /// Echo of the request `uuid`.
    pub uuid: Option<Guid>,
    /// `BookAppointments`: booking guidance, shown (trimmed) above the slot list.
    pub book_appointments: Option<String>,
    /// `RequestMedicationConfirmation`: shown after a medication request.
    pub request_medication_confirmation: Option<String>,
    /// `Medication`: guidance about ordering medication.
    pub medication: Option<String>,
}

impl WireMessage for RequestSystmOnlineMessagesReply {
    const ROOT: &'static str = "RequestSystmOnlineMessagesReply";

    fn to_element(&self) -> Element {
        reply_root(Self::ROOT, self.scope.as_ref(), self.uuid)
            .opt_attr("BookAppointments", self.book_appointments.clone())
            .opt_attr(
                "RequestMedicationConfirmation",
                self.request_medication_confirmation.clone(),
            )
            .opt_attr("Medication", self.medication.clone())
    }

    fn from_element(el: &Element) -> Result<Self, DecodeError> {
        let f = Fields::new(el, Self::ROOT);
        Ok(RequestSystmOnlineMessagesReply {
            scope: PatientScope::read(&f).ok(),
            uuid: f.uuid()?,
            book_appointments: f.opt("BookAppointments"),
            request_medication_confirmation: f.opt("RequestMedicationConfirmation"),
            medication: f.opt("Medication"),
        })
    }
}

// ---------------------------------------------------------------------------------------------
// What the server knows of each request
// ---------------------------------------------------------------------------------------------

per_patient_request!(ListSlots => ListSlotsReply);
// `notes` is the patient's own words: values up to 8 KiB are read, so that an over-long reason
// gets the friendly `9011` (the rule is 500 characters, up to 2,000 bytes) rather than `9001`.
per_patient_request!(
    BookAppointment => BookAppointmentReply,
    LIMITS = Limits {
        max_value_bytes: 8 * 1024,
        ..Limits::REQUEST
    }
);
per_patient_request!(ViewAppointments => ViewAppointmentsReply);
per_patient_request!(CancelAppointment => CancelAppointmentReply);
per_patient_request!(RequestSystmOnlineMessages => RequestSystmOnlineMessagesReply);
