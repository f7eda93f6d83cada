//! Online accounts, their linkage keys, the (account, provider) links that `LinkAccount` creates, and
//! the failure state that throttles linkage attempts.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::StoreResult;
use crate::model::*;

/// Online accounts, their linkage keys, the (account, provider) links that `LinkAccount` creates, and
/// the failure state that throttles linkage attempts.
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
    /// Checks and counts one linkage attempt for (account id, provider), atomically; the
    /// account id need not exist.
    ///
    /// If the pair is locked (`locked_until` after `now`) the attempt is refused and nothing
    /// changes. Otherwise the attempt is counted as a failure straight away, before its key is
    /// checked: `failures` goes up by one, `locked_until` becomes `now` plus
    /// [`LinkBackoff::lock_after`] the new count (or none), and the time of the last failure
    /// becomes `now`. A correct key then clears the pair ([`AccountStore::clear_link_throttle`]);
    /// a wrong one needs no further write.
    ///
    /// The check and the count are one atomic step (one `INSERT … ON CONFLICT … DO UPDATE …
    /// RETURNING` statement), so of any number of concurrent attempts on an unlocked pair only
    /// those up to and including the one that starts a lock are admitted (at most
    /// `backoff.first_locking_failure()` on a fresh pair, one once a lock has expired); the
    /// others are refused.
    async fn reserve_link_attempt(
        &self,
        account_id: &str,
        provider_id: &str,
        now: DateTime<Utc>,
        backoff: &LinkBackoff,
    ) -> StoreResult<LinkAttempt>;
    /// Forgets failure state for (account id, provider).
    async fn clear_link_throttle(&self, account_id: &str, provider_id: &str) -> StoreResult<()>;
    /// Deletes the failure state of every pair that has no back-off in force at `now`
    /// (`locked_until` unset or not after `now`) and no failure counted since `before`
    /// (strictly earlier); how many pairs were deleted. A pair still locked is always kept.
    async fn purge_link_throttles(
        &self,
        now: DateTime<Utc>,
        before: DateTime<Utc>,
    ) -> StoreResult<u64>;
}
