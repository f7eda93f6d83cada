//! Fault injection rules: adding, listing, removing (see [`crate::fault`]).
//!
//! Every change is applied by this instance before the call returns; other instances on the
//! same database apply it when their next poll sees the version move (about a second).

use serde::Serialize;

use super::AdminError;
use crate::fault::{self, FaultAction, FaultMatch, FaultRule, FaultSpec, FaultTrigger};

/// A rule as the admin API shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FaultRuleView {
    /// The rule's id.
    pub id: u64,
    /// When it was added.
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// Which requests.
    #[serde(rename = "match")]
    pub matches: FaultMatch,
    /// When (the seed always given).
    pub trigger: FaultTrigger,
    /// What.
    pub action: FaultAction,
    /// Whether a hit leaves the request executed (its changes stored).
    pub executes: bool,
    /// Matching requests counted by the trigger (probability below 1 or `everyNth` only).
    pub matched: u64,
    /// Hits so far.
    pub hits: u64,
    /// Hits left, for a rule with a count.
    pub remaining: Option<u64>,
    /// Whether its count is used up (it no longer applies).
    pub spent: bool,
}

impl From<FaultRule> for FaultRuleView {
    fn from(r: FaultRule) -> Self {
        FaultRuleView {
            id: r.id,
            created_at: r.created_at,
            executes: r.spec.action.executes(),
            spent: r.spent(),
            matches: r.spec.matches,
            trigger: r.spec.trigger,
            action: r.spec.action,
            matched: r.matched,
            hits: r.hits,
            remaining: r.remaining,
        }
    }
}

impl crate::Pfs {
    /// Checks and stores a rule, and applies it here at once.
    pub async fn add_fault(&self, spec: FaultSpec) -> Result<FaultRuleView, AdminError> {
        let spec = fault::check(spec).map_err(AdminError::Invalid)?;
        if let Some(id) = &spec.matches.provider
            && self.store.provider(id).await?.is_none()
        {
            return Err(AdminError::Invalid(
                "match.provider names no registered provider".into(),
            ));
        }
        let rule = self
            .store
            .insert_fault_rule(&spec, self.clock.now())
            .await?;
        self.reload_faults().await?;
        Ok(rule.into())
    }

    /// Every rule, oldest first, with its counters.
    pub async fn fault_rules(&self) -> Result<Vec<FaultRuleView>, AdminError> {
        Ok(self
            .store
            .list_fault_rules()
            .await?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// One rule, or `404`.
    pub async fn fault_rule(&self, id: u64) -> Result<FaultRuleView, AdminError> {
        self.store
            .fault_rule(id)
            .await?
            .map(Into::into)
            .ok_or_else(|| AdminError::NotFound("fault rule".into()))
    }

    /// Removes a rule (here at once), or `404`.
    pub async fn remove_fault(&self, id: u64) -> Result<(), AdminError> {
        if !self.store.delete_fault_rule(id).await? {
            return Err(AdminError::NotFound("fault rule".into()));
        }
        self.reload_faults().await?;
        Ok(())
    }

    /// Removes every rule (here at once); how many there were.
    pub async fn clear_faults(&self) -> Result<u64, AdminError> {
        let n = self.store.delete_fault_rules().await?;
        self.reload_faults().await?;
        Ok(n)
    }
}
