//! Sandbox namespaces: a practice and a provider made for one test run, deleted afterwards with
//! everything that refers to them.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::StoreResult;
use crate::model::Practice;

/// A registered namespace.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NamespaceRecord {
    /// Its name (lower-case letters, digits, `-` and `_`).
    pub name: String,
    /// Its number, 1 to [`MAX_NAMESPACES`](crate::admin::MAX_NAMESPACES): the lowest free when
    /// it was made. Its practice's ODS code and its patients' NHS numbers derive from it.
    pub number: u32,
    /// Its practice's ODS code.
    pub ods: String,
    /// Its provider, once registered.
    pub provider_id: Option<String>,
    /// When it was made.
    pub created_at: DateTime<Utc>,
}

/// The namespace registry, and deletion of a namespace's data.
#[async_trait]
pub trait NamespaceStore: Send + Sync {
    /// Registers namespace `name` under the lowest number from 1 to `max` that no namespace
    /// holds and whose ODS code (`ods_of(number)`) no practice has, and stores `practice` under
    /// that code, in one transaction. `Conflict` if the name is taken or no number is free.
    async fn create_namespace(
        &self,
        name: &str,
        created_at: DateTime<Utc>,
        practice: &Practice,
        ods_of: fn(u32) -> String,
        max: u32,
    ) -> StoreResult<NamespaceRecord>;
    /// Records the namespace's provider; `NotFound` if there is no such namespace.
    async fn set_namespace_provider(&self, name: &str, provider_id: &str) -> StoreResult<()>;
    /// Every namespace, by name.
    async fn namespaces(&self) -> StoreResult<Vec<NamespaceRecord>>;
    /// Deletes namespace `name` in one transaction: its practice, its provider, every row that
    /// refers to either (directly or through other rows, found from the schema's foreign
    /// keys), and its registration. `NotFound` if there is no such namespace.
    async fn delete_namespace(&self, name: &str) -> StoreResult<()>;
}
