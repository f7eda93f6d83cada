//! Providers (the apps that call the API): [`ProviderStore`].

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use pfs_core::model::Provider;
use pfs_core::store::*;
use tokio_postgres::Row;

use super::PostgresStore;
use super::sql::{Cols, ended, execute, ms, opt_ms, query_all, query_opt};

fn provider_row(row: &Row) -> StoreResult<Provider> {
    provider_at(row, 0)
}

/// A provider whose columns start at `offset` (after another table's, in a join).
pub(super) fn provider_at(row: &Row, offset: usize) -> StoreResult<Provider> {
    let c = Cols {
        offset,
        ..Cols::new(row, "providers")
    };
    Ok(Provider {
        id: c.get(0, "id")?,
        name: c.get(1, "name")?,
        fingerprint: c.get(2, "fingerprint")?,
        trusted_identity: c.get(3, "trusted_identity")?,
        created_at: c.instant(4, "created_at")?,
        revoked_at: c.opt_instant(5, "revoked_at")?,
    })
}

#[async_trait]
impl ProviderStore for PostgresStore {
    async fn insert_provider(&self, provider: &Provider) -> StoreResult<()> {
        execute(
            &self.db,
            "providers",
            "INSERT INTO providers
                 (id, name, fingerprint, trusted_identity, created_at, revoked_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
            &[
                &provider.id,
                &provider.name,
                &provider.fingerprint,
                &provider.trusted_identity,
                &ms(provider.created_at),
                &opt_ms(provider.revoked_at),
            ],
        )
        .await?;
        Ok(())
    }

    async fn provider(&self, id: &str) -> StoreResult<Option<Provider>> {
        query_opt(
            &self.db,
            "providers",
            "SELECT id, name, fingerprint, trusted_identity, created_at, revoked_at
             FROM providers WHERE id = $1",
            &[&id],
            provider_row,
        )
        .await
    }

    async fn provider_by_fingerprint(&self, fingerprint: &str) -> StoreResult<Option<Provider>> {
        query_opt(
            &self.db,
            "providers",
            "SELECT id, name, fingerprint, trusted_identity, created_at, revoked_at
             FROM providers WHERE fingerprint = $1",
            &[&fingerprint],
            provider_row,
        )
        .await
    }

    async fn list_providers(&self) -> StoreResult<Vec<Provider>> {
        query_all(
            &self.db,
            "providers",
            "SELECT id, name, fingerprint, trusted_identity, created_at, revoked_at
             FROM providers ORDER BY created_at, id",
            &[],
            provider_row,
        )
        .await
    }

    async fn revoke_provider(&self, id: &str, at: DateTime<Utc>) -> StoreResult<bool> {
        // One statement, so the provider and its open sessions end together.
        let sql = "WITH ended AS (
                 UPDATE providers SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1
                 RETURNING id
             ), closed AS (
                 UPDATE sessions SET ended_at = $2
                 WHERE provider_id IN (SELECT id FROM ended) AND ended_at IS NULL
             )
             SELECT 1 FROM ended";
        ended(&self.db, "providers", sql, id, at).await
    }
}
