//! Messaging: [`MessagingStore`].
//!
//! A message and its attachments are read with one join (a message with several attachments
//! is several rows in a row, folded together). Lists of message ids are bound as one JSON
//! array (`json_each`), so each statement is prepared once whatever the number of ids.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use pfs_core::model::{
    Message, MessageAttachmentInfo, MessageOwner, MessageRecipient, NewBinaryData, RecordAccess,
};
use pfs_core::store::{MessagingStore, StoreError, StoreResult};
use rusqlite::{Connection, Row, TransactionBehavior, params};

use super::SqliteStore;
use super::access_log::insert_record_access;
use super::binary_data::insert_binary_data;
use super::sql::{Cols, execute, map_err, ms, opt_ms, query_all, query_opt};

/// Selects a message's columns and its attachments' (as read by `message_row`).
macro_rules! select_messages {
    ($rest:literal) => {
        concat!(
            "SELECT m.id, m.conversation_id, m.patient_id, m.sent_at, m.text, m.incoming,
                    m.sender, m.recipient, m.recipient_id, m.sent_by, m.read_at, m.deleted_at,
                    a.binary_data_id, b.file_name, b.file_type, b.size
             FROM messages m
             LEFT JOIN message_attachments a ON a.message_id = m.id
             LEFT JOIN binary_data b ON b.id = a.binary_data_id ",
            $rest
        )
    };
}

fn recipient_row(row: &Row<'_>) -> StoreResult<MessageRecipient> {
    let c = Cols::new(row, "message_recipients");
    Ok(MessageRecipient {
        id: c.get(0, "id")?,
        ods: c.get(1, "ods")?,
        kind: c
            .text(2, "kind")?
            .parse()
            .map_err(|()| c.corrupt("kind", "unknown kind"))?,
        name: c.get(3, "name")?,
        enabled: c.get(4, "enabled")?,
    })
}

type MessageRow = (Message, Option<MessageAttachmentInfo>);

fn message_row(row: &Row<'_>) -> StoreResult<MessageRow> {
    let c = Cols::new(row, "messages");
    let message = Message {
        id: c.get(0, "id")?,
        conversation_id: c.get(1, "conversation_id")?,
        patient_id: c.get(2, "patient_id")?,
        sent_at: c.instant(3, "sent_at")?,
        text: c.get(4, "text")?,
        incoming: c.get(5, "incoming")?,
        sender: c.get(6, "sender")?,
        recipient: c.get(7, "recipient")?,
        recipient_id: c.get(8, "recipient_id")?,
        sent_by: c.get(9, "sent_by")?,
        read_at: c.opt_instant(10, "read_at")?,
        deleted_at: c.opt_instant(11, "deleted_at")?,
        attachments: Vec::new(),
    };
    let binary_data_id: Option<String> = c.get(12, "binary_data_id")?;
    let attachment = match binary_data_id {
        None => None,
        Some(binary_data_id) => {
            let size: i64 = c.get(15, "size")?;
            Some(MessageAttachmentInfo {
                binary_data_id,
                file_name: c.get(13, "file_name")?,
                file_type: c.get(14, "file_type")?,
                size: u64::try_from(size).map_err(|_| c.corrupt("size", "negative"))?,
            })
        }
    };
    Ok((message, attachment))
}

/// Folds consecutive rows of one message (one per attachment) into the message.
fn fold(rows: Vec<MessageRow>) -> Vec<Message> {
    let mut out: Vec<Message> = Vec::with_capacity(rows.len());
    for (message, attachment) in rows {
        match out.last_mut() {
            Some(last) if last.id == message.id => last.attachments.extend(attachment),
            _ => {
                let mut message = message;
                message.attachments.extend(attachment);
                out.push(message);
            }
        }
    }
    out
}

/// The patient's undeleted messages, oldest first.
fn read_patient_messages(c: &Connection, patient_id: &str) -> StoreResult<Vec<Message>> {
    query_all(
        c,
        "messages",
        select_messages!(
            "WHERE m.patient_id = ?1 AND m.deleted_at IS NULL
             ORDER BY m.sent_at, m.rowid, a.position"
        ),
        [patient_id],
        message_row,
    )
    .map(fold)
}

/// The patient's messages token (migration 0012); 0 for an unknown patient.
fn read_messages_token(c: &Connection, patient_id: &str) -> StoreResult<i64> {
    Ok(query_opt(
        c,
        "patients",
        "SELECT messages_token FROM patients WHERE id = ?1",
        [patient_id],
        |row| Cols::new(row, "patients").get(0, "messages_token"),
    )?
    .unwrap_or(0))
}

