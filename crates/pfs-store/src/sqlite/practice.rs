//! Practices and their settings: [`PracticeStore`] and the practice row mapper.

use async_trait::async_trait;
use pfs_core::model::{Practice, PracticeSettings};
use pfs_core::store::{PracticeStore, StoreError, StoreResult};
use rusqlite::{Row, params};

use super::SqliteStore;
use super::sql::{Cols, execute, query_all, query_opt};

pub(super) fn practice_row(row: &Row<'_>) -> StoreResult<Practice> {
    let c = Cols::new(row, "practices");
    Ok(Practice {
        ods: c.get(0, "ods")?,
        name: c.get(1, "name")?,
        address: c.get(2, "address")?,
        settings: serde_json::from_str(c.text(3, "settings")?)
            .map_err(|_| c.corrupt("settings", "not valid settings JSON"))?,
    })
}

pub(super) fn settings_json(settings: &PracticeSettings) -> StoreResult<String> {
    serde_json::to_string(settings)
        .map_err(|_| StoreError::Other("practices.settings: cannot encode".into()))
}

#[async_trait]
impl PracticeStore for SqliteStore {
    async fn insert_practice(&self, practice: &Practice) -> StoreResult<()> {
        let settings = settings_json(&practice.settings)?;
        self.write(|c| {
            execute(
                c,
                "practices",
                "INSERT INTO practices (ods, name, address, settings) VALUES (?1, ?2, ?3, ?4)",
                params![practice.ods, practice.name, practice.address, settings],
            )
        })
        .await?;
        Ok(())
    }

    async fn practice(&self, ods: &str) -> StoreResult<Option<Practice>> {
        self.read(|c| {
            query_opt(
                c,
                "practices",
                "SELECT ods, name, address, settings FROM practices WHERE ods = ?1",
                [ods],
                practice_row,
            )
        })
    }

    async fn list_practices(&self) -> StoreResult<Vec<Practice>> {
        self.read(|c| {
            query_all(
                c,
                "practices",
                "SELECT ods, name, address, settings FROM practices ORDER BY ods",
                [],
                practice_row,
            )
        })
    }

    async fn update_practice_settings(
        &self,
        ods: &str,
        settings: &PracticeSettings,
    ) -> StoreResult<bool> {
        let settings = settings_json(settings)?;
        let changed = self
            .write(|c| {
                execute(
                    c,
                    "practices",
                    "UPDATE practices SET settings = ?2 WHERE ods = ?1",
                    params![ods, settings],
                )
            })
            .await?;
        Ok(changed > 0)
    }
}
