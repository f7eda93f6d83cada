//! Medication courses and prescription requests: what the practice prescribes, and how it
//! actions the requests patients send.

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};

use super::{AdminError, non_empty, ods_code, supported_date, xml_safe};
use crate::medication::{DEFAULT_HISTORY_DAYS, not_requestable};
use crate::model::*;
use crate::secrets::{Attempt, with_fresh_id};
use crate::uktime::{to_instant, uk_date};
use crate::{Pfs, StoreError};

/// Digits of a new course id.
const COURSE_ID_DIGITS: usize = 9;
/// Longest drug name, in characters.
pub const MAX_DRUG_CHARS: usize = 200;
/// Longest dosage and quantity text, in characters.
pub const MAX_DETAILS_CHARS: usize = 500;
/// Longest practice comment on a request, in characters.
pub const MAX_COMMENT_CHARS: usize = 1000;
/// Most issues one authorisation may allow.
pub const MAX_ISSUES_LIMIT: u32 = 100;

/// A new course for a patient.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NewCourse {
    /// Drug name, e.g. `Amlodipine 5mg tablets`.
    pub drug: String,
    /// Dosage and quantity, e.g. `One to be taken each day - 28 tablet`.
    pub details: String,
    /// `Repeat` or `Acute`.
    pub course_type: String,
    /// Whether the patient may order it online (default true).
    #[serde(default = "yes")]
    pub requestable: bool,
    /// Whether the patient sees it online (default true).
    #[serde(default = "yes")]
    pub online_visible: bool,
    /// When it starts (default today's UK date).
    #[serde(default)]
    pub started_on: Option<NaiveDate>,
    /// Most issues of this authorisation (1 to 100; none: no limit).
    #[serde(default)]
    pub max_issues: Option<u32>,
}

fn yes() -> bool {
    true
}

/// A change to a course: absent fields keep their values.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CourseChange {
    /// New drug name.
    #[serde(default)]
    pub drug: Option<String>,
    /// New dosage and quantity.
    #[serde(default)]
    pub details: Option<String>,
    /// Whether the patient may order it online.
    #[serde(default)]
    pub requestable: Option<bool>,
    /// Whether the patient sees it online.
    #[serde(default)]
    pub online_visible: Option<bool>,
    /// Absent: unchanged; `null`: no limit; a number (1 to 100): the new limit.
    #[serde(default, deserialize_with = "present")]
    pub max_issues: Option<Option<u32>>,
}

/// Tells a field sent as `null` (`Some(None)`) from one left out (`None`, by `default`): for
/// `#[serde(default, deserialize_with = "present")]` on an `Option<Option<T>>`.
pub fn present<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

/// A course as the practice sees it: the stored course, its outstanding request and whether
/// the patient could order it now.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CourseView {
    /// The course.
    #[serde(flatten)]
    pub course: MedicationCourse,
    /// Current today: started and not stopped.
    pub current: bool,
    /// The id of its outstanding (`Requested`) request, if it has one.
    pub outstanding_request_id: Option<String>,
    /// Whether the patient could order it online now: listed to them, no outstanding request,
    /// requestable under the practice's rules.
    pub requestable_now: bool,
    /// Why not, when it is not.
    pub not_requestable_because: Option<&'static str>,
}

/// Why a course cannot be ordered now, or `None` if it can.
fn why_not(
    course: &MedicationCourse,
    outstanding: &Option<String>,
    settings: &PracticeSettings,
    today: NaiveDate,
) -> Option<&'static str> {
    if course.stopped_on.is_some_and(|s| s <= today) {
        Some("the course is stopped")
    } else if course.started_on > today {
        Some("the course has not started yet")
    } else if !course.online_visible {
        Some("the course is hidden from the patient online")
    } else if outstanding.is_some() {
        Some("the course has an outstanding request")
    } else {
        not_requestable(course, settings)
    }
}

fn check_drug(drug: &str) -> Result<(), AdminError> {
    non_empty("drug", drug)?;
    xml_safe("drug", drug)?;
    if drug.trim().chars().count() > MAX_DRUG_CHARS {
        return Err(AdminError::Invalid(format!(
            "drug must be at most {MAX_DRUG_CHARS} characters"
        )));
    }
    Ok(())
}

fn check_details(details: &str) -> Result<(), AdminError> {
    non_empty("details", details)?;
    xml_safe("details", details)?;
    if details.trim().chars().count() > MAX_DETAILS_CHARS {
        return Err(AdminError::Invalid(format!(
            "details must be at most {MAX_DETAILS_CHARS} characters"
        )));
    }
    Ok(())
}

fn check_max_issues(max: Option<u32>) -> Result<(), AdminError> {
    match max {
        Some(m) if !(1..=MAX_ISSUES_LIMIT).contains(&m) => Err(AdminError::Invalid(format!(
            "maxIssues must be 1 to {MAX_ISSUES_LIMIT}, or null for no limit"
        ))),
        _ => Ok(()),
    }
}

