//! The patient's record online: `ViewPatientOverview`, `RequestPatientRecord`,
//! `TestResultsView` and `ListRecordAccesses` (wire reference §2.13–2.16, B.9).
//!
//! **What a user sees** is decided per patient by the practice ([`RecordGrant`]): a level (none,
//! the overview, the coded record, the full record with free text) and, apart from it,
//! documents and test results. A proxy sees what their own grant allows within the patient's.
//! A part not granted is refused with `6` for that message only, as real clients treat each
//! part alone. Items and results the practice hides are never returned, by any message, and an
//! event left with no item to show is left out (every `Event` has an `Item`).
//!
//! **Record text is written as entered**, byte for byte (only XML escaping): the details of an
//! item, the names of who did what and where.
//!
//! Every read is logged in the patient's access log, behind its reply (`access_log.rs`).

use chrono::{Duration, NaiveDateTime};
use pfs_wire::{
    EventItem, ListRecordAccesses, ListRecordAccessesReply, RecordAccessEntry, RecordEntry,
    RequestPatientRecord, RequestPatientRecordReply, TestResultsQuery, TestResultsView,
    TestResultsViewReply, ViewPatientOverview, ViewPatientOverviewReply,
};

use crate::error::DomainError;
use crate::model::*;
use crate::operation::{Access, Call, Operation};
use crate::reply_cache::{Part, View};
use crate::uktime::{to_instant, to_wall_clock, uk_date};
use crate::{Pfs, services};

/// Item types the overview lists as allergies.
pub const ALLERGY: &str = "Allergy";
/// Item types the overview lists as drug sensitivities.
pub const DRUG_SENSITIVITY: &str = "Drug sensitivity";
/// Item types that are documents: they carry a file and need the documents grant.
pub const DOCUMENT_TYPES: [&str; 2] = ["Letter", "Attachment"];

/// Refusal of a part of the record the practice has not granted.
const NOT_GRANTED: &str = "the practice has not given online access to this part of the record";

impl Operation for ViewPatientOverview {
    const ACCESS: Access = Access::Service("medical-record");
    async fn run(
        &self,
        pfs: &Pfs,
        call: &Call<'_>,
    ) -> Result<ViewPatientOverviewReply, DomainError> {
        pfs.view_patient_overview(call).await
    }
}

impl Operation for RequestPatientRecord {
    const ACCESS: Access = Access::Service("medical-record");
    async fn run(
        &self,
        pfs: &Pfs,
        call: &Call<'_>,
    ) -> Result<RequestPatientRecordReply, DomainError> {
        pfs.request_patient_record(call).await
    }
}

impl Operation for TestResultsView {
    const ACCESS: Access = Access::Service("test-results");
    async fn run(&self, pfs: &Pfs, call: &Call<'_>) -> Result<TestResultsViewReply, DomainError> {
        pfs.test_results_view(call, self).await
    }
}

impl Operation for ListRecordAccesses {
    const ACCESS: Access = Access::Service("record-audit");
    async fn run(
        &self,
        pfs: &Pfs,
        call: &Call<'_>,
    ) -> Result<ListRecordAccessesReply, DomainError> {
        pfs.list_record_accesses(call, self).await
    }
}

impl Pfs {
    /// What the session's online user may see of the selected patient's record.
    pub(crate) async fn record_grant_for(
        &self,
        call: &Call<'_>,
    ) -> Result<RecordGrant, DomainError> {
        let patient_id = &call.patient()?.patient.id;
        let user_id = &call.session()?.record.online_user_id;
        let own = self
            .store
            .record_grant(patient_id, patient_id)
            .await?
            .unwrap_or(RecordGrant::OWN_DEFAULT);
        if user_id == patient_id {
            return Ok(own);
        }
        let proxy = self
            .store
            .record_grant(patient_id, user_id)
            .await?
            .unwrap_or(RecordGrant::PROXY_DEFAULT);
        Ok(own.narrowed_by(proxy))
    }

    /// `ViewPatientOverview`: allergies, drug sensitivities and the medication courses.
    async fn view_patient_overview(
        &self,
        call: &Call<'_>,
    ) -> Result<ViewPatientOverviewReply, DomainError> {
        if self.record_grant_for(call).await?.level < RecordLevel::Summary {
            return Err(DomainError::NoAccess(NOT_GRANTED));
        }
        let patient_id = &call.patient()?.patient.id;
        let mut reply = ViewPatientOverviewReply::default();
        let items = self
            .store
            .record_items_of_types(patient_id, &[ALLERGY, DRUG_SENSITIVITY])
            .await?;
        for (at, item) in items.into_iter().filter(|(_, i)| i.visible) {
            let (section, description) = if item.item_type == ALLERGY {
                (&mut reply.allergies, "Allergy")
            } else {
                (&mut reply.drug_sensitivities, "Sensitivity")
            };
            section.push(RecordEntry {
                id: item.id,
                description: description.to_owned(),
                date: to_wall_clock(at),
                text: item.details,
            });
        }
        let today = uk_date(self.clock.now());
        let list = self.store.medication_list(patient_id, None).await?;
        for (course, _) in list.courses.into_iter().filter(|(c, _)| c.online_visible) {
            let (section, description) = match (course.course_type, course.is_current(today)) {
                (CourseType::Acute, true) => (&mut reply.drugs, "Acute"),
                (CourseType::Repeat, true) => (&mut reply.current_repeats, "Repeat"),
                (CourseType::Repeat, false) if course.stopped_on.is_some() => {
                    (&mut reply.past_repeats, "Repeat")
                }
                _ => continue, // a course not started yet, or a finished acute one
            };
            section.push(RecordEntry {
                id: course.id,
                description: description.to_owned(),
                date: course.started_on.and_time(chrono::NaiveTime::MIN),
                text: course.drug,
            });
        }
        self.log_online_read(call, "Viewed record summary").await?;
        Ok(reply)
    }

