//! Messaging calls of a [`Session`]: recipients, the patient's messages, sending (with
//! attachments from bytes or files), marking read, the unread count and deleting. Attachments
//! are fetched with `RequestBinaryData` by the `binaryDataId` `MessagesView` lists.

use std::path::Path;

use pfs_wire::{
    MessageAttachment, MessageCreate, MessageCreateReply, MessageDelete, MessageDeleteReply,
    MessageMarkAsRead, MessageMarkAsReadReply, MessageRecipients, MessageRecipientsReply,
    MessageTo, MessagesView, MessagesViewReply, UnreadMessageCount,
};

use crate::error::{Error, Result};
use crate::session::Session;

/// A message to send with [`Session::message_create`].
#[derive(Clone, PartialEq, Eq)]
pub struct NewMessage {
    /// The recipient: `MessageTo::Recipient(id)` or `MessageTo::UnitRecipient(id)`, as
    /// `MessageRecipients` lists them.
    pub to: MessageTo,
    /// The text.
    pub text: String,
    /// The conversation this message replies within (`None` starts one).
    pub conversation_id: Option<String>,
    /// The files, in order.
    pub attachments: Vec<MessageAttachment>,
}

impl std::fmt::Debug for NewMessage {
    // The text is the patient's: print its length only (attachments print their type and size).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewMessage")
            .field("to", &self.to)
            .field("text_chars", &self.text.chars().count())
            .field("conversation_id", &self.conversation_id)
            .field("attachments", &self.attachments)
            .finish()
    }
}

impl NewMessage {
    /// A message starting a conversation with `to`.
    pub fn new(to: MessageTo, text: impl Into<String>) -> Self {
        NewMessage {
            to,
            text: text.into(),
            conversation_id: None,
            attachments: Vec::new(),
        }
    }

    /// Sends it within the conversation `conversation_id` (a reply).
    pub fn in_conversation(mut self, conversation_id: impl Into<String>) -> Self {
        self.conversation_id = Some(conversation_id.into());
        self
    }

    /// Attaches `bytes` as a file named `file_name` of type `file_type` (an extension such as
    /// `pdf`, `jpg` or `png`).
    pub fn attach_bytes(
        mut self,
        file_name: impl Into<String>,
        file_type: impl Into<String>,
        bytes: &[u8],
    ) -> Self {
        self.attachments
            .push(MessageAttachment::from_bytes(file_name, file_type, bytes));
        self
    }

    /// Attaches the file at `path`: its name and its extension (as the type) are the path's.
    pub fn attach_file(self, path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let (name, file_type) = file_name_and_type(path)?;
        let bytes = std::fs::read(path)
            .map_err(|e| Error::Config(format!("cannot read the attachment file: {e}")))?;
        Ok(self.attach_bytes(name, file_type, &bytes))
    }
}

/// A path's file name and its extension in lower case.
pub fn file_name_and_type(path: &Path) -> Result<(String, String)> {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| Error::Config("the attachment path has no file name".into()))?;
    let file_type = path
        .extension()
        .and_then(|e| e.to_str())
        .ok_or_else(|| Error::Config("the attachment file name has no extension".into()))?;
    Ok((name.to_owned(), file_type.to_ascii_lowercase()))
}

impl Session {
    /// `MessageRecipients`: the people and teams of the practice the patient may write to.
    ///
    /// A read: retried after transient failures under the retry policy. Errors (besides `3` and
    /// `9010`): `6`.
    pub async fn message_recipients(&self) -> Result<MessageRecipientsReply> {
        let req = MessageRecipients {
            header: self.header(),
            scope: self.scope(),
        };
        self.request(&req).await
    }

    /// `MessagesView`: every undeleted message of the selected patient's conversations.
    ///
    /// A read: retried after transient failures under the retry policy. Errors (besides `3` and
    /// `9010`): `6`.
    pub async fn messages_view(&self) -> Result<MessagesViewReply> {
        let req = MessagesView {
            header: self.header(),
            scope: self.scope(),
        };
        self.request(&req).await
    }

    /// `MessageCreate`: sends a message (with its attachments) to the practice.
    ///
    /// A write: retried only when it certainly was not processed (see
    /// [`RetryPolicy`](crate::RetryPolicy)). Errors (besides `3` and `9010`): `9043`, `9044`
    /// (text), `9049`, `9050`, `9046`, `9048`, `24`, `9047` (attachments), `9041` (recipient),
    /// `9042` (conversation), `6`.
    pub async fn message_create(&self, message: &NewMessage) -> Result<MessageCreateReply> {
        let req = MessageCreate {
            header: self.header(),
            scope: self.scope(),
            message: message.text.clone(),
            to: message.to.clone(),
            conversation_id: message.conversation_id.clone(),
            attachments: message.attachments.clone(),
        };
        self.request(&req).await
    }

    /// `MessageMarkAsRead`: marks the messages read (all, or none if one is not the patient's).
    ///
    /// Idempotent: retried after transient failures under the retry policy. Errors (besides `3` and
    /// `9010`): `9045` (nothing changed), `6`.
    pub async fn message_mark_as_read(
        &self,
        message_ids: &[&str],
    ) -> Result<MessageMarkAsReadReply> {
        let req = MessageMarkAsRead {
            header: self.header(),
            scope: self.scope(),
            message_ids: message_ids.iter().map(|s| (*s).to_owned()).collect(),
        };
        self.request(&req).await
    }

    /// `UnreadMessageCount`: how many messages from the practice are unread.
    ///
    /// A read: retried after transient failures under the retry policy. Errors (besides `3` and
    /// `9010`): `6`.
    pub async fn unread_message_count(&self) -> Result<u32> {
        let req = UnreadMessageCount {
            header: self.header(),
            scope: self.scope(),
        };
        Ok(self.request(&req).await?.count)
    }

    /// `MessageDelete`: deletes the messages (all, or none if one is not the patient's).
    ///
    /// A write: retried only when it certainly was not processed (see
    /// [`RetryPolicy`](crate::RetryPolicy)). Errors (besides `3` and `9010`): `9045` (nothing
    /// deleted), `6`.
    pub async fn message_delete(&self, message_ids: &[&str]) -> Result<MessageDeleteReply> {
        let req = MessageDelete {
            header: self.header(),
            scope: self.scope(),
            message_ids: message_ids.iter().map(|s| (*s).to_owned()).collect(),
        };
        self.request(&req).await
    }
}
