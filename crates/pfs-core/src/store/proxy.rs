//! Proxy access: who may act for whom.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::StoreResult;
use crate::model::*;

/// Proxy access: who may act for whom.
#[async_trait]
pub trait ProxyStore: Send + Sync {
    /// Lets the online user `grantee_id` act for `patient_id` (idempotent).
    async fn grant_proxy(
        &self,
        grantee_id: &str,
        patient_id: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// Withdraws a grant; false if there was none.
    async fn revoke_proxy(&self, grantee_id: &str, patient_id: &str) -> StoreResult<bool>;
    /// The patients `grantee_id` may act for (not including themselves), by id.
    async fn proxy_patients(&self, grantee_id: &str) -> StoreResult<Vec<Patient>>;
    /// Whether `grantee_id` may act for `patient_id`.
    async fn has_proxy(&self, grantee_id: &str, patient_id: &str) -> StoreResult<bool>;
}
