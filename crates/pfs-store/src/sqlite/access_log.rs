//! The record access log: [`AccessLogStore`], the log row mapper and the insert that bookings
//! and cancellations share.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use pfs_core::model::RecordAccess;
use pfs_core::store::{AccessLogStore, StoreError, StoreResult};
use rusqlite::{Connection, Row, TransactionBehavior, params};

use super::SqliteStore;
use super::sql::{Cols, execute, map_err, ms, query_all};

/// An entry: the foreign key refuses one whose patient does not exist.
const INSERT: &str = "INSERT INTO record_accesses (patient_id, at_ms, accessed_by, organisation,
                                                   access_type, method)
                      VALUES (?1, ?2, ?3, ?4, ?5, ?6)";

// Shared: appointment.rs logs bookings and cancellations in the same transaction.
/// Appends an entry to a patient's access log (`NotFound` if there is no such patient).
pub(super) fn insert_record_access(c: &Connection, access: &RecordAccess) -> StoreResult<()> {
    insert_with(c, INSERT, access)
}

/// Appends an entry written behind its reply: dropped if its patient no longer exists. The
/// foreign key's refusal says so (it fails the statement only, not the transaction), which
/// spares every entry a lookup of its own: an `INSERT … WHERE EXISTS` looked the patient up
/// once for the condition and again for the key.
pub(super) fn insert_record_access_behind(
    c: &Connection,
    access: &RecordAccess,
) -> StoreResult<()> {
    match insert_with(c, INSERT, access) {
        Err(StoreError::NotFound(_)) => Ok(()),
        other => other,
    }
}

fn insert_with(c: &Connection, sql: &str, access: &RecordAccess) -> StoreResult<()> {
    execute(
        c,
        "record_accesses",
        sql,
        params![
            access.patient_id,
            ms(access.at),
            access.accessed_by,
            access.organisation,
            access.access_type,
            access.method,
        ],
    )?;
    Ok(())
}

fn record_access_row(row: &Row<'_>) -> StoreResult<RecordAccess> {
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
impl AccessLogStore for SqliteStore {
    async fn insert_record_access(&self, access: &RecordAccess) -> StoreResult<()> {
        self.write_bookkeeping(|c| insert_record_access(c, access))
            .await
    }

    async fn insert_record_accesses(&self, accesses: &[RecordAccess]) -> StoreResult<()> {
        self.write_bookkeeping(|c| {
            let tx = c
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(map_err("record_accesses"))?;
            for access in accesses {
                insert_record_access_behind(&tx, access)?;
            }
            tx.commit().map_err(map_err("record_accesses"))
        })
        .await
    }

    async fn record_accesses(
        &self,
        patient_id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<Vec<RecordAccess>> {
        self.read(|c| {
            query_all(
                c,
                "record_accesses",
                "SELECT patient_id, at_ms, accessed_by, organisation, access_type, method
                 FROM record_accesses
                 WHERE patient_id = ?1 AND at_ms >= ?2 AND at_ms < ?3
                 ORDER BY at_ms, id",
                params![patient_id, ms(from), ms(to)],
                record_access_row,
            )
        })
    }
}
