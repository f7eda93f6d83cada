//! Practice and patient service switches: [`ServiceStore`].

use async_trait::async_trait;
use pfs_core::model::ServiceSwitch;
use pfs_core::store::*;
use tokio_postgres::Row;

use super::PostgresStore;
use super::sql::{Cols, execute, query_all};

fn practice_switch_row(row: &Row) -> StoreResult<ServiceSwitch> {
    switch_row(row, "practice_services")
}

fn patient_switch_row(row: &Row) -> StoreResult<ServiceSwitch> {
    switch_row(row, "patient_services")
}

fn switch_row(row: &Row, table: &'static str) -> StoreResult<ServiceSwitch> {
    let c = Cols::new(row, table);
    Ok(ServiceSwitch {
        service: c.get(0, "service")?,
        enabled: c.get(1, "enabled")?,
    })
}

#[async_trait]
impl ServiceStore for PostgresStore {
    async fn set_practice_service(
        &self,
        ods: &str,
        service: &str,
        enabled: Option<bool>,
    ) -> StoreResult<()> {
        match enabled {
            Some(enabled) => {
                let sql =
                    "INSERT INTO practice_services (ods, service, enabled) VALUES ($1, $2, $3)
                     ON CONFLICT (ods, service) DO UPDATE SET enabled = excluded.enabled";
                execute(
                    &self.db,
                    "practice_services",
                    sql,
                    &[&ods, &service, &enabled],
                )
                .await?
            }
            None => {
                let sql = "DELETE FROM practice_services WHERE ods = $1 AND service = $2";
                execute(&self.db, "practice_services", sql, &[&ods, &service]).await?
            }
        };
        Ok(())
    }

    async fn set_patient_service(
        &self,
        patient_id: &str,
        service: &str,
        enabled: Option<bool>,
    ) -> StoreResult<()> {
        match enabled {
            Some(enabled) => {
                let sql = "INSERT INTO patient_services (patient_id, service, enabled) VALUES ($1, $2, $3)
                     ON CONFLICT (patient_id, service) DO UPDATE SET enabled = excluded.enabled";
                execute(
                    &self.db,
                    "patient_services",
                    sql,
                    &[&patient_id, &service, &enabled],
                )
                .await?
            }
            None => {
                let sql = "DELETE FROM patient_services WHERE patient_id = $1 AND service = $2";
                execute(&self.db, "patient_services", sql, &[&patient_id, &service]).await?
            }
        };
        Ok(())
    }

    async fn practice_services(&self, ods: &str) -> StoreResult<Vec<ServiceSwitch>> {
        query_all(
            &self.db,
            "practice_services",
            "SELECT service, enabled FROM practice_services WHERE ods = $1 ORDER BY service",
            &[&ods],
            practice_switch_row,
        )
        .await
    }

    async fn patient_services(&self, patient_id: &str) -> StoreResult<Vec<ServiceSwitch>> {
        query_all(
            &self.db,
            "patient_services",
            "SELECT service, enabled FROM patient_services WHERE patient_id = $1
             ORDER BY service",
            &[&patient_id],
            patient_switch_row,
        )
        .await
    }
}
