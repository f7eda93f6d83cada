//! The applications linked to an online account: listing them, recording their use, and
//! unlinking them (`RequestAccountInformation`, `ResetOnlineAccount`).

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::StoreResult;
use crate::model::*;

/// The applications linked to an online account.
#[async_trait]
pub trait AccountInfoStore: Send + Sync {
    /// The account's linked applications, oldest link first.
    async fn linked_applications(&self, account_id: &str) -> StoreResult<Vec<LinkedApp>>;
    /// Records that the provider's application logged on to the account at `at`.
    async fn record_application_use(
        &self,
        account_id: &str,
        provider_id: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// Unlinks the provider's application from the account, or every application with `None`,
    /// in one transaction: their links (and so their passphrases) are deleted, every open
    /// session of the account opened by one of them is ended at `at`, the account's linkage key
    /// is deleted (so that no application can link again until the practice issues a new
    /// one), and `log` is appended. The provider ids unlinked; none (and nothing written) if
    /// there was nothing to unlink.
    async fn unlink_applications(
        &self,
        account_id: &str,
        provider_id: Option<&str>,
        at: DateTime<Utc>,
        log: &RecordAccess,
    ) -> StoreResult<Vec<String>>;
}
