//! Proxy grants (one user acting for another patient): [`ProxyStore`].

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use pfs_core::model::Patient;
use pfs_core::store::*;

use super::PostgresStore;
use super::patient::patient_row;
use super::sql::{execute, ms, present, query_all, query_opt};

#[async_trait]
impl ProxyStore for PostgresStore {
    async fn grant_proxy(
        &self,
        grantee_id: &str,
        patient_id: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        // Idempotent: a repeated grant keeps the first grant's time.
        execute(
            &self.db,
            "proxy_grants",
            "INSERT INTO proxy_grants (grantee_id, patient_id, granted_at) VALUES ($1, $2, $3)
             ON CONFLICT (grantee_id, patient_id) DO NOTHING",
            &[&grantee_id, &patient_id, &ms(at)],
        )
        .await?;
        Ok(())
    }

    async fn revoke_proxy(&self, grantee_id: &str, patient_id: &str) -> StoreResult<bool> {
        Ok(execute(
            &self.db,
            "proxy_grants",
            "DELETE FROM proxy_grants WHERE grantee_id = $1 AND patient_id = $2",
            &[&grantee_id, &patient_id],
        )
        .await?
            > 0)
    }

    async fn proxy_patients(&self, grantee_id: &str) -> StoreResult<Vec<Patient>> {
        query_all(
            &self.db,
            "proxy_grants",
            "SELECT p.id, p.ods, p.nhs_number, p.title, p.first_name, p.last_name,
                    to_char(p.date_of_birth, 'YYYY-MM-DD'), p.gender, p.address
             FROM proxy_grants g JOIN patients p ON p.id = g.patient_id
             WHERE g.grantee_id = $1 AND g.patient_id <> g.grantee_id
             ORDER BY g.patient_id",
            &[&grantee_id],
            patient_row,
        )
        .await
    }

    async fn has_proxy(&self, grantee_id: &str, patient_id: &str) -> StoreResult<bool> {
        Ok(query_opt(
            &self.db,
            "proxy_grants",
            "SELECT 1 FROM proxy_grants WHERE grantee_id = $1 AND patient_id = $2",
            &[&grantee_id, &patient_id],
            present,
        )
        .await?
        .is_some())
    }
}