    /// `RequestPatientRecord`: the events, newest first, with the items the user may see.
    ///
    /// The events are encoded once per record token and view and kept (`reply_cache.rs`):
    /// an unchanged record costs a read of its token. The grants and switches that decide the
    /// view are read afresh every time, and so is the access-log entry written.
    async fn request_patient_record(
        &self,
        call: &Call<'_>,
    ) -> Result<RequestPatientRecordReply, DomainError> {
        let grant = self.record_grant_for(call).await?;
        if grant.level < RecordLevel::Coded {
            return Err(DomainError::NoAccess(NOT_GRANTED));
        }
        let context = call.patient()?;
        let view = View {
            full: grant.level == RecordLevel::Full,
            documents: grant.documents
                && services::is_enabled(
                    "documents",
                    &context.practice_switches,
                    &context.patient_switches,
                ),
        };
        let patient_id = &context.patient.id;
        let encoded_events = self
            .cached_part(
                patient_id,
                Part::Record(view),
                self.store.record_token(patient_id),
                self.store.record_events_with_token(patient_id),
                |events| pfs_wire::RecordEvent::encode_all(shown_events(events, view)),
            )
            .await?;
        self.log_online_read(call, "Viewed record").await?;
        Ok(RequestPatientRecordReply {
            encoded_events,
            ..Default::default()
        })
    }

    /// `TestResultsView`: the results in a window, or one result in full.
    async fn test_results_view(
        &self,
        call: &Call<'_>,
        m: &TestResultsView,
    ) -> Result<TestResultsViewReply, DomainError> {
        if !self.record_grant_for(call).await?.test_results {
            return Err(DomainError::NoAccess(NOT_GRANTED));
        }
        let patient_id = &call.patient()?.patient.id;
        let items = match &m.query {
            TestResultsQuery::Window { start, end } => {
                let (from, to) = window(*start, *end)?;
                self.store
                    .test_results(patient_id, from, to)
                    .await?
                    .into_iter()
                    .filter(|r| r.visible)
                    .map(|r| RecordEntry {
                        id: r.id,
                        description: r.category,
                        date: to_wall_clock(r.at),
                        text: r.name,
                    })
                    .collect()
            }
            TestResultsQuery::Detail(id) => {
                let result = self
                    .store
                    .test_result(id)
                    .await?
                    .filter(|r| r.visible && r.patient_id == *patient_id)
                    .ok_or(DomainError::TestResultNotFound)?;
                vec![RecordEntry {
                    text: result_html(&result),
                    id: result.id,
                    description: result.category,
                    date: to_wall_clock(result.at),
                }]
            }
        };
        self.log_online_read(call, "Viewed test results").await?;
        Ok(TestResultsViewReply {
            items,
            ..Default::default()
        })
    }

    /// `ListRecordAccesses`: the access log, newest first. Reads written behind their replies
    /// are committed first, so every read answered so far is listed.
    async fn list_record_accesses(
        &self,
        call: &Call<'_>,
        m: &ListRecordAccesses,
    ) -> Result<ListRecordAccessesReply, DomainError> {
        let patient_id = &call.patient()?.patient.id;
        let start = m.start_date.unwrap_or_else(earliest);
        let end = m
            .end_date
            .unwrap_or_else(|| to_wall_clock(self.clock.now()));
        let (from, to) = window(start, end)?;
        self.flush_writes().await?;
        let mut accesses = self.store.record_accesses(patient_id, from, to).await?;
        accesses.reverse();
        Ok(ListRecordAccessesReply {
            accesses: accesses
                .into_iter()
                .map(|a| RecordAccessEntry {
                    date: to_wall_clock(a.at),
                    accessed_by: a.accessed_by,
                    organisation: a.organisation,
                    access_type: a.access_type,
                    method: a.method,
                })
                .collect(),
            ..Default::default()
        })
    }
}

/// The events as `view` shows them: hidden items, items without a code in the coded view and
/// documents without the documents grant left out, then events left with no item.
fn shown_events(events: Vec<RecordEvent>, view: View) -> Vec<pfs_wire::RecordEvent> {
    let shown = |item: &RecordItem| {
        item.visible
            && (view.full || item.snomed_code.is_some())
            && (view.documents || !is_document(item))
    };
    events
        .into_iter()
        .filter_map(|event| {
            let items: Vec<EventItem> = event
                .items
                .into_iter()
                .filter(shown)
                .map(|item| EventItem {
                    item_type: item.item_type,
                    details: item.details,
                    binary_data_id: item.binary_data_id,
                })
                .collect();
            (!items.is_empty()).then(|| pfs_wire::RecordEvent {
                date: to_wall_clock(event.at),
                done_by: event.done_by,
                location: event.location,
                items,
            })
        })
        .collect()
}

