//! PFS sessions (by `suid` hash) and the one read the in-session request path makes.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::StoreResult;
use crate::model::*;

/// PFS sessions (by `suid` hash) and the one read the in-session request path makes.
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// Stores a new session; `Conflict` if the hash exists.
    async fn insert_session(&self, session: &SessionRecord) -> StoreResult<()>;
    /// The session with this suid hash (ended or not).
    async fn session(&self, suid_hash: &str) -> StoreResult<Option<SessionRecord>>;
    /// The session with this suid hash, the provider that opened it and, when `patient_id` is
    /// given, that patient's context and proxy grant, and what `prefetch` asks for (see
    /// [`SessionContext`]), all from one snapshot: the in-session request path makes this one
    /// read before anything else.
    async fn session_context(
        &self,
        suid_hash: &str,
        patient_id: Option<&str>,
        prefetch: Prefetch,
    ) -> StoreResult<Option<SessionContext>>;
    /// Records activity and, when given, a new selected patient.
    async fn touch_session(
        &self,
        suid_hash: &str,
        selected_patient_id: Option<&str>,
        at: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// Ends a session; false if it was unknown or already ended.
    async fn end_session(&self, suid_hash: &str, at: DateTime<Utc>) -> StoreResult<bool>;
    /// Deletes sessions that ended or were last seen before `before`; returns how many.
    async fn purge_sessions(&self, before: DateTime<Utc>) -> StoreResult<u64>;
    /// How many sessions have not ended, were last seen after `seen_after` and were created
    /// after `created_after`: the sessions still usable (for the live-sessions gauge).
    async fn count_live_sessions(
        &self,
        seen_after: DateTime<Utc>,
        created_after: DateTime<Utc>,
    ) -> StoreResult<u64>;
}
