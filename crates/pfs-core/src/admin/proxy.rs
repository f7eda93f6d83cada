//! Proxy access: one online user acting for another patient.

use super::AdminError;
use crate::Pfs;
use crate::model::*;

impl Pfs {
    /// Lets the online user `grantee_id` act for `patient_id`.
    pub async fn grant_proxy(&self, grantee_id: &str, patient_id: &str) -> Result<(), AdminError> {
        if grantee_id == patient_id {
            return Err(AdminError::Invalid(
                "a patient cannot be their own proxy".into(),
            ));
        }
        for id in [grantee_id, patient_id] {
            if self.store.patient(id).await?.is_none() {
                return Err(AdminError::NotFound("patient".into()));
            }
        }
        Ok(self
            .store
            .grant_proxy(grantee_id, patient_id, self.clock.now())
            .await?)
    }

    /// Withdraws a proxy grant.
    pub async fn revoke_proxy(&self, grantee_id: &str, patient_id: &str) -> Result<(), AdminError> {
        if self.store.revoke_proxy(grantee_id, patient_id).await? {
            Ok(())
        } else {
            Err(AdminError::NotFound("proxy grant".into()))
        }
    }

    /// Patients `grantee_id` may act for.
    pub async fn proxies_of(&self, grantee_id: &str) -> Result<Vec<Patient>, AdminError> {
        Ok(self.store.proxy_patients(grantee_id).await?)
    }
}
