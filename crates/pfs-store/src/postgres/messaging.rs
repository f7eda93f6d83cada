//! Messaging: [`MessagingStore`].
//!
//! Every change but one is one statement: a new message with its access-log entry is a
//! data-modifying CTE; marking read and deleting check, in the same statement, that every id
//! names a message of the owner, and change nothing otherwise. A message with attachments is
//! one transaction ([`Db::transaction`](super::Db::transaction)): the message, then each file
//! (megabytes each, written as the binary-data store writes them), then the rows naming them.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use pfs_core::model::{
    Message, MessageAttachmentInfo, MessageOwner, MessageRecipient, NewBinaryData, RecordAccess,
};
use pfs_core::store::{MessagingStore, StoreError, StoreResult};
use tokio_postgres::Row;

use super::binary_data::insert_binary_data;
use super::sql::{AccessParams, Cols, execute, ms, opt_ms, query_all, query_opt};
use super::{Params, PostgresStore};

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

fn recipient_row(row: &Row) -> StoreResult<MessageRecipient> {
    let c = Cols::new(row, "message_recipients");
    let kind: String = c.get(2, "kind")?;
    Ok(MessageRecipient {
        id: c.get(0, "id")?,
        ods: c.get(1, "ods")?,
        kind: kind
            .parse()
            .map_err(|()| c.corrupt("kind", "unknown kind"))?,
        name: c.get(3, "name")?,
        enabled: c.get(4, "enabled")?,
    })
}

type MessageRow = (Message, Option<MessageAttachmentInfo>);

fn message_row(row: &Row) -> StoreResult<MessageRow> {
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

/// Inserts the message ($1–$12) and the access-log entry ($13–$18).
const INSERT_MESSAGE: &str = "WITH message AS (
         INSERT INTO messages (id, conversation_id, patient_id, sent_at, text, incoming, sender,
                               recipient, recipient_id, sent_by, read_at, deleted_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)),
     log AS (
         INSERT INTO record_accesses
             (patient_id, at_ms, accessed_by, organisation, access_type, method)
         SELECT $13, $14, $15, $16, $17, $18
         WHERE EXISTS (SELECT 1 FROM patients WHERE id = $13))
     SELECT 1";

/// Names a message's files ($2, in order) as its attachments.
const INSERT_ATTACHMENTS: &str =
    "INSERT INTO message_attachments (message_id, position, binary_data_id)
     SELECT $1, f.position - 1, f.id
     FROM unnest($2::text[]) WITH ORDINALITY AS f(id, position)";

/// Checks that every id ($1) names an undeleted message of the patient ($2) and, if so,
/// marks read at $3 those the patient receives, appending the log ($5–$10) when $4; answers
/// whether it did.
const PATIENT_MARK_READ: &str = "WITH owned AS (
         SELECT count(*) = cardinality($1::text[]) AS ok FROM messages
         WHERE id = ANY($1) AND patient_id = $2 AND deleted_at IS NULL),
     marked AS (
         UPDATE messages SET read_at = $3
         WHERE id = ANY($1) AND NOT incoming AND read_at IS NULL AND (SELECT ok FROM owned)),
     log AS (
         INSERT INTO record_accesses
             (patient_id, at_ms, accessed_by, organisation, access_type, method)
         SELECT $5, $6, $7, $8, $9, $10 WHERE $4 AND (SELECT ok FROM owned))
     SELECT ok FROM owned";

/// As [`PATIENT_MARK_READ`] for the practice $2: the patients' messages to its recipients.
const PRACTICE_MARK_READ: &str = "WITH owned AS (
         SELECT count(*) = cardinality($1::text[]) AS ok FROM messages m
         JOIN message_recipients r ON r.id = m.recipient_id
         WHERE m.id = ANY($1) AND r.ods = $2),
     marked AS (
         UPDATE messages SET read_at = $3
         WHERE id = ANY($1) AND incoming AND read_at IS NULL AND (SELECT ok FROM owned)),
     log AS (
         INSERT INTO record_accesses
             (patient_id, at_ms, accessed_by, organisation, access_type, method)
         SELECT $5, $6, $7, $8, $9, $10 WHERE $4 AND (SELECT ok FROM owned))
     SELECT ok FROM owned";

const DELETE_MESSAGES: &str = "WITH owned AS (
         SELECT count(*) = cardinality($1::text[]) AS ok FROM messages
         WHERE id = ANY($1) AND patient_id = $2 AND deleted_at IS NULL),
     deleted AS (
         UPDATE messages SET deleted_at = $3
         WHERE id = ANY($1) AND patient_id = $2 AND (SELECT ok FROM owned)),
     log AS (
         INSERT INTO record_accesses
             (patient_id, at_ms, accessed_by, organisation, access_type, method)
         SELECT $4, $5, $6, $7, $8, $9 WHERE (SELECT ok FROM owned))
     SELECT ok FROM owned";

