//! The patient-visible record access log: reads are logged behind their replies.
//!
//! Every write of a patient's data logs its entry in the same transaction as the write (the
//! store does it with the change). A read cannot afford a commit of its own on the hot path, so
//! its entry goes to the group writer ([`crate::group_commit`]) and the reply goes out at once;
//! the entry is committed within the linger, with every other read's waiting at the time. What
//! a crash can lose is the last linger of read entries (docs/operations.md).

use std::future::Future;
use std::pin::Pin;

use crate::error::DomainError;
use crate::model::RecordAccess;
use crate::operation::Call;
use crate::{Pfs, Store, StoreResult};

impl Pfs {
    /// Logs a read of a patient's data, behind the reply (see the module documentation).
    pub async fn log_read(&self, entry: RecordAccess) -> Result<(), DomainError> {
        if !self.config.log_reads {
            return Ok(());
        }
        self.read_log.write_behind(&self.store, entry).await?;
        Ok(())
    }

    /// Logs an online read of the selected patient's data: `access_type` names what was read,
    /// e.g. `Viewed record`.
    pub(crate) async fn log_online_read(
        &self,
        call: &Call<'_>,
        access_type: &str,
    ) -> Result<(), DomainError> {
        if !self.config.log_reads {
            return Ok(());
        }
        let context = call.patient()?;
        let entry = self
            .online_access(
                call.session()?,
                call.caller,
                &context.patient,
                &context.practice,
                access_type,
            )
            .await?;
        self.log_read(entry).await
    }
}

/// Writes a group of read entries (see [`crate::group_commit`]).
pub(crate) fn write_reads<'a>(
    store: &'a dyn Store,
    entries: &'a [RecordAccess],
) -> Pin<Box<dyn Future<Output = StoreResult<()>> + Send + 'a>> {
    store.insert_record_accesses(entries)
}
