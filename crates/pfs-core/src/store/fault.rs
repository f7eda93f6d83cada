//! Fault injection rules and their counters.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::StoreResult;
use crate::fault::{FaultHit, FaultRule, FaultSpec};

/// Fault injection rules (see [`crate::fault`]): kept in the store so that every instance on
/// one database applies the same rules, with their counters updated by single statements so
/// that counts are exact across instances. Every change to the set of rules that apply (a rule
/// added, removed, or spent) moves a version number, which instances poll to know when to
/// read the rules again.
#[async_trait]
pub trait FaultStore: Send + Sync {
    /// Stores a rule (its hits left are its count, if any) and moves the version; the stored
    /// rule with its new id, which is larger than any id given before.
    async fn insert_fault_rule(
        &self,
        spec: &FaultSpec,
        at: DateTime<Utc>,
    ) -> StoreResult<FaultRule>;
    /// The rule with this id.
    async fn fault_rule(&self, id: u64) -> StoreResult<Option<FaultRule>>;
    /// Every rule, spent or not, oldest first.
    async fn list_fault_rules(&self) -> StoreResult<Vec<FaultRule>>;
    /// Deletes a rule and moves the version; false if there is no such rule.
    async fn delete_fault_rule(&self, id: u64) -> StoreResult<bool>;
    /// Deletes every rule and moves the version; how many there were.
    async fn delete_fault_rules(&self) -> StoreResult<u64>;
    /// The version of the set of rules: it changes whenever a rule is added, removed or spent.
    async fn fault_rules_version(&self) -> StoreResult<u64>;
    /// Counts one more matching request of a rule; its number (1 for the first), or `None`
    /// if there is no such rule.
    async fn count_fault_match(&self, id: u64) -> StoreResult<Option<u64>>;
    /// Counts a hit of a rule that is not spent, taking one from its hits left (if it has a
    /// count) in the same statement, and moves the version when that spends it; `None` if the
    /// rule is spent or gone, in which case nothing changes.
    async fn record_fault_hit(&self, id: u64) -> StoreResult<Option<FaultHit>>;
}
