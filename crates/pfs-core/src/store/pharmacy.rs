//! The community pharmacy directory and patients' nominated pharmacies.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::StoreResult;
use crate::model::*;

/// The community pharmacy directory and patients' nominated pharmacies.
#[async_trait]
pub trait PharmacyStore: Send + Sync {
    /// Adds a pharmacy; `Conflict` if its ODS code exists.
    async fn insert_pharmacy(&self, pharmacy: &Pharmacy) -> StoreResult<()>;
    /// Adds or replaces (by ODS code) every pharmacy given, in one transaction: all or none.
    async fn upsert_pharmacies(&self, pharmacies: &[Pharmacy]) -> StoreResult<()>;
    /// The pharmacy with this ODS code (open or closed).
    async fn pharmacy(&self, ods: &str) -> StoreResult<Option<Pharmacy>>;
    /// Marks a pharmacy closed at `at`; false if there is no such pharmacy or it was closed.
    async fn close_pharmacy(&self, ods: &str, at: DateTime<Utc>) -> StoreResult<bool>;
    /// How many pharmacies the directory holds (open or closed).
    async fn count_pharmacies(&self) -> StoreResult<u64>;
    /// Open pharmacies of the search's postcode area, nearest first: the same postcode, then
    /// the same sector, then by distance between district numbers, then by outward code and ODS
    /// code; at most `limit`.
    async fn pharmacies_near(
        &self,
        search: &PharmacySearch,
        limit: u32,
    ) -> StoreResult<Vec<Pharmacy>>;
    /// Open pharmacies whose name contains `fragment` (compared in lower case; `fragment` is
    /// given in lower case), by name then ODS code; at most `limit`.
    async fn pharmacies_named(&self, fragment: &str, limit: u32) -> StoreResult<Vec<Pharmacy>>;
    /// The patient's nominated pharmacy, if any (open or closed).
    async fn nominated_pharmacy(&self, patient_id: &str) -> StoreResult<Option<Pharmacy>>;
    /// Sets (`Some`) or removes (`None`) the patient's nomination and appends `log`, in one
    /// transaction. `NotFound` if the patient or the pharmacy does not exist.
    async fn set_nominated_pharmacy(
        &self,
        patient_id: &str,
        ods: Option<&str>,
        at: DateTime<Utc>,
        log: &RecordAccess,
    ) -> StoreResult<()>;
}
