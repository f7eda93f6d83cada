//! Practices and their settings: [`PracticeStore`].

use async_trait::async_trait;
use pfs_core::model::{Practice, PracticeSettings};
use pfs_core::store::*;
use tokio_postgres::Row;

use super::PostgresStore;
use super::sql::{Cols, execute, query_all, query_opt};

fn practice_row(row: &Row) -> StoreResult<Practice> {
    practice_at(row, 0)
}

pub(super) fn practice_at(row: &Row, offset: usize) -> StoreResult<Practice> {
    let c = Cols {
        offset,
        ..Cols::new(row, "practices")
    };
    let settings: String = c.get(3, "settings")?;
    Ok(Practice {
        ods: c.get(0, "ods")?,
        name: c.get(1, "name")?,
        address: c.get(2, "address")?,
        settings: serde_json::from_str(&settings)
            .map_err(|_| c.corrupt("settings", "not valid settings JSON"))?,
    })
}

pub(super) fn settings_json(settings: &PracticeSettings) -> StoreResult<String> {
    serde_json::to_string(settings)
        .map_err(|_| StoreError::Other("practices.settings: cannot encode".into()))
}

#[async_trait]
impl PracticeStore for PostgresStore {
    async fn insert_practice(&self, practice: &Practice) -> StoreResult<()> {
        execute(
            &self.db,
            "practices",
            "INSERT INTO practices (ods, name, address, settings)
             VALUES ($1, $2, $3, $4::text::jsonb)",
            &[
                &practice.ods,
                &practice.name,
                &practice.address,
                &settings_json(&practice.settings)?,
            ],
        )
        .await?;
        Ok(())
    }

    async fn practice(&self, ods: &str) -> StoreResult<Option<Practice>> {
        query_opt(
            &self.db,
            "practices",
            "SELECT ods, name, address, settings::text FROM practices WHERE ods = $1",
            &[&ods],
            practice_row,
        )
        .await
    }

    async fn list_practices(&self) -> StoreResult<Vec<Practice>> {
        query_all(
            &self.db,
            "practices",
            "SELECT ods, name, address, settings::text FROM practices ORDER BY ods",
            &[],
            practice_row,
        )
        .await
    }

    async fn update_practice_settings(
        &self,
        ods: &str,
        settings: &PracticeSettings,
    ) -> StoreResult<bool> {
        Ok(execute(
            &self.db,
            "practices",
            "UPDATE practices SET settings = $2::text::jsonb WHERE ods = $1",
            &[&ods, &settings_json(settings)?],
        )
        .await?
            > 0)
    }
}
