//! The record-access log: [`AccessLogStore`].

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use pfs_core::model::RecordAccess;
use pfs_core::store::*;
use tokio_postgres::Row;

use super::sql::{AccessGroupParams, AccessParams, Cols, execute, ms, query_all};
use super::{Params, PostgresStore};

/// The grouped insert into the log, `$1`…`$6` the entries' columns ([`AccessGroupParams`]): it
/// keeps only the entries whose patient exists (the table has no foreign key, migration 0015),
/// and numbers the rows in the group's order (`ORDER BY u.ord`; the join with `patients` may
/// return them in any order), so that entries of the same instant are listed as they were
/// logged. A statement may put a data-modifying CTE before it, with parameters from `$7`.
macro_rules! insert_log_group_sql {
    () => {
        "INSERT INTO record_accesses
             (patient_id, at_ms, accessed_by, organisation, access_type, method)
         SELECT u.patient_id, u.at_ms, u.accessed_by, u.organisation, u.access_type, u.method
         FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[])
             WITH ORDINALITY
             AS u(patient_id, at_ms, accessed_by, organisation, access_type, method, ord)
         WHERE EXISTS (SELECT 1 FROM patients p WHERE p.id = u.patient_id)
         ORDER BY u.ord"
    };
}
pub(super) use insert_log_group_sql;

fn record_access_row(row: &Row) -> StoreResult<RecordAccess> {
    let c = Cols::new(row, "record_accesses");
    Ok(RecordAccess {
        patient_id: c.get(0, "patient_id")?,
        at: c.instant(1, "at_ms")?,
        accessed_by: c.get(2, "accessed_by")?,
        organisation: c.get(3, "organisation")?,
        access_type: c.get(4, "access_type")?,
        method: c.get(5, "method")?,
    })
}

#[async_trait]
impl AccessLogStore for PostgresStore {
    async fn insert_record_access(&self, access: &RecordAccess) -> StoreResult<()> {
        // The table has no foreign key (migration 0015): the patient is checked here.
        let sql = "INSERT INTO record_accesses
                 (patient_id, at_ms, accessed_by, organisation, access_type, method)
             SELECT $1, $2, $3, $4, $5, $6
             WHERE EXISTS (SELECT 1 FROM patients WHERE id = $1)";
        let access = AccessParams::new(access);
        match execute(&self.db, "record_accesses", sql, &access.params()).await? {
            0 => Err(StoreError::NotFound("patient".into())),
            _ => Ok(()),
        }
    }

    async fn insert_record_accesses(&self, accesses: &[RecordAccess]) -> StoreResult<()> {
        // One statement for the group, whatever its size.
        let entries: Vec<&RecordAccess> = accesses.iter().collect();
        let group = AccessGroupParams::new(&entries);
        execute(
            &self.db,
            "record_accesses",
            insert_log_group_sql!(),
            &group.params(),
        )
        .await?;
        Ok(())
    }

    async fn record_accesses(
        &self,
        patient_id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<Vec<RecordAccess>> {
        let sql = "SELECT patient_id, at_ms, accessed_by, organisation, access_type, method
             FROM record_accesses
             WHERE patient_id = $1 AND at_ms >= $2 AND at_ms < $3
             ORDER BY at_ms, id";
        let params: Params = &[&patient_id, &ms(from), &ms(to)];
        query_all(&self.db, "record_accesses", sql, params, record_access_row).await
    }
}
