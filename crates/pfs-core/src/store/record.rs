//! The patient's record: events and their items, test results, and what each user may see of
//! it online. Every write appends its access-log entry in the same transaction.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::StoreResult;
use crate::model::*;

/// The patient's record (see the module documentation).
#[async_trait]
pub trait RecordStore: Send + Sync {
    /// Stores an event with its items and, for a document's event, its file: all or nothing.
    /// `Conflict` if an id is taken, `NotFound` for an unknown patient.
    async fn insert_record_event(
        &self,
        event: &RecordEvent,
        file: Option<&NewBinaryData>,
        log: &RecordAccess,
    ) -> StoreResult<()>;
    /// Adds an item to an existing event of `patient_id`, with the document's file when it has
    /// one; false (and nothing stored) if there is no such event of that patient.
    async fn insert_record_item(
        &self,
        patient_id: &str,
        event_id: &str,
        item: &RecordItem,
        file: Option<&NewBinaryData>,
        log: &RecordAccess,
    ) -> StoreResult<bool>;
    /// Shows or hides an item online; false if there is no such item of `log`'s patient.
    async fn set_record_item_visible(
        &self,
        item_id: &str,
        visible: bool,
        log: &RecordAccess,
    ) -> StoreResult<bool>;
    /// A patient's events with all their items (hidden ones too), newest first.
    async fn record_events(&self, patient_id: &str) -> StoreResult<Vec<RecordEvent>>;
    /// The patient's record token: a random value that every write to their events or items
    /// replaces in the same transaction (0 for a record never written), so that equal tokens
    /// mean equal records, across instances and sandbox restores. 0 for an unknown patient.
    async fn record_token(&self, patient_id: &str) -> StoreResult<i64>;
    /// [`record_events`](Self::record_events) with the record token they were read at (in
    /// the same read transaction or statement); `None` when the token could not be read with
    /// them (the events must then not be kept under any token).
    async fn record_events_with_token(
        &self,
        patient_id: &str,
    ) -> StoreResult<(Option<i64>, Vec<RecordEvent>)>;
    /// A patient's items of the given types (hidden ones too), with their event's time, newest
    /// first: what the overview needs without reading the whole record.
    async fn record_items_of_types(
        &self,
        patient_id: &str,
        types: &[&str],
    ) -> StoreResult<Vec<(DateTime<Utc>, RecordItem)>>;
    /// The item that holds a document's file, with its patient and event.
    async fn document_item(&self, binary_data_id: &str) -> StoreResult<Option<DocumentItem>>;

    /// Stores a test result. `Conflict` if the id is taken.
    async fn insert_test_result(&self, result: &TestResult, log: &RecordAccess) -> StoreResult<()>;
    /// A patient's test results (hidden ones too) in `[from, to)`, newest first.
    async fn test_results(
        &self,
        patient_id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<Vec<TestResult>>;
    /// One test result.
    async fn test_result(&self, id: &str) -> StoreResult<Option<TestResult>>;
    /// Shows or hides a test result online; false if there is no such result of `log`'s
    /// patient.
    async fn set_test_result_visible(
        &self,
        id: &str,
        visible: bool,
        log: &RecordAccess,
    ) -> StoreResult<bool>;

    /// What `grantee_id` (the patient themself, or a proxy) may see of `patient_id`'s record,
    /// if the practice has set it.
    async fn record_grant(
        &self,
        patient_id: &str,
        grantee_id: &str,
    ) -> StoreResult<Option<RecordGrant>>;
    /// Sets (or, with `None`, clears back to the default) what `grantee_id` may see of
    /// `patient_id`'s record.
    async fn set_record_grant(
        &self,
        patient_id: &str,
        grantee_id: &str,
        grant: Option<RecordGrant>,
        log: &RecordAccess,
    ) -> StoreResult<()>;
}
