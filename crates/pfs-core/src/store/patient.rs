//! Patients registered at a practice.
//!
//! [`PatientStore::patient_context`] has a default that reads the patient, the practice and the
//! switches one by one, which is why this trait builds on [`PracticeStore`] and [`ServiceStore`].

use async_trait::async_trait;

use super::StoreResult;
use super::{PracticeStore, ServiceStore};
use crate::model::*;

/// Patients registered at a practice.
#[async_trait]
pub trait PatientStore: PracticeStore + ServiceStore {
    /// Adds a patient; `Conflict` if the id or NHS number exists, `NotFound` if the practice
    /// does not.
    async fn insert_patient(&self, patient: &Patient) -> StoreResult<()>;
    /// Adds many patients in one transaction, all or nothing (bulk seeding); `Conflict` if any
    /// id or NHS number exists, `NotFound` if a practice does not.
    async fn insert_patients(&self, patients: &[Patient]) -> StoreResult<()>;
    /// The patient with this id.
    async fn patient(&self, id: &str) -> StoreResult<Option<Patient>>;
    /// The patient with this NHS number.
    async fn patient_by_nhs_number(&self, nhs_number: &str) -> StoreResult<Option<Patient>>;
    /// The patient, their practice and the service switches that apply to them. The default
    /// reads them one by one; a backend may read them in one go.
    async fn patient_context(&self, patient_id: &str) -> StoreResult<Option<PatientContext>> {
        let Some(patient) = self.patient(patient_id).await? else {
            return Ok(None);
        };
        let Some(practice) = self.practice(&patient.ods).await? else {
            return Ok(None);
        };
        let practice_switches = self.practice_services(&practice.ods).await?;
        let patient_switches = self.patient_services(&patient.id).await?;
        Ok(Some(PatientContext {
            patient,
            practice,
            practice_switches,
            patient_switches,
        }))
    }
    /// Patients of one practice (or all), by id.
    async fn list_patients(&self, ods: Option<&str>) -> StoreResult<Vec<Patient>>;
}
