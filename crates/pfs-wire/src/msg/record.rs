//! The patient's record: `ViewPatientOverview`, `RequestPatientRecord`, `TestResultsView` (list
//! and detail forms) and `ListRecordAccesses` (wire reference §2.13–2.16, B.9).
//!
//! Record text is the practice's, as entered: it is written byte for byte (only XML escaping)
//! and read back the same way, so attributes and texts here are never trimmed.

use chrono::NaiveDateTime;

use super::common::{Header, PatientScope, reply_root};
use crate::codec::{DecodeError, Fields, WireMessage, per_patient_request, scoped_request};
use crate::scalar::{Guid, format_wall_clock, parse_wall_clock};
use crate::xml::{Element, Markup};

/// The accepted form of a date, in words.
const WALL_CLOCK: &str = "a UK wall-clock date-time such as 2024-06-04T09:00:00.0Z";

/// An attribute exactly as sent (white space kept), or empty.
fn raw(f: &Fields<'_>, attr: &str) -> String {
    f.el.get(attr).unwrap_or_default().to_owned()
}

/// One `Item` of the overview's sections and of `TestResultsViewReply`: `id`, `description`,
/// `date`, and the entry as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordEntry {
    /// `id`.
    pub id: String,
    /// `description`, e.g. `Allergy`, `Repeat`, `Pathology`.
    pub description: String,
    /// `date` (UK wall-clock time).
    pub date: NaiveDateTime,
    /// The element's text: the entry, e.g. `Penicillin`; in a test result's detail form, an
    /// HTML fragment.
    pub text: String,
}

impl RecordEntry {
    fn to_element(&self) -> Element {
        Element::new("Item")
            .attr("id", self.id.clone())
            .attr("description", self.description.clone())
            .attr("date", format_wall_clock(self.date))
            .text(self.text.clone())
    }

    fn read(f: &Fields<'_>) -> Result<Self, DecodeError> {
        Ok(RecordEntry {
            id: f.req("id")?,
            description: raw(f, "description"),
            date: f.req_with("date", WALL_CLOCK, parse_wall_clock)?,
            text: f.el.text.clone(),
        })
    }
}

fn entries(f: &Fields<'_>) -> Result<Vec<RecordEntry>, DecodeError> {
    f.children("Item").map(|i| RecordEntry::read(&i)).collect()
}

// ---------------------------------------------------------------------------------------------
// ViewPatientOverview
// ---------------------------------------------------------------------------------------------

scoped_request!(
    /// `ViewPatientOverview`: the selected patient's summary: allergies, drug sensitivities and
    /// medication (§2.13).
    ViewPatientOverview => ViewPatientOverviewReply
);

/// `ViewPatientOverviewReply`: five sections, each written even when empty, in the order of
/// the wire reference's example.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ViewPatientOverviewReply {
    /// Echo of `patientId` and `onlineUserId`.
    pub scope: Option<PatientScope>,
    /// Echo of the request `uuid`.
    pub uuid: Option<Guid>,
    /// `Allergies`.
    pub allergies: Vec<RecordEntry>,
    /// `DrugSensitivities`.
    pub drug_sensitivities: Vec<RecordEntry>,
    /// `Drugs`: current acute medication.
    pub drugs: Vec<RecordEntry>,
    /// `CurrentRepeats`.
    pub current_repeats: Vec<RecordEntry>,
    /// `PastRepeats`: repeats that have been stopped.
    pub past_repeats: Vec<RecordEntry>,
}

/// The overview's sections, by element name, in the order they are written.
const OVERVIEW_SECTIONS: [&str; 5] = [
    "Allergies",
    "DrugSensitivities",
    "Drugs",
    "CurrentRepeats",
    "PastRepeats",
];

impl ViewPatientOverviewReply {
    fn sections(&self) -> [&Vec<RecordEntry>; 5] {
        [
            &self.allergies,
            &self.drug_sensitivities,
            &self.drugs,
            &self.current_repeats,
            &self.past_repeats,
        ]
    }
}