/// Whether an item is a document (a letter or an attachment with a file).
pub fn is_document(item: &RecordItem) -> bool {
    item.binary_data_id.is_some() || DOCUMENT_TYPES.contains(&item.item_type.as_str())
}

/// The earliest wall-clock time a window may start at: the first supported year.
fn earliest() -> NaiveDateTime {
    chrono::NaiveDate::from_ymd_opt(pfs_wire::scalar::MIN_YEAR, 1, 1)
        .unwrap_or_default()
        .and_time(chrono::NaiveTime::MIN)
}

/// A request's window from `start` to `end`, both UK wall-clock times and both included, as
/// instants `[from, to)`. The wire's times have whole seconds, so `end` includes its second.
fn window(
    start: NaiveDateTime,
    end: NaiveDateTime,
) -> Result<(chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>), DomainError> {
    if start > end {
        return Err(DomainError::InvalidDateRange);
    }
    Ok((to_instant(start), to_instant(end) + Duration::seconds(1)))
}

/// A test result in full, as the HTML fragment the detail form's `Item` carries: the test, a
/// table of its values (name, value, units, reference range, flag) and the comment. Every
/// text is HTML-escaped here; the XML writer escapes the fragment again as element text.
pub fn result_html(r: &TestResult) -> String {
    let mut html = String::with_capacity(256 + 128 * r.values.len());
    html.push_str("<h3>");
    push_escaped(&mut html, &r.name);
    html.push_str("</h3><p>");
    push_escaped(&mut html, &r.category);
    html.push_str(", reported ");
    html.push_str(&to_wall_clock(r.at).format("%d/%m/%Y").to_string());
    html.push_str(
        "</p><table><thead><tr><th>Test</th><th>Result</th><th>Units</th>\
         <th>Reference range</th><th>Flag</th></tr></thead><tbody>",
    );
    for v in &r.values {
        let cells = [
            v.name.as_str(),
            v.value.as_str(),
            v.units.as_deref().unwrap_or(""),
            v.reference_range.as_deref().unwrap_or(""),
            if v.abnormal { "Abnormal" } else { "" },
        ];
        html.push_str("<tr>");
        for cell in cells {
            html.push_str("<td>");
            push_escaped(&mut html, cell);
            html.push_str("</td>");
        }
        html.push_str("</tr>");
    }
    html.push_str("</tbody></table>");
    if let Some(comment) = &r.comment {
        html.push_str("<p>Comment: ");
        push_escaped(&mut html, comment);
        html.push_str("</p>");
    }
    html
}

/// Appends `text` escaped for HTML element content.
fn push_escaped(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;

    #[test]
    fn result_html_escapes_every_text() {
        let r = TestResult {
            id: "1".into(),
            patient_id: "2".into(),
            at: Utc.with_ymd_and_hms(2024, 5, 20, 9, 0, 0).unwrap(),
            category: "Pathology".into(),
            name: "U&E <urgent>".into(),
            values: vec![TestValue {
                name: "Sodium".into(),
                value: "<130".into(),
                units: Some("mmol/L".into()),
                reference_range: Some("133 - 146".into()),
                abnormal: true,
            }],
            comment: Some("Repeat in \"2\" weeks".into()),
            visible: true,
        };
        assert_eq!(
            result_html(&r),
            "<h3>U&amp;E &lt;urgent&gt;</h3><p>Pathology, reported 20/05/2024</p>\
             <table><thead><tr><th>Test</th><th>Result</th><th>Units</th>\
             <th>Reference range</th><th>Flag</th></tr></thead><tbody>\
             <tr><td>Sodium</td><td>&lt;130</td><td>mmol/L</td><td>133 - 146</td>\
             <td>Abnormal</td></tr></tbody></table>\
             <p>Comment: Repeat in &quot;2&quot; weeks</p>"
        );
    }

    #[test]
    fn a_proxy_never_sees_more_than_the_patient() {
        let own = RecordGrant {
            level: RecordLevel::Coded,
            documents: false,
            test_results: true,
        };
        let proxy = RecordGrant {
            level: RecordLevel::Full,
            documents: true,
            test_results: false,
        };
        assert_eq!(
            own.narrowed_by(proxy),
            RecordGrant {
                level: RecordLevel::Coded,
                documents: false,
                test_results: false
            }
        );
    }

    #[test]
    fn windows_include_their_last_second() {
        let t = |s: &str| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap();
        let (from, to) = window(t("2024-06-01 00:00:00"), t("2024-06-03 23:59:59")).unwrap();
        assert_eq!(to - from, Duration::days(3));
        assert_eq!(
            window(t("2024-06-03 00:00:00"), t("2024-06-01 00:00:00")),
            Err(DomainError::InvalidDateRange)
        );
    }
}
