//! The applications linked to an online account: [`AccountInfoStore`].
//!
//! Unlinking is one statement: a data-modifying CTE deletes the links, ends the sessions those
//! applications opened, deletes the account's linkage key and writes the access log, and
//! answers the provider ids unlinked.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use pfs_core::model::{LinkedApp, RecordAccess};
use pfs_core::store::{AccountInfoStore, StoreResult};
use tokio_postgres::Row;

use super::sql::{AccessParams, Cols, execute, ms, query_all};
use super::{Params, PostgresStore};

fn linked_row(row: &Row) -> StoreResult<LinkedApp> {
    let c = Cols::new(row, "provider_links");
    Ok(LinkedApp {
        provider_id: c.get(0, "provider_id")?,
        name: c.get(1, "name")?,
        linked_at: c.instant(2, "linked_at")?,
        last_used_at: c.opt_instant(3, "last_used_at")?,
    })
}

#[async_trait]
impl AccountInfoStore for PostgresStore {
    async fn linked_applications(&self, account_id: &str) -> StoreResult<Vec<LinkedApp>> {
        query_all(
            &self.db,
            "provider_links",
            "SELECT l.provider_id, p.name, l.linked_at, l.last_used_at
             FROM provider_links l JOIN providers p ON p.id = l.provider_id
             WHERE l.account_id = $1
             ORDER BY l.linked_at, p.name, l.provider_id",
            &[&account_id],
            linked_row,
        )
        .await
    }

    async fn record_application_use(
        &self,
        account_id: &str,
        provider_id: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        execute(
            &self.db,
            "provider_links",
            "UPDATE provider_links SET last_used_at = $3
             WHERE account_id = $1 AND provider_id = $2",
            &[&account_id, &provider_id, &ms(at)],
        )
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
        let at = ms(at);
        let access = AccessParams::new(log);
        let [a1, a2, a3, a4, a5, a6] = access.params();
        let params: Params = &[&account_id, &provider_id, &at, a1, a2, a3, a4, a5, a6];
        let sql = "WITH gone AS (
                 DELETE FROM provider_links
                 WHERE account_id = $1 AND ($2::text IS NULL OR provider_id = $2::text)
                 RETURNING provider_id),
             ended AS (
                 UPDATE sessions SET ended_at = $3
                 WHERE account_id = $1 AND ended_at IS NULL
                   AND provider_id IN (SELECT provider_id FROM gone)),
             key AS (
                 DELETE FROM linkage_keys
                 WHERE account_id = $1 AND EXISTS (SELECT 1 FROM gone)),
             log AS (
                 INSERT INTO record_accesses
                     (patient_id, at_ms, accessed_by, organisation, access_type, method)
                 SELECT $4, $5, $6, $7, $8, $9 WHERE EXISTS (SELECT 1 FROM gone))
             SELECT provider_id FROM gone";
        let rows = self
            .db
            .write("provider_links", async |c| {
                let st = c.statement(sql).await?;
                c.client.query(&st, params).await
            })
            .await?;
        rows.iter()
            .map(|r| Cols::new(r, "provider_links").get(0, "provider_id"))
            .collect()
    }
}
