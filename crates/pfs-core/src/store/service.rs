//! Service switches, practice-wide and per patient.

use async_trait::async_trait;

use super::StoreResult;
use crate::model::*;

/// Service switches, practice-wide and per patient.
#[async_trait]
pub trait ServiceStore: Send + Sync {
    /// Sets (Some) or clears (None) a practice-wide switch.
    async fn set_practice_service(
        &self,
        ods: &str,
        service: &str,
        enabled: Option<bool>,
    ) -> StoreResult<()>;
    /// Sets (Some) or clears (None) a per-patient switch.
    async fn set_patient_service(
        &self,
        patient_id: &str,
        service: &str,
        enabled: Option<bool>,
    ) -> StoreResult<()>;
    /// The practice's switches.
    async fn practice_services(&self, ods: &str) -> StoreResult<Vec<ServiceSwitch>>;
    /// The patient's own switches.
    async fn patient_services(&self, patient_id: &str) -> StoreResult<Vec<ServiceSwitch>>;
}