impl WireMessage for ViewPatientOverviewReply {
    const ROOT: &'static str = "ViewPatientOverviewReply";

    fn to_element(&self) -> Element {
        let root = reply_root(Self::ROOT, self.scope.as_ref(), self.uuid);
        OVERVIEW_SECTIONS
            .iter()
            .zip(self.sections())
            .fold(root, |root, (name, items)| {
                root.child(Element::new(*name).children(items.iter().map(RecordEntry::to_element)))
            })
    }

    fn from_element(el: &Element) -> Result<Self, DecodeError> {
        let f = Fields::new(el, Self::ROOT);
        let section = |name: &'static str| match f.opt_child(name) {
            Some(s) => entries(&s),
            None => Ok(Vec::new()),
        };
        Ok(ViewPatientOverviewReply {
            scope: PatientScope::read(&f).ok(),
            uuid: f.uuid()?,
            allergies: section("Allergies")?,
            drug_sensitivities: section("DrugSensitivities")?,
            drugs: section("Drugs")?,
            current_repeats: section("CurrentRepeats")?,
            past_repeats: section("PastRepeats")?,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// RequestPatientRecord
// ---------------------------------------------------------------------------------------------

scoped_request!(
    /// `RequestPatientRecord`: the selected patient's record, event by event (§2.14).
    RequestPatientRecord => RequestPatientRecordReply
);

/// One `Item` of an `Event`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventItem {
    /// `type`, e.g. `Problem`, `Medication`, `Letter`, `Attachment`.
    pub item_type: String,
    /// `details`: the text as entered; for a `Letter` or `Attachment`,
    /// `<TYPE>: <file name>.<ext> - <comments>`.
    pub details: String,
    /// `binaryDataId`: the document, for `RequestBinaryData`.
    pub binary_data_id: Option<String>,
}

/// One `Event`: what was done, when, by whom and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordEvent {
    /// `date` (UK wall-clock time).
    pub date: NaiveDateTime,
    /// `doneBy`, e.g. `Dr A Jones`.
    pub done_by: String,
    /// `location`, e.g. `Riverside Surgery`.
    pub location: String,
    /// Its items (at least one).
    pub items: Vec<EventItem>,
}

impl RecordEvent {
    fn to_element(&self) -> Element {
        self.clone().into_element()
    }

    fn into_element(self) -> Element {
        Element::new("Event")
            .attr("date", format_wall_clock(self.date))
            .attr("doneBy", self.done_by)
            .attr("location", self.location)
            .children(self.items.into_iter().map(|i| {
                Element::new("Item")
                    .attr("type", i.item_type)
                    .attr("details", i.details)
                    .opt_attr("binaryDataId", i.binary_data_id)
            }))
    }

    fn read(f: &Fields<'_>) -> Result<Self, DecodeError> {
        Ok(RecordEvent {
            date: f.req_with("date", WALL_CLOCK, parse_wall_clock)?,
            done_by: raw(f, "doneBy"),
            location: raw(f, "location"),
            items: f
                .children("Item")
                .map(|i| EventItem {
                    item_type: raw(&i, "type"),
                    details: raw(&i, "details"),
                    binary_data_id: i.opt("binaryDataId"),
                })
                .collect(),
        })
    }
}

/// `RequestPatientRecordReply`: the events, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestPatientRecordReply {
    /// Echo of `patientId` and `onlineUserId`.
    pub scope: Option<PatientScope>,
    /// Echo of the request `uuid`.
    pub uuid: Option<Guid>,
    /// `Event`s.
    pub events: Vec<RecordEvent>,
    /// More `Event`s, already encoded ([`RecordEvent::encode_all`]), written after
    /// [`events`](Self::events): what the server keeps of a record it has sent before. Decoding
    /// leaves it empty and puts every `Event` in `events`.
    pub encoded_events: Markup,
}

impl RecordEvent {
    /// `events` as the `Event` elements of a [`RequestPatientRecordReply`], written once.
    pub fn encode_all(events: Vec<RecordEvent>) -> Markup {
        Markup::of(events.into_iter().map(RecordEvent::into_element))
    }
}