fn ids_json(ids: &[String]) -> StoreResult<String> {
    serde_json::to_string(ids).map_err(|_| StoreError::Other("messages: ids".into()))
}

/// Inserts a message, its files and their attachment rows (the caller's transaction).
fn insert_message(c: &Connection, m: &Message, files: &[NewBinaryData]) -> StoreResult<()> {
    execute(
        c,
        "messages",
        "INSERT INTO messages (id, conversation_id, patient_id, sent_at, text, incoming, sender,
                               recipient, recipient_id, sent_by, read_at, deleted_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        params![
            m.id,
            m.conversation_id,
            m.patient_id,
            ms(m.sent_at),
            m.text,
            m.incoming,
            m.sender,
            m.recipient,
            m.recipient_id,
            m.sent_by,
            opt_ms(m.read_at),
            opt_ms(m.deleted_at),
        ],
    )?;
    for (position, file) in (0i64..).zip(files) {
        insert_binary_data(c, file)?;
        execute(
            c,
            "message_attachments",
            "INSERT INTO message_attachments (message_id, position, binary_data_id)
             VALUES (?1, ?2, ?3)",
            params![m.id, position, file.id],
        )?;
    }
    Ok(())
}

/// How many of the ids name messages `owner` may change.
fn count_owned(c: &Connection, owner: MessageOwner<'_>, ids: &str) -> StoreResult<usize> {
    let n: i64 = match owner {
        MessageOwner::Patient(patient_id) => c
            .prepare_cached(
                "SELECT COUNT(*) FROM messages
                 WHERE id IN (SELECT value FROM json_each(?1)) AND patient_id = ?2
                   AND deleted_at IS NULL",
            )
            .and_then(|mut s| s.query_row(params![ids, patient_id], |r| r.get(0))),
        MessageOwner::Practice(ods) => c
            .prepare_cached(
                "SELECT COUNT(*) FROM messages m
                 JOIN message_recipients r ON r.id = m.recipient_id
                 WHERE m.id IN (SELECT value FROM json_each(?1)) AND r.ods = ?2",
            )
            .and_then(|mut s| s.query_row(params![ids, ods], |r| r.get(0))),
    }
    .map_err(map_err("messages"))?;
    usize::try_from(n).map_err(|_| StoreError::Other("messages: bad count".into()))
}

#[async_trait]
impl MessagingStore for SqliteStore {
    async fn insert_message_recipient(&self, r: &MessageRecipient) -> StoreResult<()> {
        self.write(|c| {
            execute(
                c,
                "message_recipients",
                "INSERT INTO message_recipients (id, ods, kind, name, enabled)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![r.id, r.ods, r.kind.as_str(), r.name, r.enabled],
            )?;
            Ok(())
        })
        .await
    }

    async fn update_message_recipient(
        &self,
        id: &str,
        name: Option<&str>,
        enabled: Option<bool>,
    ) -> StoreResult<Option<MessageRecipient>> {
        self.write(|c| {
            query_opt(
                c,
                "message_recipients",
                "UPDATE message_recipients
                 SET name = coalesce(?2, name), enabled = coalesce(?3, enabled)
                 WHERE id = ?1
                 RETURNING id, ods, kind, name, enabled",
                params![id, name, enabled],
                recipient_row,
            )
        })
        .await
    }

    async fn message_recipient(&self, id: &str) -> StoreResult<Option<MessageRecipient>> {
        self.read(|c| {
            query_opt(
                c,
                "message_recipients",
                "SELECT id, ods, kind, name, enabled FROM message_recipients WHERE id = ?1",
                [id],
                recipient_row,
            )
        })
    }

    async fn message_recipients(&self, ods: &str) -> StoreResult<Vec<MessageRecipient>> {
        self.read(|c| {
            query_all(
                c,
                "message_recipients",
                "SELECT id, ods, kind, name, enabled FROM message_recipients WHERE ods = ?1
                 ORDER BY kind = 'UnitRecipient', name, id",
                [ods],
                recipient_row,
            )
        })
    }

    async fn insert_message(
        &self,
        message: &Message,
        files: &[NewBinaryData],
        log: &RecordAccess,
    ) -> StoreResult<()> {
        self.write(|c| {
            let tx = c
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(map_err("messages"))?;
            insert_message(&tx, message, files)?;
            insert_record_access(&tx, log)?;
            tx.commit().map_err(map_err("messages"))
        })
        .await
    }

    async fn conversation(&self, conversation_id: &str) -> StoreResult<Vec<Message>> {
        self.read(|c| {
            query_all(
                c,
                "messages",
                select_messages!(
                    "WHERE m.conversation_id = ?1 ORDER BY m.sent_at, m.rowid, a.position"
                ),
                [conversation_id],
                message_row,
            )
            .map(fold)
        })
    }

