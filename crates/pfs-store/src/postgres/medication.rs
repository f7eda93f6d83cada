//! Medication courses, list versions and prescription requests: [`MedicationStore`].
//!
//! PLACEHOLDER: every method fails until the PostgreSQL implementation lands.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use pfs_core::model::{
    MedicationCourse, MedicationList, MedicationView, OrderOutcome, PrescriptionRequest,
    PrescriptionStatus, RecordAccess,
};
use pfs_core::store::{MedicationStore, StoreError, StoreResult};

use super::PostgresStore;

fn missing<T>() -> StoreResult<T> {
    Err(StoreError::Other(
        "medication: not implemented on PostgreSQL yet".into(),
    ))
}

#[async_trait]
impl MedicationStore for PostgresStore {
    async fn insert_course(&self, _: &MedicationCourse) -> StoreResult<()> {
        missing()
    }
    async fn update_course(&self, _: &MedicationCourse) -> StoreResult<bool> {
        missing()
    }
    async fn course(&self, _: &str) -> StoreResult<Option<MedicationCourse>> {
        missing()
    }
    async fn medication_list(&self, _: &str, _: Option<&str>) -> StoreResult<MedicationList> {
        missing()
    }
    async fn record_medication_views(&self, _: &[MedicationView]) -> StoreResult<()> {
        missing()
    }
    async fn request_medication(
        &self,
        _: &PrescriptionRequest,
        _: i64,
        _: &RecordAccess,
    ) -> StoreResult<OrderOutcome> {
        missing()
    }
    async fn amend_prescription_request(
        &self,
        _: &PrescriptionRequest,
        _: i64,
        _: &RecordAccess,
    ) -> StoreResult<OrderOutcome> {
        missing()
    }
    async fn settle_prescription_request(
        &self,
        _: &str,
        _: PrescriptionStatus,
        _: Option<&str>,
        _: DateTime<Utc>,
        _: &RecordAccess,
    ) -> StoreResult<OrderOutcome> {
        missing()
    }
    async fn prescription_request(&self, _: &str) -> StoreResult<Option<PrescriptionRequest>> {
        missing()
    }
    async fn prescription_requests(
        &self,
        _: &str,
        _: DateTime<Utc>,
        _: DateTime<Utc>,
    ) -> StoreResult<Vec<PrescriptionRequest>> {
        missing()
    }
    async fn pending_prescription_requests(
        &self,
        _: &str,
    ) -> StoreResult<Vec<PrescriptionRequest>> {
        missing()
    }
}
