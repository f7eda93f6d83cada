//! Patients' contact details (structured address, telephone numbers, e-mail address) and the
//! changes patients ask for online.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::StoreResult;
use crate::model::*;

/// Patients' contact details and the changes patients ask for online.
///
/// Writing details always writes the patient's one-line address ([`Patient::address`]) with
/// them, in the same transaction, so every reply that carries the one-line address agrees with
/// the structured one.
#[async_trait]
pub trait DemographicsStore: Send + Sync {
    /// The patient's contact details; `None` if none were ever stored (the patient may still
    /// exist, with a one-line address only).
    async fn contact_details(&self, patient_id: &str) -> StoreResult<Option<ContactDetails>>;
    /// Replaces the patient's contact details and one-line address, and appends `log`, in one
    /// transaction; `NotFound` if there is no such patient.
    async fn set_contact_details(
        &self,
        write: &ContactWrite,
        log: &RecordAccess,
    ) -> StoreResult<()>;
    /// Stores a change a patient asked for, in one transaction: every earlier
    /// `PendingApproval` change of the patient becomes `Superseded` (at the new change's
    /// `requested_at`), the change is inserted, `write` (when the change applies at once) is
    /// stored as by [`DemographicsStore::set_contact_details`], and `log` is appended to the
    /// access log. `Conflict` if the id exists.
    async fn insert_demographics_change(
        &self,
        change: &DemographicsChangeRecord,
        write: Option<&ContactWrite>,
        log: &RecordAccess,
    ) -> StoreResult<()>;
    /// Settles a `PendingApproval` change, in one transaction: its status becomes `status` at
    /// `at` with `comment`, `write` (for an approval) is stored, and `log` is appended. False
    /// (and nothing written) if there is no such change or it is no longer pending.
    async fn settle_demographics_change(
        &self,
        id: &str,
        status: ChangeStatus,
        at: DateTime<Utc>,
        comment: Option<&str>,
        write: Option<&ContactWrite>,
        log: &RecordAccess,
    ) -> StoreResult<bool>;
    /// The change with this id.
    async fn demographics_change(&self, id: &str) -> StoreResult<Option<DemographicsChangeRecord>>;
    /// The patient's changes, newest first, at most `limit`.
    async fn demographics_changes(
        &self,
        patient_id: &str,
        limit: u32,
    ) -> StoreResult<Vec<DemographicsChangeRecord>>;
    /// The changes waiting for approval at a practice, oldest first.
    async fn pending_demographics_changes(
        &self,
        ods: &str,
    ) -> StoreResult<Vec<DemographicsChangeRecord>>;
}
