//! Third-party providers: the applications allowed to call the API, known by their client certificate.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::StoreResult;
use crate::model::*;

/// Third-party providers: the applications allowed to call the API, known by their client certificate.
#[async_trait]
pub trait ProviderStore: Send + Sync {
    /// Registers a provider; `Conflict` if the id or fingerprint exists.
    async fn insert_provider(&self, provider: &Provider) -> StoreResult<()>;
    /// The provider (revoked or not) with this id.
    async fn provider(&self, id: &str) -> StoreResult<Option<Provider>>;
    /// The provider (revoked or not) whose certificate has this fingerprint.
    async fn provider_by_fingerprint(&self, fingerprint: &str) -> StoreResult<Option<Provider>>;
    /// Every provider, oldest first.
    async fn list_providers(&self) -> StoreResult<Vec<Provider>>;
    /// Marks a provider revoked and ends its open sessions; false if no such provider.
    async fn revoke_provider(&self, id: &str, at: DateTime<Utc>) -> StoreResult<bool>;
}
