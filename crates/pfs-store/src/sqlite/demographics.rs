//! Contact details and demographics changes: [`DemographicsStore`].

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use pfs_core::model::{
    ChangeStatus, ContactDetails, ContactWrite, DemographicsChangeRecord, RecordAccess,
};
use pfs_core::store::{DemographicsStore, StoreError, StoreResult};
use rusqlite::{Connection, Row, TransactionBehavior, params};

use super::SqliteStore;
use super::access_log::insert_record_access;
use super::sql::{Cols, execute, map_err, ms, query_all, query_opt};

/// Selects a change's columns (as read by `change_row`).
macro_rules! select_changes {
    ($rest:literal) => {
        concat!(
            "SELECT id, patient_id, requested_by, requested_at, change, status, status_at,
                    practice_comment
             FROM demographics_changes ",
            $rest
        )
    };
}

fn encode(document: Result<String, serde_json::Error>) -> StoreResult<String> {
    document.map_err(|_| StoreError::Other("cannot encode a document".into()))
}

fn change_row(row: &Row<'_>) -> StoreResult<DemographicsChangeRecord> {
    let c = Cols::new(row, "demographics_changes");
    Ok(DemographicsChangeRecord {
        id: c.get(0, "id")?,
        patient_id: c.get(1, "patient_id")?,
        requested_by: c.get(2, "requested_by")?,
        requested_at: c.instant(3, "requested_at")?,
        change: serde_json::from_str(c.text(4, "change")?)
            .map_err(|_| c.corrupt("change", "not a change document"))?,
        status: c
            .text(5, "status")?
            .parse()
            .map_err(|_| c.corrupt("status", "not a change status"))?,
        status_at: c.instant(6, "status_at")?,
        practice_comment: c.get(7, "practice_comment")?,
    })
}

fn details_row(row: &Row<'_>) -> StoreResult<ContactDetails> {
    let c = Cols::new(row, "contact_details");
    serde_json::from_str(c.text(0, "details")?)
        .map_err(|_| c.corrupt("details", "not a contact details document"))
}

/// Writes a patient's contact details and one-line address; `NotFound` if no such patient.
fn write_details(c: &Connection, write: &ContactWrite) -> StoreResult<()> {
    let changed = execute(
        c,
        "patients",
        "UPDATE patients SET address = ?2 WHERE id = ?1",
        params![write.patient_id, write.one_line_address],
    )?;
    if changed == 0 {
        return Err(StoreError::NotFound("patient".into()));
    }
    execute(
        c,
        "contact_details",
        "INSERT INTO contact_details (patient_id, details, updated_at) VALUES (?1, ?2, ?3)
         ON CONFLICT (patient_id) DO UPDATE
         SET details = excluded.details, updated_at = excluded.updated_at",
        params![
            write.patient_id,
            encode(serde_json::to_string(&write.details))?,
            ms(write.at)
        ],
    )?;
    Ok(())
}

#[async_trait]
impl DemographicsStore for SqliteStore {
    async fn contact_details(&self, patient_id: &str) -> StoreResult<Option<ContactDetails>> {
        self.read(|c| {
            query_opt(
                c,
                "contact_details",
                "SELECT details FROM contact_details WHERE patient_id = ?1",
                [patient_id],
                details_row,
            )
        })
    }

    async fn set_contact_details(
        &self,
        write: &ContactWrite,
        log: &RecordAccess,
    ) -> StoreResult<()> {
        self.write(|c| {
            let tx = c
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(map_err("contact_details"))?;
            write_details(&tx, write)?;
            insert_record_access(&tx, log)?;
            tx.commit().map_err(map_err("contact_details"))
        })
        .await
    }

    async fn insert_demographics_change(
        &self,
        change: &DemographicsChangeRecord,
        write: Option<&ContactWrite>,
        log: &RecordAccess,
    ) -> StoreResult<()> {
        let document = encode(serde_json::to_string(&change.change))?;
        self.write(|c| {
            let tx = c
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(map_err("demographics_changes"))?;
            execute(
                &tx,
                "demographics_changes",
                "UPDATE demographics_changes SET status = 'Superseded', status_at = ?2
                 WHERE patient_id = ?1 AND status = 'PendingApproval'",
                params![change.patient_id, ms(change.requested_at)],
            )?;
            execute(
                &tx,
                "demographics_changes",
                "INSERT INTO demographics_changes
                     (id, seq, patient_id, requested_by, requested_at, change, status,
                      status_at, practice_comment)
                 VALUES (?1, (SELECT COALESCE(MAX(seq), 0) + 1 FROM demographics_changes),
                         ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    change.id,
                    change.patient_id,
                    change.requested_by,
                    ms(change.requested_at),
                    document,
                    change.status.as_str(),
                    ms(change.status_at),
                    change.practice_comment,
                ],
            )?;
            if let Some(write) = write {
                write_details(&tx, write)?;
            }
            insert_record_access(&tx, log)?;
            tx.commit().map_err(map_err("demographics_changes"))
        })
        .await
    }

    async fn settle_demographics_change(
        &self,
        id: &str,
        status: ChangeStatus,
        at: DateTime<Utc>,
        comment: Option<&str>,
        write: Option<&ContactWrite>,
        log: &RecordAccess,
    ) -> StoreResult<bool> {
        self.write(|c| {
            let tx = c
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(map_err("demographics_changes"))?;
            let changed = execute(
                &tx,
                "demographics_changes",
                "UPDATE demographics_changes
                 SET status = ?2, status_at = ?3, practice_comment = ?4
                 WHERE id = ?1 AND status = 'PendingApproval'",
                params![id, status.as_str(), ms(at), comment],
            )?;
            if changed == 0 {
                return Ok(false);
            }
            if let Some(write) = write {
                write_details(&tx, write)?;
            }
            insert_record_access(&tx, log)?;
            tx.commit().map_err(map_err("demographics_changes"))?;
            Ok(true)
        })
        .await
    }

    async fn demographics_change(&self, id: &str) -> StoreResult<Option<DemographicsChangeRecord>> {
        self.read(|c| {
            query_opt(
                c,
                "demographics_changes",
                select_changes!("WHERE id = ?1"),
                [id],
                change_row,
            )
        })
    }

    async fn demographics_changes(
        &self,
        patient_id: &str,
        limit: u32,
    ) -> StoreResult<Vec<DemographicsChangeRecord>> {
        self.read(|c| {
            query_all(
                c,
                "demographics_changes",
                select_changes!(
                    "WHERE patient_id = ?1 ORDER BY requested_at DESC, seq DESC LIMIT ?2"
                ),
                params![patient_id, limit],
                change_row,
            )
        })
    }

    async fn pending_demographics_changes(
        &self,
        ods: &str,
    ) -> StoreResult<Vec<DemographicsChangeRecord>> {
        self.read(|c| {
            query_all(
                c,
                "demographics_changes",
                "SELECT d.id, d.patient_id, d.requested_by, d.requested_at, d.change, d.status,
                        d.status_at, d.practice_comment
                 FROM demographics_changes d JOIN patients p ON p.id = d.patient_id
                 WHERE d.status = 'PendingApproval' AND p.ods = ?1
                 ORDER BY d.requested_at, d.seq",
                [ods],
                change_row,
            )
        })
    }
}
