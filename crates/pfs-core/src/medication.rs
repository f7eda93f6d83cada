//! Medication: `ListRepeatMedication`, `ListAcuteMedication`, `RequestMedication`,
//! `GetPrescriptionRequests` and `AmendPrescriptionRequest` (wire reference §2.6, §2.7 and
//! B.2–B.5).
//!
//! The integrity rule: an order is accepted only from a session that fetched the patient's
//! medication list (either list) since selecting the patient, and only while the list is still
//! at the version that session saw. The version moves whenever the practice adds, changes,
//! stops or issues a course, never when a patient orders: orders that collide are caught by
//! the one-outstanding-request-per-course rule, which the store enforces (of any number of
//! concurrent orders of one course, exactly one is stored). Refusals are checked in a fixed
//! order, so that each has its own code: notes and size, list fetched, list unchanged, every
//! course known, none already requested (which wins over "not requestable"), all requestable.

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;

use chrono::{Duration, NaiveDate};
use pfs_wire::{
    AmendAction, AmendPrescriptionRequest, AmendPrescriptionRequestReply, CourseType,
    GetPrescriptionRequests, GetPrescriptionRequestsReply, ListAcuteMedication,
    ListAcuteMedicationReply, ListRepeatMedication, ListRepeatMedicationReply, MedicationItem,
    RequestMedication, RequestMedicationReply, YesNo,
};

use crate::error::DomainError;
use crate::model::{
    MedicationCourse, MedicationList, MedicationView, OrderOutcome, PatientContext,
    PracticeSettings, Prefetch, PrescriptionItem, PrescriptionRequest, PrescriptionStatus,
};
use crate::operation::{Access, Call, Operation};
use crate::secrets::{Attempt, with_fresh_id};
use crate::session::ActiveSession;
use crate::uktime::{to_instant, to_wall_clock, uk_date};
use crate::{Pfs, Store, StoreError, StoreResult};

/// The service key every medication message is switched by.
pub const PRESCRIPTIONS_SERVICE: &str = "repeat-prescriptions";

/// How far back `GetPrescriptionRequests` looks when the request gives no `startDate`.
pub const DEFAULT_HISTORY_DAYS: i64 = 180;

/// Digits of a new request id.
const REQUEST_ID_DIGITS: usize = 9;

/// Why a course may not be ordered now, or `None` if it may. Its outstanding request is
/// checked separately (and first).
pub fn not_requestable(
    course: &MedicationCourse,
    settings: &PracticeSettings,
) -> Option<&'static str> {
    if !course.requestable {
        Some("a course named in the order is not requestable online (the practice's setting)")
    } else if !course.has_issues_left() {
        Some("a course named in the order has used all its authorised issues")
    } else if course.course_type == CourseType::Acute && !settings.acute_requests_allowed {
        Some("a course named in the order is acute and the practice takes no acute requests")
    } else {
        None
    }
}

/// Whether the patient sees the course in their list today.
fn listed(course: &MedicationCourse, today: NaiveDate) -> bool {
    course.online_visible && course.is_current(today)
}

impl Operation for ListRepeatMedication {
    const ACCESS: Access = Access::Service(PRESCRIPTIONS_SERVICE);
    const PREFETCH: Prefetch = Prefetch::Medication;
    async fn run(
        &self,
        pfs: &Pfs,
        call: &Call<'_>,
    ) -> Result<ListRepeatMedicationReply, DomainError> {
        Ok(ListRepeatMedicationReply {
            medications: pfs.list_medication(call, CourseType::Repeat).await?,
            ..Default::default()
        })
    }
}

impl Operation for ListAcuteMedication {
    const ACCESS: Access = Access::Service(PRESCRIPTIONS_SERVICE);
    const PREFETCH: Prefetch = Prefetch::Medication;
    async fn run(
        &self,
        pfs: &Pfs,
        call: &Call<'_>,
    ) -> Result<ListAcuteMedicationReply, DomainError> {
        Ok(ListAcuteMedicationReply {
            medications: pfs.list_medication(call, CourseType::Acute).await?,
            ..Default::default()
        })
    }
}

impl Operation for RequestMedication {
    const ACCESS: Access = Access::Service(PRESCRIPTIONS_SERVICE);
    const PREFETCH: Prefetch = Prefetch::Medication;
    async fn run(&self, pfs: &Pfs, call: &Call<'_>) -> Result<RequestMedicationReply, DomainError> {
        pfs.request_medication(call, self).await
    }
}

impl Operation for GetPrescriptionRequests {
    const ACCESS: Access = Access::Service(PRESCRIPTIONS_SERVICE);
    async fn run(
        &self,
        pfs: &Pfs,
        call: &Call<'_>,
    ) -> Result<GetPrescriptionRequestsReply, DomainError> {
        pfs.get_prescription_requests(call, self).await
    }
}