impl WireMessage for RequestPatientRecordReply {
    const ROOT: &'static str = "RequestPatientRecordReply";

    fn to_element(&self) -> Element {
        let mut el = reply_root(Self::ROOT, self.scope.as_ref(), self.uuid)
            .children(self.events.iter().map(RecordEvent::to_element));
        el.markup = self.encoded_events.clone();
        el
    }

    fn into_element(self) -> Element {
        let mut el = reply_root(Self::ROOT, self.scope.as_ref(), self.uuid)
            .children(self.events.into_iter().map(RecordEvent::into_element));
        el.markup = self.encoded_events;
        el
    }

    fn from_element(el: &Element) -> Result<Self, DecodeError> {
        let f = Fields::new(el, Self::ROOT);
        Ok(RequestPatientRecordReply {
            scope: PatientScope::read(&f).ok(),
            uuid: f.uuid()?,
            events: f
                .children("Event")
                .map(|e| RecordEvent::read(&e))
                .collect::<Result<_, _>>()?,
            encoded_events: Markup::default(),
        })
    }
}

// ---------------------------------------------------------------------------------------------
// TestResultsView
// ---------------------------------------------------------------------------------------------

/// What a `TestResultsView` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TestResultsQuery {
    /// The list form: results dated from `startDate` to `endDate`, both included (§2.15).
    Window {
        /// `startDate`.
        start: NaiveDateTime,
        /// `endDate`.
        end: NaiveDateTime,
    },
    /// The detail form: one result, by `testResultId` (§2.16).
    Detail(String),
}

/// `TestResultsView`: a window of the selected patient's test results, or one result in full.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestResultsView {
    /// Common attributes.
    pub header: Header,
    /// The selected patient and the online user.
    pub scope: PatientScope,
    /// The list or the detail form.
    pub query: TestResultsQuery,
}

impl WireMessage for TestResultsView {
    const ROOT: &'static str = "TestResultsView";

    fn to_element(&self) -> Element {
        let el = self
            .scope
            .write(self.header.write(Element::new(Self::ROOT)));
        match &self.query {
            TestResultsQuery::Window { start, end } => el
                .attr("startDate", format_wall_clock(*start))
                .attr("endDate", format_wall_clock(*end)),
            TestResultsQuery::Detail(id) => el.attr("testResultId", id.clone()),
        }
    }

    fn from_element(el: &Element) -> Result<Self, DecodeError> {
        let f = Fields::new(el, Self::ROOT);
        let header = Header::read(&f)?;
        let scope = PatientScope::read(&f)?;
        // The detail form may carry the list's dates as well; its id decides.
        let query = match f.opt("testResultId") {
            Some(id) => TestResultsQuery::Detail(id),
            None => TestResultsQuery::Window {
                start: f.req_with("startDate", WALL_CLOCK, parse_wall_clock)?,
                end: f.req_with("endDate", WALL_CLOCK, parse_wall_clock)?,
            },
        };
        Ok(TestResultsView {
            header,
            scope,
            query,
        })
    }
}

/// `TestResultsViewReply`: one `Item` per result in the window, newest first; in the detail
/// form, one `Item` whose text is the full result as an HTML fragment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TestResultsViewReply {
    /// Echo of `patientId` and `onlineUserId`.
    pub scope: Option<PatientScope>,
    /// Echo of the request `uuid`.
    pub uuid: Option<Guid>,
    /// The results.
    pub items: Vec<RecordEntry>,
}

impl WireMessage for TestResultsViewReply {
    const ROOT: &'static str = "TestResultsViewReply";

    fn to_element(&self) -> Element {
        reply_root(Self::ROOT, self.scope.as_ref(), self.uuid)
            .children(self.items.iter().map(RecordEntry::to_element))
    }

