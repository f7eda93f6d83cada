//! Service switches, per practice and per patient.

use serde::Serialize;

use super::{AdminError, ods_code};
use crate::{Pfs, services};

/// The effective state of one service for a patient.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceState {
    /// Service key.
    pub service: &'static str,
    /// Wire description.
    pub description: &'static str,
    /// Whether it is available to the patient.
    pub enabled: bool,
}

impl Pfs {
    /// Sets (`Some`) or clears (`None`) a service switch for a practice, or for one patient when
    /// `patient_id` is given.
    pub async fn set_service(
        &self,
        ods: Option<&str>,
        patient_id: Option<&str>,
        service: &str,
        enabled: Option<bool>,
    ) -> Result<(), AdminError> {
        if services::service(service).is_none() {
            let known: Vec<_> = services::SERVICES.iter().map(|s| s.key).collect();
            return Err(AdminError::Invalid(format!(
                "unknown service; known services: {}",
                known.join(", ")
            )));
        }
        match (ods, patient_id) {
            (_, Some(pid)) => {
                if self.store.patient(pid).await?.is_none() {
                    return Err(AdminError::NotFound("patient".into()));
                }
                Ok(self
                    .store
                    .set_patient_service(pid, service, enabled)
                    .await?)
            }
            (Some(ods), None) => {
                let ods = &ods_code(ods);
                if self.store.practice(ods).await?.is_none() {
                    return Err(AdminError::NotFound("practice".into()));
                }
                Ok(self
                    .store
                    .set_practice_service(ods, service, enabled)
                    .await?)
            }
            (None, None) => Err(AdminError::Invalid("name a practice or a patient".into())),
        }
    }

    /// The effective state of every service for a patient.
    pub async fn services_for(&self, patient_id: &str) -> Result<Vec<ServiceState>, AdminError> {
        let patient = self
            .store
            .patient(patient_id)
            .await?
            .ok_or_else(|| AdminError::NotFound("patient".into()))?;
        let practice = self.store.practice_services(&patient.ods).await?;
        let own = self.store.patient_services(&patient.id).await?;
        Ok(services::SERVICES
            .iter()
            .map(|s| ServiceState {
                service: s.key,
                description: s.description,
                enabled: services::is_enabled(s.key, &practice, &own),
            })
            .collect())
    }
}
