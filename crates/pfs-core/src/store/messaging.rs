//! Patient–practice messaging: the practice's recipients, conversations and their attachments.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::StoreResult;
use crate::model::*;

/// The practices' message recipients and the messages between patients and practices.
#[async_trait]
pub trait MessagingStore: Send + Sync {
    /// Adds a recipient; `Conflict` if its id exists, `NotFound` if the practice does not.
    async fn insert_message_recipient(&self, recipient: &MessageRecipient) -> StoreResult<()>;
    /// Changes a recipient's name and whether patients may write to them; the recipient as now
    /// stored, `None` if there is no such recipient.
    async fn update_message_recipient(
        &self,
        id: &str,
        name: Option<&str>,
        enabled: Option<bool>,
    ) -> StoreResult<Option<MessageRecipient>>;
    /// The recipient with this id.
    async fn message_recipient(&self, id: &str) -> StoreResult<Option<MessageRecipient>>;
    /// The practice's recipients, enabled or not: people first, then teams, each by name then id.
    async fn message_recipients(&self, ods: &str) -> StoreResult<Vec<MessageRecipient>>;
    /// Stores a message, its attachments (`files`, in order: binaries of the message's patient,
    /// each one page) and `log`, in one transaction: all or nothing. `Conflict` if the message
    /// id or a file id is taken. The message's own `attachments` are not read: they are the
    /// files'.
    async fn insert_message(
        &self,
        message: &Message,
        files: &[NewBinaryData],
        log: &RecordAccess,
    ) -> StoreResult<()>;
    /// Every message of the conversation (deleted ones too), oldest first.
    async fn conversation(&self, conversation_id: &str) -> StoreResult<Vec<Message>>;
    /// The patient's messages that are not deleted, oldest first (by time sent, then by the
    /// order they were stored).
    async fn patient_messages(&self, patient_id: &str) -> StoreResult<Vec<Message>>;
    /// The patient's messages token: a random value that every write to their messages or
    /// their messages' attachment rows replaces in the same transaction (0 when none was ever
    /// written), so that equal tokens mean equal messages, across instances and sandbox
    /// restores. 0 for an unknown patient.
    async fn messages_token(&self, patient_id: &str) -> StoreResult<i64>;
    /// [`patient_messages`](Self::patient_messages) with the messages token they were read at
    /// (in the same read transaction or statement); `None` when the token could not be read
    /// with them (the messages must then not be kept under any token).
    async fn patient_messages_with_token(
        &self,
        patient_id: &str,
    ) -> StoreResult<(Option<i64>, Vec<Message>)>;
    /// How many messages to the patient (not incoming) are neither read nor deleted.
    async fn unread_message_count(&self, patient_id: &str) -> StoreResult<u64>;
    /// Marks read at `at` the listed messages that `owner`'s side receives (for a patient the
    /// practice's messages, for a practice the patients' messages) and are not read yet; with
    /// `log`, appends it; in one transaction. Every id must name an undeleted message of
    /// `owner` (a message written by `owner` itself counts, and stays as it is): otherwise
    /// nothing is changed and the answer is `false`.
    async fn mark_messages_read(
        &self,
        owner: MessageOwner<'_>,
        ids: &[String],
        at: DateTime<Utc>,
        log: Option<&RecordAccess>,
    ) -> StoreResult<bool>;
    /// Deletes (marks deleted at `at`) the listed messages of the patient and appends `log`, in
    /// one transaction. Every id must name an undeleted message of the patient: otherwise
    /// nothing is changed and the answer is `false`.
    async fn delete_messages(
        &self,
        patient_id: &str,
        ids: &[String],
        at: DateTime<Utc>,
        log: &RecordAccess,
    ) -> StoreResult<bool>;
    /// How many message attachments (binaries of kind `Attachment`) the patient has: what a
    /// refused message must leave unchanged.
    async fn attachment_count(&self, patient_id: &str) -> StoreResult<u64>;
    /// The practice's incoming messages (from patients), to one recipient or to any: unread
    /// first, then newest first; at most `limit`.
    async fn practice_inbox(
        &self,
        ods: &str,
        recipient_id: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<Message>>;
}
