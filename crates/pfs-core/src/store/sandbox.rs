//! Sandbox snapshots: the whole database's data saved under a name and put back later.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::StoreResult;

/// A saved snapshot.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SnapshotInfo {
    /// Its name (lower-case letters, digits, `-` and `_`).
    pub name: String,
    /// When it was taken.
    pub taken_at: DateTime<Utc>,
}

/// Sandbox snapshots of every table that holds practice or patient data (all of them but the
/// schema's own bookkeeping). The caller checks names; a backend still refuses one it could
/// not store safely.
#[async_trait]
pub trait SandboxStore: Send + Sync {
    /// Saves the data as it is now under `name` (replacing a snapshot of that name), at
    /// `taken_at`. Consistent: no write lands half in it.
    async fn save_snapshot(&self, name: &str, taken_at: DateTime<Utc>) -> StoreResult<()>;
    /// Replaces all the data with snapshot `name`'s, in one transaction: a concurrent request
    /// sees the data before or after, never a mix. `NotFound` if there is no such snapshot;
    /// `Conflict` if it was taken by another version of the schema.
    async fn restore_snapshot(&self, name: &str) -> StoreResult<()>;
    /// Every snapshot, by name.
    async fn list_snapshots(&self) -> StoreResult<Vec<SnapshotInfo>>;
    /// Deletes snapshot `name`; `NotFound` if there is none.
    async fn delete_snapshot(&self, name: &str) -> StoreResult<()>;
}
