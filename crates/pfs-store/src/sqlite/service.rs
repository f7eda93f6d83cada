//! Service switches per practice and per patient: [`ServiceStore`] and the switch row mappers.

use async_trait::async_trait;
use pfs_core::model::ServiceSwitch;
use pfs_core::store::{ServiceStore, StoreResult};
use rusqlite::{Row, params};

use super::SqliteStore;
use super::sql::{Cols, execute, query_all};

// Shared, with patient_switch_row: patient.rs reads both into the patient context.
pub(super) fn practice_switch_row(row: &Row<'_>) -> StoreResult<ServiceSwitch> {
    switch_row(row, "practice_services")
}

pub(super) fn patient_switch_row(row: &Row<'_>) -> StoreResult<ServiceSwitch> {
    switch_row(row, "patient_services")
}

fn switch_row(row: &Row<'_>, table: &'static str) -> StoreResult<ServiceSwitch> {
    let c = Cols::new(row, table);
    Ok(ServiceSwitch {
        service: c.get(0, "service")?,
        enabled: c.get(1, "enabled")?,
    })
}

#[async_trait]
impl ServiceStore for SqliteStore {
    async fn set_practice_service(
        &self,
        ods: &str,
        service: &str,
        enabled: Option<bool>,
    ) -> StoreResult<()> {
        self.write(|c| match enabled {
            Some(enabled) => execute(
                c,
                "practice_services",
                "INSERT INTO practice_services (ods, service, enabled) VALUES (?1, ?2, ?3)
                 ON CONFLICT (ods, service) DO UPDATE SET enabled = excluded.enabled",
                params![ods, service, enabled],
            ),
            None => execute(
                c,
                "practice_services",
                "DELETE FROM practice_services WHERE ods = ?1 AND service = ?2",
                [ods, service],
            ),
        })
        .await?;
        Ok(())
    }

    async fn set_patient_service(
        &self,
        patient_id: &str,
        service: &str,
        enabled: Option<bool>,
    ) -> StoreResult<()> {
        self.write(|c| match enabled {
            Some(enabled) => execute(
                c,
                "patient_services",
                "INSERT INTO patient_services (patient_id, service, enabled) VALUES (?1, ?2, ?3)
                 ON CONFLICT (patient_id, service) DO UPDATE SET enabled = excluded.enabled",
                params![patient_id, service, enabled],
            ),
            None => execute(
                c,
                "patient_services",
                "DELETE FROM patient_services WHERE patient_id = ?1 AND service = ?2",
                [patient_id, service],
            ),
        })
        .await?;
        Ok(())
    }

    async fn practice_services(&self, ods: &str) -> StoreResult<Vec<ServiceSwitch>> {
        self.read(|c| {
            query_all(
                c,
                "practice_services",
                "SELECT service, enabled FROM practice_services WHERE ods = ?1 ORDER BY service",
                [ods],
                practice_switch_row,
            )
        })
    }

    async fn patient_services(&self, patient_id: &str) -> StoreResult<Vec<ServiceSwitch>> {
        self.read(|c| {
            query_all(
                c,
                "patient_services",
                "SELECT service, enabled FROM patient_services WHERE patient_id = ?1
                 ORDER BY service",
                [patient_id],
                patient_switch_row,
            )
        })
    }
}
