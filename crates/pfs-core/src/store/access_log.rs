//! The patient-visible record access log (`ListRecordAccesses`).

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::StoreResult;
use crate::model::*;

/// The patient-visible record access log (`ListRecordAccesses`).
#[async_trait]
pub trait AccessLogStore: Send + Sync {
    /// Appends an entry to a patient's access log.
    async fn insert_record_access(&self, access: &RecordAccess) -> StoreResult<()>;
    /// Appends several entries in one transaction (the reads written behind their replies).
    /// An entry of a patient who no longer exists (a sandbox namespace deleted while its
    /// requests were still being answered) is dropped, so that it cannot fail the others.
    async fn insert_record_accesses(&self, accesses: &[RecordAccess]) -> StoreResult<()>;
    /// A patient's access log entries in `[from, to)`, oldest first.
    async fn record_accesses(
        &self,
        patient_id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<Vec<RecordAccess>>;
}
