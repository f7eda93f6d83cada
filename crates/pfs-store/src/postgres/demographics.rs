//! Contact details and demographics changes: [`DemographicsStore`].
//!
//! Every write is one statement: a change (superseding the patient's pending ones, inserting
//! it, storing the details it applies and the access-log entry) and a decision on a pending
//! change are data-modifying CTEs, so each is one transaction and one round trip.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use pfs_core::model::{
    ChangeStatus, ContactDetails, ContactWrite, DemographicsChangeRecord, RecordAccess,
};
use pfs_core::store::{DemographicsStore, StoreError, StoreResult};
use tokio_postgres::Row;

use super::sql::{AccessParams, Cols, execute, ms, query_all, query_opt};
use super::{Params, PostgresStore};

fn encode(document: Result<String, serde_json::Error>) -> StoreResult<String> {
    document.map_err(|_| StoreError::Other("cannot encode a document".into()))
}

fn change_row(row: &Row) -> StoreResult<DemographicsChangeRecord> {
    let c = Cols::new(row, "demographics_changes");
    Ok(DemographicsChangeRecord {
        id: c.get(0, "id")?,
        patient_id: c.get(1, "patient_id")?,
        requested_by: c.get(2, "requested_by")?,
        requested_at: c.instant(3, "requested_at")?,
        change: serde_json::from_str(&c.get::<String>(4, "change")?)
            .map_err(|_| c.corrupt("change", "not a change document"))?,
        status: c
            .get::<String>(5, "status")?
            .parse()
            .map_err(|_| c.corrupt("status", "not a change status"))?,
        status_at: c.instant(6, "status_at")?,
        practice_comment: c.get(7, "practice_comment")?,
    })
}

fn details_row(row: &Row) -> StoreResult<ContactDetails> {
    let c = Cols::new(row, "contact_details");
    serde_json::from_str(&c.get::<String>(0, "details")?)
        .map_err(|_| c.corrupt("details", "not a contact details document"))
}

#[async_trait]
impl DemographicsStore for PostgresStore {
    async fn contact_details(&self, patient_id: &str) -> StoreResult<Option<ContactDetails>> {
        query_opt(
            &self.db,
            "contact_details",
            "SELECT details FROM contact_details WHERE patient_id = $1",
            &[&patient_id],
            details_row,
        )
        .await
    }

    async fn set_contact_details(
        &self,
        write: &ContactWrite,
        log: &RecordAccess,
    ) -> StoreResult<()> {
        let details = encode(serde_json::to_string(&write.details))?;
        let at = ms(write.at);
        let access = AccessParams::new(log);
        let [a1, a2, a3, a4, a5, a6] = access.params();
        let written = execute(
            &self.db,
            "contact_details",
            "WITH pat AS (UPDATE patients SET address = $2 WHERE id = $1 RETURNING id),
             log AS (
                 INSERT INTO record_accesses
                     (patient_id, at_ms, accessed_by, organisation, access_type, method)
                 SELECT $5, $6, $7, $8, $9, $10 WHERE EXISTS (SELECT 1 FROM pat))
             INSERT INTO contact_details (patient_id, details, updated_at)
             SELECT id, $3, $4 FROM pat
             ON CONFLICT (patient_id) DO UPDATE
             SET details = excluded.details, updated_at = excluded.updated_at",
            &[
                &write.patient_id,
                &write.one_line_address,
                &details,
                &at,
                a1,
                a2,
                a3,
                a4,
                a5,
                a6,
            ],
        )
        .await?;
        if written == 0 {
            return Err(StoreError::NotFound("patient".into()));
        }
        Ok(())
    }

