//! Stored files: record documents and message attachments, one store for both
//! (`RequestBinaryData`).
//!
//! The bytes live in the database (a BLOB / bytea per page), so every instance on one
//! PostgreSQL database serves every file, and a file is written in the same transaction as
//! what refers to it. A file is read one page at a time, so serving it never holds more than
//! one page of it besides the reply being written.

use async_trait::async_trait;

use super::StoreResult;
use crate::model::*;

/// Stored files (see the module documentation).
#[async_trait]
pub trait BinaryDataStore: Send + Sync {
    /// Stores a file with its pages (a practice upload; messages store their attachments with
    /// the message). [`crate::StoreError::Conflict`] if the id is taken.
    async fn insert_binary_data(&self, data: &NewBinaryData) -> StoreResult<()>;
    /// A file's description, without its bytes.
    async fn binary_data_info(&self, id: &str) -> StoreResult<Option<BinaryDataInfo>>;
    /// One page's bytes; `page` counts from 1.
    async fn binary_data_page(&self, id: &str, page: u32) -> StoreResult<Option<Vec<u8>>>;
    /// Adds a page to a file that is still uploading; false if there is no such file or it
    /// is complete.
    async fn append_binary_page(&self, id: &str, page: &[u8]) -> StoreResult<bool>;
    /// Marks an uploading file complete; false if there is no such file.
    async fn complete_binary_data(&self, id: &str) -> StoreResult<bool>;
}