impl Operation for AmendPrescriptionRequest {
    const ACCESS: Access = Access::Service(PRESCRIPTIONS_SERVICE);
    const PREFETCH: Prefetch = Prefetch::Medication;
    async fn run(
        &self,
        pfs: &Pfs,
        call: &Call<'_>,
    ) -> Result<AmendPrescriptionRequestReply, DomainError> {
        pfs.amend_prescription_request(call, self).await
    }
}

/// An order's notes, trimmed (`None` when empty), within the practice's maximum.
fn order_notes(
    notes: &Option<String>,
    settings: &PracticeSettings,
) -> Result<Option<String>, DomainError> {
    let notes = notes
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_owned);
    let max = settings.max_medication_notes;
    if notes
        .as_ref()
        .is_some_and(|n| n.chars().count() > max as usize)
    {
        return Err(DomainError::OrderNotesTooLong(max));
    }
    Ok(notes)
}

/// Checks an order (or an amendment of request `own`) against the patient's list, in the
/// documented order, and answers its items with the courses' names.
fn check_order(
    items: &[MedicationItem],
    list: &MedicationList,
    settings: &PracticeSettings,
    today: NaiveDate,
    own: Option<&str>,
) -> Result<Vec<PrescriptionItem>, DomainError> {
    if items.len() > settings.max_medications_per_request as usize {
        return Err(DomainError::TooManyMedications(
            settings.max_medications_per_request,
        ));
    }
    match list.seen_version {
        None => return Err(DomainError::MedicationListNotFetched),
        Some(seen) if seen != list.version => return Err(DomainError::MedicationListChanged),
        Some(_) => {}
    }
    let courses = items
        .iter()
        .map(|item| {
            list.courses
                .iter()
                .find(|(c, _)| {
                    c.id == item.drug_id.trim()
                        && c.course_type == item.course_type
                        && listed(c, today)
                })
                .ok_or(DomainError::UnknownCourse)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let outstanding = |pending: &Option<String>| pending.as_deref().is_some_and(|r| Some(r) != own);
    if courses.iter().any(|(_, pending)| outstanding(pending)) {
        return Err(DomainError::AlreadyRequested);
    }
    if let Some(why) = courses
        .iter()
        .find_map(|(c, _)| not_requestable(c, settings))
    {
        return Err(DomainError::CourseNotRequestable(why));
    }
    Ok(courses
        .into_iter()
        .map(|(c, _)| PrescriptionItem {
            course_id: c.id.clone(),
            drug: c.drug.clone(),
            course_type: c.course_type,
        })
        .collect())
}

/// The refusal for an order or amendment the store did not store.
fn refusal(outcome: OrderOutcome) -> Result<(), DomainError> {
    match outcome {
        OrderOutcome::Stored => Ok(()),
        OrderOutcome::ListChanged => Err(DomainError::MedicationListChanged),
        OrderOutcome::AlreadyRequested => Err(DomainError::AlreadyRequested),
        OrderOutcome::Actioned(status) => {
            Err(DomainError::PrescriptionRequestActioned(status.as_str()))
        }
        OrderOutcome::NotFound => Err(DomainError::PrescriptionRequestNotFound),
    }
}

impl Pfs {
    /// The patient's medication list as this session sees it: read with the session when the
    /// request asked for it ([`Prefetch::Medication`]), else from the store.
    async fn medication_list_of<'a>(
        &self,
        s: &'a ActiveSession,
        patient_id: &str,
    ) -> Result<Cow<'a, MedicationList>, DomainError> {
        let prefetched = s.named_as(patient_id).and_then(|n| n.medication.as_ref());
        Ok(match prefetched {
            Some(list) => Cow::Borrowed(list),
            None => Cow::Owned(
                self.store
                    .medication_list(patient_id, Some(&s.record.suid_hash))
                    .await?,
            ),
        })
    }

    /// The patient's listed courses of one type, as the wire shows them; records that this
    /// session fetched the list (and in the access log, that the patient's medication was
    /// viewed). The first read of a version waits for that record, since an order depends on
    /// it; a re-read only adds its log entry, written behind (see `group_commit.rs`).
    async fn list_medication(
        &self,
        call: &Call<'_>,
        course_type: CourseType,
    ) -> Result<Vec<pfs_wire::Medication>, DomainError> {
        let s = call.session()?;
        let PatientContext {
            patient, practice, ..
        } = call.patient()?;
        let list = self.medication_list_of(s, &patient.id).await?;
        let today = uk_date(self.clock.now());
        let out = list
            .courses
            .iter()
            .filter(|(c, _)| c.course_type == course_type && listed(c, today))
            .map(|(c, pending)| pfs_wire::Medication {
                drug_id: c.id.clone(),
                course_type: c.course_type,
                drug: c.drug.clone(),
                details: c.details.clone(),
                requestable: YesNo(
                    pending.is_none() && not_requestable(c, &practice.settings).is_none(),
                ),
            })
            .collect();
        let log = self
            .online_access(s, call.caller, patient, practice, "Viewed medication")
            .await?;
        let view = MedicationView {
            suid_hash: s.record.suid_hash.clone(),
            patient_id: patient.id.clone(),
            version: (list.seen_version != Some(list.version)).then_some(list.version),
            log,
        };
        if view.version.is_some() {
            self.medication_views.write(&self.store, view).await?;
        } else {
            self.medication_views
                .write_behind(&self.store, view)
                .await?;
        }
        Ok(out)
    }

    pub(crate) async fn request_medication(
        &self,
        call: &Call<'_>,
        m: &RequestMedication,
    ) -> Result<RequestMedicationReply, DomainError> {
        let s = call.session()?;
        let PatientContext {
            patient, practice, ..
        } = call.patient()?;
        let settings = &practice.settings;
        let notes = order_notes(&m.notes, settings)?;
        let now = self.clock.now();
        let list = self.medication_list_of(s, &patient.id).await?;
        let items = check_order(&m.medications, &list, settings, uk_date(now), None)?;
        let log = self
            .online_access(s, call.caller, patient, practice, "Requested medication")
            .await?;
        let new = PrescriptionRequest {
            id: String::new(),
            patient_id: patient.id.clone(),
            requested_by: s.record.online_user_id.clone(),
            requested_at: now,
            notes,
            status: PrescriptionStatus::Requested,
            status_at: now,
            practice_comment: None,
            items,
        };
        let (log, version) = (&log, list.version);
        let stored = with_fresh_id(REQUEST_ID_DIGITS, |id| {
            let request = PrescriptionRequest { id, ..new.clone() };
            async move {
                match self.store.request_medication(&request, version, log).await {
                    Ok(outcome) => Ok(Attempt::Done((outcome, request.id))),
                    Err(StoreError::Conflict(_)) => Ok(Attempt::IdTaken),
                    Err(e) => Err(DomainError::from(e)),
                }
            }
        })
        .await?;
        let Some((outcome, id)) = stored else {
            return Err(DomainError::Unavailable(
                "could not allocate a request id".into(),
            ));
        };
        refusal(outcome)?;
        Ok(RequestMedicationReply {
            message: settings
                .medication_request_confirmation
                .as_deref()
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(str::to_owned),
            request_id: Some(id),
            ..Default::default()
        })
    }

    pub(crate) async fn get_prescription_requests(
        &self,
        call: &Call<'_>,
        m: &GetPrescriptionRequests,
    ) -> Result<GetPrescriptionRequestsReply, DomainError> {
        let patient = &call.patient()?.patient;
        let now = self.clock.now();
        let from = m
            .start_date
            .map(to_instant)
            .unwrap_or(now - Duration::days(DEFAULT_HISTORY_DAYS));
        // endDate is inclusive to the second, as clients send day ends as 23:59:59.
        let to = m
            .end_date
            .map(|t| to_instant(t) + Duration::seconds(1))
            .unwrap_or(now + Duration::seconds(1));
        let requests = if from < to {
            self.store
                .prescription_requests(&patient.id, from, to)
                .await?
        } else {
            Vec::new()
        };
        Ok(GetPrescriptionRequestsReply {
            requests: requests.into_iter().map(wire_request).collect(),
            ..Default::default()
        })
    }

    pub(crate) async fn amend_prescription_request(
        &self,
        call: &Call<'_>,
        m: &AmendPrescriptionRequest,
    ) -> Result<AmendPrescriptionRequestReply, DomainError> {
        let s = call.session()?;
        let PatientContext {
            patient, practice, ..
        } = call.patient()?;
        // Unknown ids and another patient's requests get one answer.
        let request = self
            .store
            .prescription_request(m.request_id.trim())
            .await?
            .filter(|r| r.patient_id == patient.id)
            .ok_or(DomainError::PrescriptionRequestNotFound)?;
        if request.status != PrescriptionStatus::Requested {
            return Err(DomainError::PrescriptionRequestActioned(
                request.status.as_str(),
            ));
        }
        let now = self.clock.now();
        let (access_type, status) = match m.action {
            AmendAction::Cancel => (
                "Cancelled medication request",
                PrescriptionStatus::Cancelled,
            ),
            AmendAction::Amend => ("Amended medication request", PrescriptionStatus::Requested),
        };
        let outcome = match m.action {
            AmendAction::Cancel => {
                let log = self
                    .online_access(s, call.caller, patient, practice, access_type)
                    .await?;
                self.store
                    .settle_prescription_request(&request.id, status, None, now, &log)
                    .await?
            }
            AmendAction::Amend => {
                let settings = &practice.settings;
                let notes = order_notes(&m.notes, settings)?;
                let list = self.medication_list_of(s, &patient.id).await?;
                let items = check_order(
                    &m.medications,
                    &list,
                    settings,
                    uk_date(now),
                    Some(&request.id),
                )?;
                let log = self
                    .online_access(s, call.caller, patient, practice, access_type)
                    .await?;
                let amended = PrescriptionRequest {
                    notes,
                    items,
                    status_at: now,
                    ..request.clone()
                };
                self.store
                    .amend_prescription_request(&amended, list.version, &log)
                    .await?
            }
        };
        refusal(outcome)?;
        Ok(AmendPrescriptionRequestReply {
            scope: None,
            uuid: None,
            request_id: request.id,
            status,
        })
    }
}