/// A practice comment, trimmed (`None` when empty), checked.
fn comment(text: Option<String>) -> Result<Option<String>, AdminError> {
    let Some(text) = text else { return Ok(None) };
    xml_safe("comment", &text)?;
    let text = text.trim();
    if text.chars().count() > MAX_COMMENT_CHARS {
        return Err(AdminError::Invalid(format!(
            "comment must be at most {MAX_COMMENT_CHARS} characters"
        )));
    }
    Ok((!text.is_empty()).then(|| text.to_owned()))
}

/// The instants of UK dates `[from, to]` (whole days).
fn day_range(from: NaiveDate, to: NaiveDate) -> Result<(DateTime<Utc>, DateTime<Utc>), AdminError> {
    supported_date("from", from)?;
    supported_date("to", to)?;
    if to < from {
        return Err(AdminError::Invalid("to is before from".into()));
    }
    let day = |d: NaiveDate| to_instant(d.and_time(NaiveTime::MIN));
    Ok((day(from), day(to + chrono::Days::new(1))))
}

impl Pfs {
    async fn existing_course(&self, id: &str) -> Result<MedicationCourse, AdminError> {
        self.store
            .course(id.trim())
            .await?
            .ok_or_else(|| AdminError::NotFound("course".into()))
    }

    /// A course the practice may still change: it exists and is not stopped.
    async fn live_course(&self, id: &str) -> Result<MedicationCourse, AdminError> {
        let course = self.existing_course(id).await?;
        if course.stopped_on.is_some() {
            return Err(AdminError::Conflict("the course is stopped".into()));
        }
        Ok(course)
    }

    /// Stores a changed course with its access-log entry.
    async fn store_course_change(
        &self,
        course: MedicationCourse,
        access_type: &str,
    ) -> Result<MedicationCourse, AdminError> {
        let log = self
            .practice_access(&course.patient_id, access_type)
            .await?;
        if !self.store.update_course(&course, &log).await? {
            return Err(AdminError::NotFound("course".into()));
        }
        Ok(course)
    }

    /// Prescribes a course for a patient; the patient's medication list moves to a new version.
    pub async fn add_course(
        &self,
        patient_id: &str,
        c: NewCourse,
    ) -> Result<MedicationCourse, AdminError> {
        check_drug(&c.drug)?;
        check_details(&c.details)?;
        let course_type: CourseType = c
            .course_type
            .trim()
            .parse()
            .map_err(|_| AdminError::Invalid("courseType must be Repeat or Acute".into()))?;
        check_max_issues(c.max_issues)?;
        let started_on = c.started_on.unwrap_or_else(|| uk_date(self.clock.now()));
        supported_date("startedOn", started_on)?;
        let patient = self.existing_patient(patient_id).await?;
        let new = MedicationCourse {
            id: String::new(),
            patient_id: patient.id,
            drug: c.drug.trim().to_owned(),
            details: c.details.trim().to_owned(),
            course_type,
            requestable: c.requestable,
            online_visible: c.online_visible,
            started_on,
            stopped_on: None,
            last_issued_at: None,
            issue_count: 0,
            max_issues: c.max_issues,
        };
        let log = self
            .practice_access(&new.patient_id, "Prescribed medication")
            .await?;
        let log = &log;
        let added = with_fresh_id(COURSE_ID_DIGITS, |id| {
            let course = MedicationCourse { id, ..new.clone() };
            async move {
                match self.store.insert_course(&course, log).await {
                    Ok(()) => Ok(Attempt::Done(course)),
                    Err(StoreError::Conflict(_)) => Ok(Attempt::IdTaken),
                    Err(e) => Err(AdminError::from(e)),
                }
            }
        })
        .await?;
        added.ok_or_else(|| AdminError::Store("could not allocate a course id".into()))
    }

    /// Changes a course that is not stopped.
    pub async fn change_course(
        &self,
        id: &str,
        change: CourseChange,
    ) -> Result<MedicationCourse, AdminError> {
        if let Some(drug) = &change.drug {
            check_drug(drug)?;
        }
        if let Some(details) = &change.details {
            check_details(details)?;
        }
        if let Some(max) = change.max_issues {
            check_max_issues(max)?;
        }
        let mut course = self.live_course(id).await?;
        if let Some(drug) = change.drug {
            course.drug = drug.trim().to_owned();
        }
        if let Some(details) = change.details {
            course.details = details.trim().to_owned();
        }
        if let Some(r) = change.requestable {
            course.requestable = r;
        }
        if let Some(v) = change.online_visible {
            course.online_visible = v;
        }
        if let Some(max) = change.max_issues {
            course.max_issues = max;
        }
        self.store_course_change(course, "Changed medication").await
    }