    async fn insert_demographics_change(
        &self,
        change: &DemographicsChangeRecord,
        write: Option<&ContactWrite>,
        log: &RecordAccess,
    ) -> StoreResult<()> {
        let document = encode(serde_json::to_string(&change.change))?;
        let requested_at = ms(change.requested_at);
        let status_at = ms(change.status_at);
        let status = change.status.as_str();
        let access = AccessParams::new(log);
        let [a1, a2, a3, a4, a5, a6] = access.params();
        let head: [&(dyn tokio_postgres::types::ToSql + Sync); 13] = [
            &change.id,
            &change.patient_id,
            &change.requested_by,
            &requested_at,
            &document,
            &status,
            &status_at,
            a1,
            a2,
            a3,
            a4,
            a5,
            a6,
        ];
        match write {
            None => {
                execute(
                    &self.db,
                    "demographics_changes",
                    "WITH superseded AS (
                         UPDATE demographics_changes SET status = 'Superseded', status_at = $4
                         WHERE patient_id = $2 AND status = 'PendingApproval'),
                     log AS (
                         INSERT INTO record_accesses
                             (patient_id, at_ms, accessed_by, organisation, access_type, method)
                         SELECT $8, $9, $10, $11, $12, $13
                         WHERE EXISTS (SELECT 1 FROM patients WHERE id = $8))
                     INSERT INTO demographics_changes
                         (id, patient_id, requested_by, requested_at, change, status, status_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                    &head,
                )
                .await?;
            }
            Some(write) => {
                let details = encode(serde_json::to_string(&write.details))?;
                let mut params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = head.to_vec();
                params.push(&details);
                params.push(&write.one_line_address);
                let params: Params = &params;
                execute(
                    &self.db,
                    "demographics_changes",
                    "WITH superseded AS (
                         UPDATE demographics_changes SET status = 'Superseded', status_at = $4
                         WHERE patient_id = $2 AND status = 'PendingApproval'),
                     log AS (
                         INSERT INTO record_accesses
                             (patient_id, at_ms, accessed_by, organisation, access_type, method)
                         SELECT $8, $9, $10, $11, $12, $13
                         WHERE EXISTS (SELECT 1 FROM patients WHERE id = $8)),
                     pat AS (UPDATE patients SET address = $15 WHERE id = $2 RETURNING id),
                     det AS (
                         INSERT INTO contact_details (patient_id, details, updated_at)
                         SELECT id, $14, $4 FROM pat
                         ON CONFLICT (patient_id) DO UPDATE
                         SET details = excluded.details, updated_at = excluded.updated_at)
                     INSERT INTO demographics_changes
                         (id, patient_id, requested_by, requested_at, change, status, status_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                    params,
                )
                .await?;
            }
        }
        Ok(())
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
        let at = ms(at);
        let status = status.as_str();
        let access = AccessParams::new(log);
        let [a1, a2, a3, a4, a5, a6] = access.params();
        // With no write, the details and address parameters are NULL and the CTEs that use
        // them write nothing.
        let details = write
            .map(|w| encode(serde_json::to_string(&w.details)))
            .transpose()?;
        let line = write.map(|w| w.one_line_address.clone());
        let params: Params = &[
            &id, &status, &at, &comment, &details, &line, a1, a2, a3, a4, a5, a6,
        ];
        let settled = execute(
            &self.db,
            "demographics_changes",
            "WITH settled AS (
                 UPDATE demographics_changes
                 SET status = $2, status_at = $3, practice_comment = $4
                 WHERE id = $1 AND status = 'PendingApproval'
                 RETURNING patient_id),
             pat AS (
                 UPDATE patients SET address = $6::text
                 WHERE id IN (SELECT patient_id FROM settled) AND $6::text IS NOT NULL
                 RETURNING id),
             det AS (
                 INSERT INTO contact_details (patient_id, details, updated_at)
                 SELECT id, $5::text, $3 FROM pat
                 ON CONFLICT (patient_id) DO UPDATE
                 SET details = excluded.details, updated_at = excluded.updated_at)
             INSERT INTO record_accesses
                 (patient_id, at_ms, accessed_by, organisation, access_type, method)
             SELECT $7, $8, $9, $10, $11, $12 FROM settled",
            params,
        )
        .await?;
        Ok(settled > 0)
    }

    async fn demographics_change(&self, id: &str) -> StoreResult<Option<DemographicsChangeRecord>> {
        let sql = "SELECT d.id, d.patient_id, d.requested_by, d.requested_at, d.change,
                d.status, d.status_at, d.practice_comment
         FROM demographics_changes d WHERE d.id = $1";
        query_opt(&self.db, "demographics_changes", sql, &[&id], change_row).await
    }

    async fn demographics_changes(
        &self,
        patient_id: &str,
        limit: u32,
    ) -> StoreResult<Vec<DemographicsChangeRecord>> {
        let limit = i64::from(limit);
        query_all(
            &self.db,
            "demographics_changes",
            "SELECT d.id, d.patient_id, d.requested_by, d.requested_at, d.change,
                    d.status, d.status_at, d.practice_comment
             FROM demographics_changes d WHERE d.patient_id = $1
             ORDER BY d.requested_at DESC, d.seq DESC LIMIT $2",
            &[&patient_id, &limit],
            change_row,
        )
        .await
    }

    async fn pending_demographics_changes(
        &self,
        ods: &str,
    ) -> StoreResult<Vec<DemographicsChangeRecord>> {
        query_all(
            &self.db,
            "demographics_changes",
            "SELECT d.id, d.patient_id, d.requested_by, d.requested_at, d.change,
                    d.status, d.status_at, d.practice_comment
             FROM demographics_changes d JOIN patients p ON p.id = d.patient_id
             WHERE d.status = 'PendingApproval' AND p.ods = $1
             ORDER BY d.requested_at, d.seq",
            &[&ods],
            change_row,
        )
        .await
    }
}
