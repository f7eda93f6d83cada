//! Providers (the client applications): [`ProviderStore`] and the provider row mapper.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use pfs_core::model::Provider;
use pfs_core::store::{ProviderStore, StoreResult};
use rusqlite::{Row, params};

use super::SqliteStore;
use super::sql::{Cols, end_with_sessions, execute, ms, opt_ms, query_all, query_opt};

fn provider_row(row: &Row<'_>) -> StoreResult<Provider> {
    provider_at(row, 0)
}

// Shared: session.rs reads the session joined with its provider.
/// A provider whose columns start at `offset` (after another table's, in a join).
pub(super) fn provider_at(row: &Row<'_>, offset: usize) -> StoreResult<Provider> {
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
impl ProviderStore for SqliteStore {
    async fn insert_provider(&self, provider: &Provider) -> StoreResult<()> {
        self.write(|c| {
            execute(
                c,
                "providers",
                "INSERT INTO providers (id, name, fingerprint, trusted_identity, created_at, revoked_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    provider.id,
                    provider.name,
                    provider.fingerprint,
                    provider.trusted_identity,
                    ms(provider.created_at),
                    opt_ms(provider.revoked_at),
                ],
            )
        })
        .await?;
        Ok(())
    }

    async fn provider(&self, id: &str) -> StoreResult<Option<Provider>> {
        self.read(|c| {
            query_opt(
                c,
                "providers",
                "SELECT id, name, fingerprint, trusted_identity, created_at, revoked_at
                 FROM providers WHERE id = ?1",
                [id],
                provider_row,
            )
        })
    }

    async fn provider_by_fingerprint(&self, fingerprint: &str) -> StoreResult<Option<Provider>> {
        let hot = &self.inner.hot;
        if let Some(provider) = hot.provider(fingerprint) {
            return Ok(provider);
        }
        let read_at = hot.generation();
        let provider = self.read(|c| {
            query_opt(
                c,
                "providers",
                "SELECT id, name, fingerprint, trusted_identity, created_at, revoked_at
                 FROM providers WHERE fingerprint = ?1",
                [fingerprint],
                provider_row,
            )
        })?;
        hot.keep_provider(fingerprint, read_at, &provider);
        Ok(provider)
    }

    async fn list_providers(&self) -> StoreResult<Vec<Provider>> {
        self.read(|c| {
            query_all(
                c,
                "providers",
                "SELECT id, name, fingerprint, trusted_identity, created_at, revoked_at
                 FROM providers ORDER BY created_at, id",
                [],
                provider_row,
            )
        })
    }

    async fn revoke_provider(&self, id: &str, at: DateTime<Utc>) -> StoreResult<bool> {
        self.write(|c| {
            end_with_sessions(
                c,
                "providers",
                "UPDATE providers SET revoked_at = COALESCE(revoked_at, ?2) WHERE id = ?1",
                "UPDATE sessions SET ended_at = ?2 WHERE provider_id = ?1 AND ended_at IS NULL",
                id,
                at,
            )
        })
        .await
    }
}
