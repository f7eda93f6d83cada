//! Medication courses, the list version the order integrity rule checks, and prescription
//! requests.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::StoreResult;
use crate::model::*;

/// Medication courses, the list version the order integrity rule checks, and prescription
/// requests.
///
/// Every change to a course (added, changed, stopped, re-authorised, issued) moves the patient's
/// list to a new version in the same transaction. A course has at most one outstanding
/// (`Requested`) request, enforced by the database: of any number of concurrent orders of one
/// course exactly one is stored.
#[async_trait]
pub trait MedicationStore: Send + Sync {
    /// Adds a course, moves the patient's list to a new version and appends `log` to the
    /// access log, in one transaction; `Conflict` if the id exists, `NotFound` if the patient
    /// does not.
    async fn insert_course(&self, course: &MedicationCourse, log: &RecordAccess)
    -> StoreResult<()>;
    /// Replaces a course (matched by id; its patient cannot change), moves the patient's list
    /// to a new version and appends `log`, in one transaction; false (and nothing written) if
    /// there is no such course.
    async fn update_course(
        &self,
        course: &MedicationCourse,
        log: &RecordAccess,
    ) -> StoreResult<bool>;
    /// The course with this id.
    async fn course(&self, id: &str) -> StoreResult<Option<MedicationCourse>>;
    /// A patient's courses with their list version and, when `suid_hash` is given, the version
    /// that session last fetched for this patient ([`MedicationList::seen_version`]).
    async fn medication_list(
        &self,
        patient_id: &str,
        suid_hash: Option<&str>,
    ) -> StoreResult<MedicationList>;
    /// Records, for each view, that its session fetched the patient's list at its version
    /// (replacing what that session had fetched for that patient) and appends its access-log
    /// entry: all in one transaction. A view of a session that no longer exists records
    /// nothing but its log entry, and a view of a patient who no longer exists records
    /// nothing (see [`AccessLogStore::insert_record_accesses`](super::AccessLogStore)). The
    /// records go when their session is purged.
    async fn record_medication_views(&self, views: &[MedicationView]) -> StoreResult<()>;
    /// Stores a new `Requested` request and appends `log`, in one transaction, if the patient's
    /// list is still at `version` ([`OrderOutcome::ListChanged`] otherwise) and none of its
    /// courses has an outstanding request ([`OrderOutcome::AlreadyRequested`]); nothing is
    /// written unless [`OrderOutcome::Stored`]. `Conflict` if the id exists.
    async fn request_medication(
        &self,
        request: &PrescriptionRequest,
        version: i64,
        log: &RecordAccess,
    ) -> StoreResult<OrderOutcome>;
    /// Replaces a `Requested` request's courses and notes with `request`'s (matched by id), at
    /// `request.status_at`, under the same rules as [`MedicationStore::request_medication`]
    /// (its own courses do not count as outstanding), and appends `log`; or answers
    /// [`OrderOutcome::NotFound`] or [`OrderOutcome::Actioned`] and writes nothing.
    async fn amend_prescription_request(
        &self,
        request: &PrescriptionRequest,
        version: i64,
        log: &RecordAccess,
    ) -> StoreResult<OrderOutcome>;
    /// Moves a `Requested` request to `status` (`Cancelled` by the patient, `Issued` or
    /// `Rejected` by the practice, with `comment`) at `at`, frees its courses and appends
    /// `log`, in one transaction. Issuing also counts an issue on each course (its last issued
    /// date becomes `at`) and so moves the list to a new version. Answers
    /// [`OrderOutcome::Stored`], or [`OrderOutcome::NotFound`] / [`OrderOutcome::Actioned`]
    /// with nothing written.
    async fn settle_prescription_request(
        &self,
        id: &str,
        status: PrescriptionStatus,
        comment: Option<&str>,
        at: DateTime<Utc>,
        log: &RecordAccess,
    ) -> StoreResult<OrderOutcome>;
    /// The request with this id.
    async fn prescription_request(&self, id: &str) -> StoreResult<Option<PrescriptionRequest>>;
    /// A patient's requests made in `[from, to)`, newest first (then by id, descending).
    async fn prescription_requests(
        &self,
        patient_id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<Vec<PrescriptionRequest>>;
    /// A practice's `Requested` requests, oldest first: what the practice has to action.
    async fn pending_prescription_requests(
        &self,
        ods: &str,
    ) -> StoreResult<Vec<PrescriptionRequest>>;
}
