//! GP practices and their settings.

use async_trait::async_trait;

use super::StoreResult;
use crate::model::*;

/// GP practices and their settings.
#[async_trait]
pub trait PracticeStore: Send + Sync {
    /// Adds a practice; `Conflict` if the ODS code exists.
    async fn insert_practice(&self, practice: &Practice) -> StoreResult<()>;
    /// The practice with this ODS code.
    async fn practice(&self, ods: &str) -> StoreResult<Option<Practice>>;
    /// Every practice, by ODS code.
    async fn list_practices(&self) -> StoreResult<Vec<Practice>>;
    /// Replaces a practice's settings; false if no such practice.
    async fn update_practice_settings(
        &self,
        ods: &str,
        settings: &PracticeSettings,
    ) -> StoreResult<bool>;
}