    /// Stops a course on `on` (default today's UK date); from that day the patient no longer
    /// sees or orders it. A request already made for it stays for the practice to action.
    pub async fn stop_course(
        &self,
        id: &str,
        on: Option<NaiveDate>,
    ) -> Result<MedicationCourse, AdminError> {
        let on = on.unwrap_or_else(|| uk_date(self.clock.now()));
        supported_date("stoppedOn", on)?;
        let mut course = self.live_course(id).await?;
        if on < course.started_on {
            return Err(AdminError::Invalid(
                "stoppedOn is before the course started".into(),
            ));
        }
        course.stopped_on = Some(on);
        self.store_course_change(course, "Stopped medication").await
    }

    /// Re-authorises a course: its issue count goes back to 0, and with `max_issues` given
    /// (`Some(None)`: no limit) the limit changes too.
    pub async fn reauthorise_course(
        &self,
        id: &str,
        max_issues: Option<Option<u32>>,
    ) -> Result<MedicationCourse, AdminError> {
        if let Some(max) = max_issues {
            check_max_issues(max)?;
        }
        let mut course = self.live_course(id).await?;
        course.issue_count = 0;
        if let Some(max) = max_issues {
            course.max_issues = max;
        }
        self.store_course_change(course, "Re-authorised medication")
            .await
    }

    /// Every course of a patient (stopped and hidden ones too), by drug name, with its
    /// outstanding request and whether the patient could order it now.
    pub async fn list_courses(&self, patient_id: &str) -> Result<Vec<CourseView>, AdminError> {
        let patient = self.existing_patient(patient_id).await?;
        let settings = self
            .store
            .practice(&patient.ods)
            .await?
            .map(|p| p.settings)
            .unwrap_or_default();
        let today = uk_date(self.clock.now());
        let list = self.store.medication_list(&patient.id, None).await?;
        Ok(list
            .courses
            .into_iter()
            .map(|(course, outstanding)| {
                let why = why_not(&course, &outstanding, &settings, today);
                CourseView {
                    current: course.is_current(today),
                    requestable_now: why.is_none(),
                    not_requestable_because: why,
                    outstanding_request_id: outstanding,
                    course,
                }
            })
            .collect())
    }

    /// A practice's requests waiting to be actioned, oldest first.
    pub async fn list_pending_prescription_requests(
        &self,
        ods: &str,
    ) -> Result<Vec<PrescriptionRequest>, AdminError> {
        let ods = ods_code(ods);
        if self.store.practice(&ods).await?.is_none() {
            return Err(AdminError::NotFound("practice".into()));
        }
        Ok(self.store.pending_prescription_requests(&ods).await?)
    }

    /// A patient's requests made on UK dates `from` to `to` (inclusive; defaults: 180 days ago
    /// and today), newest first.
    pub async fn list_patient_prescription_requests(
        &self,
        patient_id: &str,
        from: Option<NaiveDate>,
        to: Option<NaiveDate>,
    ) -> Result<Vec<PrescriptionRequest>, AdminError> {
        let today = uk_date(self.clock.now());
        let to = to.unwrap_or(today);
        let from = match from {
            Some(f) => f,
            None => to
                .checked_sub_signed(Duration::days(DEFAULT_HISTORY_DAYS))
                .unwrap_or(to),
        };
        let (from, to) = day_range(from, to)?;
        let patient = self.existing_patient(patient_id).await?;
        Ok(self
            .store
            .prescription_requests(&patient.id, from, to)
            .await?)
    }

    /// Issues (`Issued`) or rejects (`Rejected`) a request waiting to be actioned, with an
    /// optional comment the patient sees, and writes the patient's access log. Issuing counts
    /// an issue on each of its courses.
    pub async fn settle_prescription_request(
        &self,
        id: &str,
        status: PrescriptionStatus,
        practice_comment: Option<String>,
    ) -> Result<PrescriptionRequest, AdminError> {
        let access_type = match status {
            PrescriptionStatus::Issued => "Issued prescription",
            PrescriptionStatus::Rejected => "Rejected prescription request",
            _ => {
                return Err(AdminError::Invalid(
                    "the practice can only issue or reject a request".into(),
                ));
            }
        };
        let practice_comment = comment(practice_comment)?;
        let request = self
            .store
            .prescription_request(id.trim())
            .await?
            .ok_or_else(|| AdminError::NotFound("prescription request".into()))?;
        if request.status != PrescriptionStatus::Requested {
            return Err(actioned(request.status));
        }
        let now = self.clock.now();
        let log = self
            .practice_access(&request.patient_id, access_type)
            .await?;
        match self
            .store
            .settle_prescription_request(
                &request.id,
                status,
                practice_comment.as_deref(),
                now,
                &log,
            )
            .await?
        {
            OrderOutcome::Stored => {}
            OrderOutcome::Actioned(s) => return Err(actioned(s)),
            _ => return Err(AdminError::NotFound("prescription request".into())),
        }
        self.store
            .prescription_request(&request.id)
            .await?
            .ok_or_else(|| AdminError::NotFound("prescription request".into()))
    }
}

/// The refusal for actioning a request that is no longer waiting.
fn actioned(status: PrescriptionStatus) -> AdminError {
    AdminError::Conflict(format!(
        "the prescription request has already been actioned (status {})",
        status.as_str()
    ))
}