    fn from_element(el: &Element) -> Result<Self, DecodeError> {
        let f = Fields::new(el, Self::ROOT);
        Ok(TestResultsViewReply {
            scope: PatientScope::read(&f).ok(),
            uuid: f.uuid()?,
            items: entries(&f)?,
        })
    }
}

per_patient_request!(TestResultsView => TestResultsViewReply);

// ---------------------------------------------------------------------------------------------
// ListRecordAccesses
// ---------------------------------------------------------------------------------------------

/// `ListRecordAccesses`: who used the selected patient's record, from `startDate` to
/// `endDate` (both optional), newest first (B.9).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListRecordAccesses {
    /// Common attributes.
    pub header: Header,
    /// The selected patient and the online user.
    pub scope: PatientScope,
    /// `startDate`: the earliest access to include.
    pub start_date: Option<NaiveDateTime>,
    /// `endDate`: the latest access to include.
    pub end_date: Option<NaiveDateTime>,
}

impl WireMessage for ListRecordAccesses {
    const ROOT: &'static str = "ListRecordAccesses";

    fn to_element(&self) -> Element {
        self.scope
            .write(self.header.write(Element::new(Self::ROOT)))
            .opt_attr("startDate", self.start_date.map(format_wall_clock))
            .opt_attr("endDate", self.end_date.map(format_wall_clock))
    }

    fn from_element(el: &Element) -> Result<Self, DecodeError> {
        let f = Fields::new(el, Self::ROOT);
        Ok(ListRecordAccesses {
            header: Header::read(&f)?,
            scope: PatientScope::read(&f)?,
            start_date: f.opt_with("startDate", WALL_CLOCK, parse_wall_clock)?,
            end_date: f.opt_with("endDate", WALL_CLOCK, parse_wall_clock)?,
        })
    }
}

/// One `RecordAccess`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordAccessEntry {
    /// `date` (UK wall-clock time).
    pub date: NaiveDateTime,
    /// `accessedBy`: staff, or the online user and the application (`Ada Example via ExampleApp`).
    pub accessed_by: String,
    /// `organisation`: the practice's name.
    pub organisation: String,
    /// `accessType`, e.g. `Viewed record`, `Booked appointment`.
    pub access_type: String,
    /// `method`: `Online` or `Practice`.
    pub method: String,
}

/// `ListRecordAccessesReply`: the accesses, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListRecordAccessesReply {
    /// Echo of `patientId` and `onlineUserId`.
    pub scope: Option<PatientScope>,
    /// Echo of the request `uuid`.
    pub uuid: Option<Guid>,
    /// `RecordAccess` elements.
    pub accesses: Vec<RecordAccessEntry>,
}

impl WireMessage for ListRecordAccessesReply {
    const ROOT: &'static str = "ListRecordAccessesReply";

    fn to_element(&self) -> Element {
        reply_root(Self::ROOT, self.scope.as_ref(), self.uuid).children(self.accesses.iter().map(
            |a| {
                Element::new("RecordAccess")
                    .attr("date", format_wall_clock(a.date))
                    .attr("accessedBy", a.accessed_by.clone())
                    .attr("organisation", a.organisation.clone())
                    .attr("accessType", a.access_type.clone())
                    .attr("method", a.method.clone())
            },
        ))
    }

    fn from_element(el: &Element) -> Result<Self, DecodeError> {
        let f = Fields::new(el, Self::ROOT);
        Ok(ListRecordAccessesReply {
            scope: PatientScope::read(&f).ok(),
            uuid: f.uuid()?,
            accesses: f
                .children("RecordAccess")
                .map(|a| {
                    Ok(RecordAccessEntry {
                        date: a.req_with("date", WALL_CLOCK, parse_wall_clock)?,
                        accessed_by: raw(&a, "accessedBy"),
                        organisation: raw(&a, "organisation"),
                        access_type: raw(&a, "accessType"),
                        method: raw(&a, "method"),
                    })
                })
                .collect::<Result<_, DecodeError>>()?,
        })
    }
}

per_patient_request!(ListRecordAccesses => ListRecordAccessesReply);
