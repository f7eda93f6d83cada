//! The applications linked to an online account: [`AccountInfoStore`].

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use pfs_core::model::{LinkedApp, RecordAccess};
use pfs_core::store::{AccountInfoStore, StoreResult};
use rusqlite::{Row, TransactionBehavior, params};

use super::SqliteStore;
use super::access_log::insert_record_access;
use super::sql::{Cols, execute, map_err, ms, query_all};

fn linked_row(row: &Row<'_>) -> StoreResult<LinkedApp> {
    let c = Cols::new(row, "provider_links");
    Ok(LinkedApp {
        provider_id: c.get(0, "provider_id")?,
        name: c.get(1, "name")?,
        linked_at: c.instant(2, "linked_at")?,
        last_used_at: c.opt_instant(3, "last_used_at")?,
    })
}

#[async_trait]
impl AccountInfoStore for SqliteStore {
    async fn linked_applications(&self, account_id: &str) -> StoreResult<Vec<LinkedApp>> {
        self.read(|c| {
            query_all(
                c,
                "provider_links",
                "SELECT l.provider_id, p.name, l.linked_at, l.last_used_at
                 FROM provider_links l JOIN providers p ON p.id = l.provider_id
                 WHERE l.account_id = ?1
                 ORDER BY l.linked_at, p.name, l.provider_id",
                [account_id],
                linked_row,
            )
        })
    }

    async fn record_application_use(
        &self,
        account_id: &str,
        provider_id: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.write(|c| {
            execute(
                c,
                "provider_links",
                "UPDATE provider_links SET last_used_at = ?3
                 WHERE account_id = ?1 AND provider_id = ?2",
                params![account_id, provider_id, ms(at)],
            )
        })
        .await?;
        Ok(())
    }

    async fn unlink_applications(
        &self,
        account_id: &str,
        provider_id: Option<&str>,
        at: DateTime<Utc>,
        log: &RecordAccess,
    ) -> StoreResult<Vec<String>> {
        self.write(|c| {
            let tx = c
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(map_err("provider_links"))?;
            let gone: Vec<String> = query_all(
                &tx,
                "provider_links",
                "DELETE FROM provider_links
                 WHERE account_id = ?1 AND (?2 IS NULL OR provider_id = ?2)
                 RETURNING provider_id",
                params![account_id, provider_id],
                |row| Cols::new(row, "provider_links").get(0, "provider_id"),
            )?;
            if gone.is_empty() {
                return Ok(gone);
            }
            for p in &gone {
                execute(
                    &tx,
                    "sessions",
                    "UPDATE sessions SET ended_at = ?3
                     WHERE account_id = ?1 AND provider_id = ?2 AND ended_at IS NULL",
                    params![account_id, p, ms(at)],
                )?;
            }
            execute(
                &tx,
                "linkage_keys",
                "DELETE FROM linkage_keys WHERE account_id = ?1",
                [account_id],
            )?;
            insert_record_access(&tx, log)?;
            tx.commit().map_err(map_err("provider_links"))?;
            Ok(gone)
        })
        .await
    }
}