#[async_trait]
impl MessagingStore for PostgresStore {
    async fn insert_message_recipient(&self, r: &MessageRecipient) -> StoreResult<()> {
        let kind = r.kind.as_str();
        execute(
            &self.db,
            "message_recipients",
            "INSERT INTO message_recipients (id, ods, kind, name, enabled)
             VALUES ($1, $2, $3, $4, $5)",
            &[&r.id, &r.ods, &kind, &r.name, &r.enabled],
        )
        .await?;
        Ok(())
    }

    async fn update_message_recipient(
        &self,
        id: &str,
        name: Option<&str>,
        enabled: Option<bool>,
    ) -> StoreResult<Option<MessageRecipient>> {
        let row = self
            .db
            .write("message_recipients", async |c| {
                let st = c
                    .statement(
                        "UPDATE message_recipients
                         SET name = coalesce($2, name), enabled = coalesce($3, enabled)
                         WHERE id = $1
                         RETURNING id, ods, kind, name, enabled",
                    )
                    .await?;
                c.client.query_opt(&st, &[&id, &name, &enabled]).await
            })
            .await?;
        row.as_ref().map(recipient_row).transpose()
    }

    async fn message_recipient(&self, id: &str) -> StoreResult<Option<MessageRecipient>> {
        query_opt(
            &self.db,
            "message_recipients",
            "SELECT id, ods, kind, name, enabled FROM message_recipients WHERE id = $1",
            &[&id],
            recipient_row,
        )
        .await
    }

    async fn message_recipients(&self, ods: &str) -> StoreResult<Vec<MessageRecipient>> {
        query_all(
            &self.db,
            "message_recipients",
            "SELECT id, ods, kind, name, enabled FROM message_recipients WHERE ods = $1
             ORDER BY kind = 'UnitRecipient', name, id",
            &[&ods],
            recipient_row,
        )
        .await
    }

    async fn insert_message(
        &self,
        m: &Message,
        files: &[NewBinaryData],
        log: &RecordAccess,
    ) -> StoreResult<()> {
        let sent_at = ms(m.sent_at);
        let read_at = opt_ms(m.read_at);
        let deleted_at = opt_ms(m.deleted_at);
        let access = AccessParams::new(log);
        let [a1, a2, a3, a4, a5, a6] = access.params();
        let params: Params = &[
            &m.id,
            &m.conversation_id,
            &m.patient_id,
            &sent_at,
            &m.text,
            &m.incoming,
            &m.sender,
            &m.recipient,
            &m.recipient_id,
            &m.sent_by,
            &read_at,
            &deleted_at,
            a1,
            a2,
            a3,
            a4,
            a5,
            a6,
        ];
        if files.is_empty() {
            execute(&self.db, "messages", INSERT_MESSAGE, params).await?;
            return Ok(());
        }
        let ids: Vec<&str> = files.iter().map(|f| f.id.as_str()).collect();
        self.db
            .transaction("messages", async |c| {
                let st = c.statement(INSERT_MESSAGE).await?;
                c.client.execute(&st, params).await?;
                for file in files {
                    insert_binary_data(c, file).await?;
                }
                let st = c.statement(INSERT_ATTACHMENTS).await?;
                c.client.execute(&st, &[&m.id, &ids]).await?;
                Ok(())
            })
            .await
    }

    async fn conversation(&self, conversation_id: &str) -> StoreResult<Vec<Message>> {
        query_all(
            &self.db,
            "messages",
            select_messages!("WHERE m.conversation_id = $1 ORDER BY m.sent_at, m.seq, a.position"),
            &[&conversation_id],
            message_row,
        )
        .await
        .map(fold)
    }

    async fn patient_messages(&self, patient_id: &str) -> StoreResult<Vec<Message>> {
        query_all(
            &self.db,
            "messages",
            select_messages!(
                "WHERE m.patient_id = $1 AND m.deleted_at IS NULL
                 ORDER BY m.sent_at, m.seq, a.position"
            ),
            &[&patient_id],
            message_row,
        )
        .await
        .map(fold)
    }

    async fn messages_token(&self, patient_id: &str) -> StoreResult<i64> {
        let token = query_opt(
            &self.db,
            "patients",
            "SELECT messages_token FROM patients WHERE id = $1",
            &[&patient_id],
            |row| Cols::new(row, "patients").get(0, "messages_token"),
        )
        .await?;
        Ok(token.unwrap_or(0))
    }