    async fn patient_messages(&self, patient_id: &str) -> StoreResult<Vec<Message>> {
        self.read(|c| read_patient_messages(c, patient_id))
    }

    async fn messages_token(&self, patient_id: &str) -> StoreResult<i64> {
        self.read(|c| read_messages_token(c, patient_id))
    }

    async fn patient_messages_with_token(
        &self,
        patient_id: &str,
    ) -> StoreResult<(Option<i64>, Vec<Message>)> {
        // The token and the rows from the same snapshot.
        self.snapshot("messages", |c| {
            let token = read_messages_token(c, patient_id)?;
            let messages = read_patient_messages(c, patient_id)?;
            Ok((Some(token), messages))
        })
    }

    async fn unread_message_count(&self, patient_id: &str) -> StoreResult<u64> {
        self.read(|c| {
            let n: i64 = c
                .prepare_cached(
                    "SELECT COUNT(*) FROM messages
                     WHERE patient_id = ?1 AND incoming = 0 AND read_at IS NULL
                       AND deleted_at IS NULL",
                )
                .and_then(|mut s| s.query_row([patient_id], |r| r.get(0)))
                .map_err(map_err("messages"))?;
            u64::try_from(n).map_err(|_| StoreError::Other("messages: bad count".into()))
        })
    }

    async fn mark_messages_read(
        &self,
        owner: MessageOwner<'_>,
        ids: &[String],
        at: DateTime<Utc>,
        log: Option<&RecordAccess>,
    ) -> StoreResult<bool> {
        let json = ids_json(ids)?;
        self.write(|c| {
            let tx = c
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(map_err("messages"))?;
            if ids.is_empty() || count_owned(&tx, owner, &json)? != ids.len() {
                return Ok(false);
            }
            // The patient reads the practice's messages; the practice reads the patients'.
            let incoming = matches!(owner, MessageOwner::Practice(_));
            execute(
                &tx,
                "messages",
                "UPDATE messages SET read_at = ?2
                 WHERE id IN (SELECT value FROM json_each(?1)) AND incoming = ?3
                   AND read_at IS NULL",
                params![json, ms(at), incoming],
            )?;
            if let Some(log) = log {
                insert_record_access(&tx, log)?;
            }
            tx.commit().map_err(map_err("messages"))?;
            Ok(true)
        })
        .await
    }

    async fn delete_messages(
        &self,
        patient_id: &str,
        ids: &[String],
        at: DateTime<Utc>,
        log: &RecordAccess,
    ) -> StoreResult<bool> {
        let json = ids_json(ids)?;
        self.write(|c| {
            let tx = c
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(map_err("messages"))?;
            if ids.is_empty()
                || count_owned(&tx, MessageOwner::Patient(patient_id), &json)? != ids.len()
            {
                return Ok(false);
            }
            execute(
                &tx,
                "messages",
                "UPDATE messages SET deleted_at = ?2
                 WHERE id IN (SELECT value FROM json_each(?1)) AND patient_id = ?3",
                params![json, ms(at), patient_id],
            )?;
            insert_record_access(&tx, log)?;
            tx.commit().map_err(map_err("messages"))?;
            Ok(true)
        })
        .await
    }

    async fn attachment_count(&self, patient_id: &str) -> StoreResult<u64> {
        self.read(|c| {
            let n: i64 = c
                .prepare_cached(
                    "SELECT COUNT(*) FROM binary_data
                     WHERE patient_id = ?1 AND kind = 'Attachment'",
                )
                .and_then(|mut s| s.query_row([patient_id], |r| r.get(0)))
                .map_err(map_err("binary_data"))?;
            u64::try_from(n).map_err(|_| StoreError::Other("binary_data: bad count".into()))
        })
    }

    async fn practice_inbox(
        &self,
        ods: &str,
        recipient_id: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<Message>> {
        self.read(|c| {
            query_all(
                c,
                "messages",
                select_messages!(
                    "WHERE m.id IN (
                         SELECT i.id FROM messages i
                         JOIN message_recipients r ON r.id = i.recipient_id
                         WHERE i.incoming = 1 AND r.ods = ?1
                           AND (?2 IS NULL OR i.recipient_id = ?2)
                         ORDER BY i.read_at IS NOT NULL, i.sent_at DESC, i.rowid DESC
                         LIMIT ?3)
                     ORDER BY m.read_at IS NOT NULL, m.sent_at DESC, m.rowid DESC, a.position"
                ),
                params![ods, recipient_id, limit],
                message_row,
            )
            .map(fold)
        })
    }
}