/// Writes a group of list views (see [`crate::group_commit`]).
pub(crate) fn write_views<'a>(
    store: &'a dyn Store,
    views: &'a [MedicationView],
) -> Pin<Box<dyn Future<Output = StoreResult<()>> + Send + 'a>> {
    store.record_medication_views(views)
}

/// A stored request as the wire shows it.
fn wire_request(r: PrescriptionRequest) -> pfs_wire::PrescriptionRequest {
    pfs_wire::PrescriptionRequest {
        request_id: r.id,
        date_requested: to_wall_clock(r.requested_at),
        status: r.status,
        status_date: to_wall_clock(r.status_at),
        notes: r.notes,
        practice_comment: r.practice_comment,
        medications: r
            .items
            .into_iter()
            .map(|i| pfs_wire::RequestedMedication {
                drug_id: i.course_id,
                drug: i.drug,
                course_type: i.course_type,
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn course(id: &str, t: CourseType) -> MedicationCourse {
        MedicationCourse {
            id: id.into(),
            patient_id: "1".into(),
            drug: "Drug".into(),
            details: "One daily".into(),
            course_type: t,
            requestable: true,
            online_visible: true,
            started_on: NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
            stopped_on: None,
            last_issued_at: None,
            issue_count: 0,
            max_issues: Some(6),
        }
    }

    fn item(id: &str) -> MedicationItem {
        MedicationItem {
            drug_id: id.into(),
            course_type: CourseType::Repeat,
        }
    }

    fn list(courses: Vec<(MedicationCourse, Option<String>)>) -> MedicationList {
        MedicationList {
            version: 3,
            courses,
            seen_version: Some(3),
        }
    }

    #[test]
    fn refusals_come_in_the_documented_order() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 25).unwrap();
        let settings = PracticeSettings::default();
        let mut stopped = course("2", CourseType::Repeat);
        stopped.requestable = false;
        let l = list(vec![
            (course("1", CourseType::Repeat), None),
            (stopped, Some("77".into())),
        ]);
        // Unknown wins over everything about the other items.
        let e = check_order(&[item("2"), item("9")], &l, &settings, today, None);
        assert_eq!(e, Err(DomainError::UnknownCourse));
        // Outstanding wins over not requestable.
        let e = check_order(&[item("1"), item("2")], &l, &settings, today, None);
        assert_eq!(e, Err(DomainError::AlreadyRequested));
        // Its own request does not count as outstanding for an amendment.
        let e = check_order(&[item("2")], &l, &settings, today, Some("77"));
        assert!(matches!(e, Err(DomainError::CourseNotRequestable(_))));
        // Not fetched, then changed, come before any course check.
        let mut unseen = l.clone();
        unseen.seen_version = None;
        let e = check_order(&[item("9")], &unseen, &settings, today, None);
        assert_eq!(e, Err(DomainError::MedicationListNotFetched));
        unseen.seen_version = Some(2);
        let e = check_order(&[item("9")], &unseen, &settings, today, None);
        assert_eq!(e, Err(DomainError::MedicationListChanged));
        let ok = check_order(&[item("1")], &l, &settings, today, None).unwrap();
        assert_eq!(ok[0].course_id, "1");
    }

    #[test]
    fn requestability() {
        let settings = PracticeSettings::default();
        let mut c = course("1", CourseType::Repeat);
        assert_eq!(not_requestable(&c, &settings), None);
        c.issue_count = 6;
        assert!(not_requestable(&c, &settings).is_some(), "issues used up");
        let acute = course("2", CourseType::Acute);
        assert!(not_requestable(&acute, &settings).is_some());
        let allowing = PracticeSettings {
            acute_requests_allowed: true,
            ..PracticeSettings::default()
        };
        assert_eq!(not_requestable(&acute, &allowing), None);
    }
}