    async fn patient_messages_with_token(
        &self,
        patient_id: &str,
    ) -> StoreResult<(Option<i64>, Vec<Message>)> {
        // One statement, so one snapshot: the token (an uncorrelated subquery, evaluated once)
        // as the last column of every row, after those `message_row` reads.
        let sql = "SELECT m.id, m.conversation_id, m.patient_id, m.sent_at, m.text, m.incoming,
                    m.sender, m.recipient, m.recipient_id, m.sent_by, m.read_at, m.deleted_at,
                    a.binary_data_id, b.file_name, b.file_type, b.size,
                    (SELECT messages_token FROM patients WHERE id = $1)
             FROM messages m
             LEFT JOIN message_attachments a ON a.message_id = m.id
             LEFT JOIN binary_data b ON b.id = a.binary_data_id
             WHERE m.patient_id = $1 AND m.deleted_at IS NULL
             ORDER BY m.sent_at, m.seq, a.position";
        let rows = self.db.read("messages", sql, &[&patient_id]).await?;
        let mut token = None;
        let mut messages = Vec::with_capacity(rows.len());
        for row in &rows {
            token = Cols::new(row, "patients").get::<Option<i64>>(16, "messages_token")?;
            messages.push(message_row(row)?);
        }
        // No row, no token: an empty list is not worth a second read.
        Ok((token, fold(messages)))
    }

    async fn unread_message_count(&self, patient_id: &str) -> StoreResult<u64> {
        let rows = self
            .db
            .read(
                "messages",
                "SELECT count(*) FROM messages
                 WHERE patient_id = $1 AND NOT incoming AND read_at IS NULL
                   AND deleted_at IS NULL",
                &[&patient_id],
            )
            .await?;
        let n: i64 = rows
            .first()
            .map(|r| Cols::new(r, "messages").get(0, "count"))
            .transpose()?
            .unwrap_or(0);
        u64::try_from(n).map_err(|_| StoreError::Other("messages: bad count".into()))
    }

    async fn mark_messages_read(
        &self,
        owner: MessageOwner<'_>,
        ids: &[String],
        at: DateTime<Utc>,
        log: Option<&RecordAccess>,
    ) -> StoreResult<bool> {
        if ids.is_empty() {
            return Ok(false);
        }
        let at = ms(at);
        let placeholder = RecordAccess {
            patient_id: String::new(),
            at: DateTime::<Utc>::UNIX_EPOCH,
            accessed_by: String::new(),
            organisation: String::new(),
            access_type: String::new(),
            method: String::new(),
        };
        let has_log = log.is_some();
        let access = AccessParams::new(log.unwrap_or(&placeholder));
        let [a1, a2, a3, a4, a5, a6] = access.params();
        let (sql, key) = match owner {
            MessageOwner::Patient(p) => (PATIENT_MARK_READ, p),
            MessageOwner::Practice(ods) => (PRACTICE_MARK_READ, ods),
        };
        let params: Params = &[&ids, &key, &at, &has_log, a1, a2, a3, a4, a5, a6];
        let ok = self
            .db
            .write("messages", async |c| {
                let st = c.statement(sql).await?;
                c.client.query_one(&st, params).await
            })
            .await?;
        Cols::new(&ok, "messages").get(0, "ok")
    }

    async fn delete_messages(
        &self,
        patient_id: &str,
        ids: &[String],
        at: DateTime<Utc>,
        log: &RecordAccess,
    ) -> StoreResult<bool> {
        if ids.is_empty() {
            return Ok(false);
        }
        let at = ms(at);
        let access = AccessParams::new(log);
        let [a1, a2, a3, a4, a5, a6] = access.params();
        let params: Params = &[&ids, &patient_id, &at, a1, a2, a3, a4, a5, a6];
        let ok = self
            .db
            .write("messages", async |c| {
                let st = c.statement(DELETE_MESSAGES).await?;
                c.client.query_one(&st, params).await
            })
            .await?;
        Cols::new(&ok, "messages").get(0, "ok")
    }

    async fn attachment_count(&self, patient_id: &str) -> StoreResult<u64> {
        let rows = self
            .db
            .read(
                "binary_data",
                "SELECT count(*) FROM binary_data WHERE patient_id = $1 AND kind = 'Attachment'",
                &[&patient_id],
            )
            .await?;
        let n: i64 = rows
            .first()
            .map(|r| Cols::new(r, "binary_data").get(0, "count"))
            .transpose()?
            .unwrap_or(0);
        u64::try_from(n).map_err(|_| StoreError::Other("binary_data: bad count".into()))
    }

    async fn practice_inbox(
        &self,
        ods: &str,
        recipient_id: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<Message>> {
        let limit = i64::from(limit);
        query_all(
            &self.db,
            "messages",
            select_messages!(
                "WHERE m.id IN (
                     SELECT i.id FROM messages i
                     JOIN message_recipients r ON r.id = i.recipient_id
                     WHERE i.incoming AND r.ods = $1
                       AND ($2::text IS NULL OR i.recipient_id = $2)
                     ORDER BY i.read_at IS NOT NULL, i.sent_at DESC, i.seq DESC
                     LIMIT $3)
                 ORDER BY m.read_at IS NOT NULL, m.sent_at DESC, m.seq DESC, a.position"
            ),
            &[&ods, &recipient_id, &limit],
            message_row,
        )
        .await
        .map(fold)
    }
}
