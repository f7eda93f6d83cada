//! Proxy grants (acting for another patient): [`ProxyStore`] and the proxy-grant reads.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use pfs_core::model::Patient;
use pfs_core::store::{ProxyStore, StoreResult};
use rusqlite::{Connection, params};

use super::SqliteStore;
use super::patient::patient_row;
use super::sql::{execute, ms, present, query_all, query_opt};

/// Whether `grantee_id` holds a proxy grant for `patient_id`.
fn read_has_proxy(c: &Connection, grantee_id: &str, patient_id: &str) -> StoreResult<bool> {
    let found = query_opt(
        c,
        "proxy_grants",
        "SELECT 1 FROM proxy_grants WHERE grantee_id = ?1 AND patient_id = ?2",
        [grantee_id, patient_id],
        present,
    )?;
    Ok(found.is_some())
}

/// The patients a grantee may act for (not themselves). A constant for a test: it is the
/// statement SQLite re-prepares on every bind unless the QPSG is on.
pub(super) const PROXY_PATIENTS: &str =
    "SELECT p.id, p.ods, p.nhs_number, p.title, p.first_name, p.last_name,
            p.date_of_birth, p.gender, p.address
     FROM proxy_grants g JOIN patients p ON p.id = g.patient_id
     WHERE g.grantee_id = ?1 AND g.patient_id <> g.grantee_id
     ORDER BY g.patient_id";

impl SqliteStore {
    /// Whether `grantee_id` holds a proxy grant for `patient_id` (never for themself): the
    /// copy in [`super::hot`] when it is current, else read in `c`'s transaction and kept,
    /// tagged with `read_at` (the write generation taken before that transaction began).
    pub(super) fn proxy_in(
        &self,
        c: &Connection,
        grantee_id: &str,
        patient_id: &str,
        read_at: u64,
    ) -> StoreResult<bool> {
        if grantee_id == patient_id {
            return Ok(false);
        }
        let hot = &self.inner.hot;
        if let Some(held) = hot.proxy(grantee_id, patient_id, read_at) {
            return Ok(held);
        }
        let held = read_has_proxy(c, grantee_id, patient_id)?;
        hot.keep_proxy(grantee_id, patient_id, read_at, held);
        Ok(held)
    }
}

#[async_trait]
impl ProxyStore for SqliteStore {
    async fn grant_proxy(
        &self,
        grantee_id: &str,
        patient_id: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        // Idempotent: a repeated grant keeps the first grant's time.
        self.write(|c| {
            execute(
                c,
                "proxy_grants",
                "INSERT INTO proxy_grants (grantee_id, patient_id, granted_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (grantee_id, patient_id) DO NOTHING",
                params![grantee_id, patient_id, ms(at)],
            )
        })
        .await?;
        Ok(())
    }

    async fn revoke_proxy(&self, grantee_id: &str, patient_id: &str) -> StoreResult<bool> {
        let changed = self
            .write(|c| {
                execute(
                    c,
                    "proxy_grants",
                    "DELETE FROM proxy_grants WHERE grantee_id = ?1 AND patient_id = ?2",
                    [grantee_id, patient_id],
                )
            })
            .await?;
        Ok(changed > 0)
    }

    async fn proxy_patients(&self, grantee_id: &str) -> StoreResult<Vec<Patient>> {
        self.read(|c| query_all(c, "proxy_grants", PROXY_PATIENTS, [grantee_id], patient_row))
    }

    async fn has_proxy(&self, grantee_id: &str, patient_id: &str) -> StoreResult<bool> {
        let read_at = self.inner.hot.generation();
        if let Some(held) = self.inner.hot.proxy(grantee_id, patient_id, read_at) {
            return Ok(held);
        }
        self.read(|c| self.proxy_in(c, grantee_id, patient_id, read_at))
    }
}
