//! Online accounts, their linkage keys, the (account, provider) links that `LinkAccount` creates, and
//! the failure state that throttles linkage attempts.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::StoreResult;
use crate::model::*;

/// Online accounts, their linkage keys, the (account, provider) links that `LinkAccount` creates, and
#[async_trait]
pub trait AccountStore: Send + Sync {
    /// Adds an account; `Conflict` if the id exists or the patient already has one.
    async fn insert_account(&self, account: &OnlineAccount) -> StoreResult<()>;
    /// The account with this id.
    async fn account(&self, id: &str) -> StoreResult<Option<OnlineAccount>>;
    /// The account of this patient.
    async fn account_for_patient(&self, patient_id: &str) -> StoreResult<Option<OnlineAccount>>;
    /// Ends an account (and its sessions); false if no such account.
    async fn end_account(&self, id: &str, at: DateTime<Utc>) -> StoreResult<bool>;
    /// Sets the account's one linkage key, replacing any earlier one.
    async fn set_linkage_key(&self, key: &LinkageKeyRecord) -> StoreResult<()>;
    /// The account's linkage key, expired or not.
    async fn linkage_key(&self, account_id: &str) -> StoreResult<Option<LinkageKeyRecord>>;
    /// Creates or replaces the (account, provider) link.
    async fn upsert_provider_link(&self, link: &ProviderLink) -> StoreResult<()>;
    /// The (account, provider) link.
    async fn provider_link(
        &self,
        account_id: &str,
        provider_id: &str,
    ) -> StoreResult<Option<ProviderLink>>;
    /// Failure state for (account id, provider); the account id need not exist.
    async fn link_throttle(
        &self,
        account_id: &str,
        provider_id: &str,
    ) -> StoreResult<Option<LinkThrottle>>;
    /// Stores failure state for (account id, provider).
    async fn put_link_throttle(
        &self,
        account_id: &str,
        provider_id: &str,
        throttle: &LinkThrottle,
    ) -> StoreResult<()>;
    /// Forgets failure state for (account id, provider).
    async fn clear_link_throttle(&self, account_id: &str, provider_id: &str) -> StoreResult<()>;
}
