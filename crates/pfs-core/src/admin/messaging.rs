//! Messaging on the practice side: the recipients patients may write to, the inbox (per
//! practice or per recipient, unread first), reading a conversation with its attachments,
//! replying (with attachments), and marking patients' messages read.

use std::collections::HashMap;

use pfs_wire::{MessageAttachment, RecipientKind};
use serde::{Deserialize, Serialize};

use super::{AdminError, non_empty, ods_code, xml_safe};
use crate::Pfs;
use crate::messaging::{MESSAGE_ID_DIGITS, check_attachments, check_text};
use crate::model::*;
use crate::secrets::{Attempt, with_fresh_id};

/// Longest recipient name, in characters.
pub const MAX_RECIPIENT_NAME: usize = 100;

/// Most messages one inbox listing returns.
pub const INBOX_LIMIT: u32 = 500;

/// A new recipient.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NewMessageRecipient {
    /// `Recipient` (a person) or `UnitRecipient` (a team).
    pub kind: String,
    /// The name patients see.
    pub name: String,
    /// Whether patients may write to them (default yes).
    #[serde(default)]
    pub enabled: Option<bool>,
}

/// A change to a recipient; absent fields stay as they are.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, rename_all = "camelCase")]
pub struct RecipientChange {
    /// A new name.
    pub name: Option<String>,
    /// Whether patients may write to them.
    pub enabled: Option<bool>,
}

/// A message as the practice sees it: the stored message and its patient.
#[derive(Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PracticeMessage {
    /// The message.
    #[serde(flatten)]
    pub message: Message,
    /// The patient's name.
    pub patient_name: String,
}

impl std::fmt::Debug for PracticeMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PracticeMessage")
            .field("message", &self.message)
            .finish_non_exhaustive()
    }
}

/// A reply from a recipient of the practice to a conversation.
#[derive(Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PracticeReply {
    /// The recipient (person or team) the reply comes from.
    pub from_recipient_id: String,
    /// The text.
    pub text: String,
    /// Files, each with `fileName`, `fileType` and its bytes as base64 `content`.
    #[serde(default)]
    pub attachments: Vec<ReplyAttachment>,
}

impl std::fmt::Debug for PracticeReply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PracticeReply")
            .field("from_recipient_id", &self.from_recipient_id)
            .field("attachments", &self.attachments.len())
            .finish_non_exhaustive()
    }
}

/// A file of a practice reply.
#[derive(Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReplyAttachment {
    /// The file name.
    pub file_name: String,
    /// The type (extension).
    pub file_type: String,
    /// The bytes, base64.
    pub content: String,
}

impl Pfs {
    async fn messaging_practice(&self, ods: &str) -> Result<Practice, AdminError> {
        self.store
            .practice(&ods_code(ods))
            .await?
            .ok_or_else(|| AdminError::NotFound("practice".into()))
    }

    async fn practice_recipient(
        &self,
        practice: &Practice,
        id: &str,
    ) -> Result<MessageRecipient, AdminError> {
        self.store
            .message_recipient(id.trim())
            .await?
            .filter(|r| r.ods == practice.ods)
            .ok_or_else(|| AdminError::NotFound("message recipient".into()))
    }

    /// Adds a recipient to a practice, with a fresh id.
    pub async fn add_message_recipient(
        &self,
        ods: &str,
        input: NewMessageRecipient,
    ) -> Result<MessageRecipient, AdminError> {
        let practice = self.messaging_practice(ods).await?;
        let kind: RecipientKind =
            input.kind.trim().parse().map_err(|()| {
                AdminError::Invalid("kind must be Recipient or UnitRecipient".into())
            })?;
        let name = check_recipient_name(&input.name)?;
        let added = with_fresh_id(MESSAGE_ID_DIGITS, |id| {
            let r = MessageRecipient {
                id,
                ods: practice.ods.clone(),
                kind,
                name: name.clone(),
                enabled: input.enabled.unwrap_or(true),
            };
            async move {
                match self.store.insert_message_recipient(&r).await {
                    Ok(()) => Ok(Attempt::Done(r)),
                    Err(crate::StoreError::Conflict(_)) => Ok(Attempt::IdTaken),
                    Err(e) => Err(AdminError::from(e)),
                }
            }
        })
        .await?;
        added.ok_or_else(|| AdminError::Store("no free recipient id".into()))
    }

    /// A practice's recipients, enabled or not.
    pub async fn list_message_recipients(
        &self,
        ods: &str,
    ) -> Result<Vec<MessageRecipient>, AdminError> {
        let practice = self.messaging_practice(ods).await?;
        Ok(self.store.message_recipients(&practice.ods).await?)
    }

    /// Renames a recipient, or turns patient messages to them on or off.
    pub async fn update_message_recipient(
        &self,
        ods: &str,
        id: &str,
        change: RecipientChange,
    ) -> Result<MessageRecipient, AdminError> {
        let practice = self.messaging_practice(ods).await?;
        let r = self.practice_recipient(&practice, id).await?;
        let name = change
            .name
            .as_deref()
            .map(check_recipient_name)
            .transpose()?;
        self.store
            .update_message_recipient(&r.id, name.as_deref(), change.enabled)
            .await?
            .ok_or_else(|| AdminError::NotFound("message recipient".into()))
    }

    async fn with_patient_names(
        &self,
        messages: Vec<Message>,
    ) -> Result<Vec<PracticeMessage>, AdminError> {
        let mut names: HashMap<String, String> = HashMap::new();
        let mut out = Vec::with_capacity(messages.len());
        for m in messages {
            let name = match names.get(&m.patient_id) {
                Some(n) => n.clone(),
                None => {
                    let n = self
                        .store
                        .patient(&m.patient_id)
                        .await?
                        .map(|p| p.display_name())
                        .unwrap_or_default();
                    names.insert(m.patient_id.clone(), n.clone());
                    n
                }
            };
            out.push(PracticeMessage {
                message: m,
                patient_name: name,
            });
        }
        Ok(out)
    }

    /// The practice's messages from patients, to one recipient or to any: unread first, then
    /// newest first (at most [`INBOX_LIMIT`]).
    pub async fn message_inbox(
        &self,
        ods: &str,
        recipient_id: Option<&str>,
    ) -> Result<Vec<PracticeMessage>, AdminError> {
        let practice = self.messaging_practice(ods).await?;
        let recipient = match recipient_id {
            Some(id) => Some(self.practice_recipient(&practice, id).await?.id),
            None => None,
        };
        let messages = self
            .store
            .practice_inbox(&practice.ods, recipient.as_deref(), INBOX_LIMIT)
            .await?;
        self.with_patient_names(messages).await
    }

    /// Every message of a conversation of one of the practice's patients, oldest first, with
    /// its attachments (fetched by id); the reading goes into the patient's access log.
    pub async fn practice_conversation(
        &self,
        ods: &str,
        conversation_id: &str,
    ) -> Result<Vec<PracticeMessage>, AdminError> {
        let practice = self.messaging_practice(ods).await?;
        let (messages, patient) = self.practice_thread(&practice, conversation_id).await?;
        self.store
            .insert_record_access(&practice_access(
                &practice,
                &patient,
                "Practice read messages",
                self.clock.now(),
            ))
            .await?;
        self.with_patient_names(messages).await
    }

    async fn practice_thread(
        &self,
        practice: &Practice,
        conversation_id: &str,
    ) -> Result<(Vec<Message>, Patient), AdminError> {
        let messages = self.store.conversation(conversation_id.trim()).await?;
        let not_found = || AdminError::NotFound("conversation".into());
        let first = messages.first().ok_or_else(not_found)?;
        let patient = self
            .store
            .patient(&first.patient_id)
            .await?
            .filter(|p| p.ods == practice.ods)
            .ok_or_else(not_found)?;
        Ok((messages, patient))
    }

    /// Replies to a conversation from one of the practice's recipients, with files checked as
    /// a patient's are (the practice's types and limits); the reply as stored.
    pub async fn reply_to_conversation(
        &self,
        ods: &str,
        conversation_id: &str,
        reply: PracticeReply,
    ) -> Result<Message, AdminError> {
        let practice = self.messaging_practice(ods).await?;
        let from = self
            .practice_recipient(&practice, &reply.from_recipient_id)
            .await?;
        let text = check_text(&reply.text)?;
        let files = check_attachments(
            &practice.settings,
            &reply
                .attachments
                .iter()
                .map(|a| MessageAttachment {
                    file_name: a.file_name.clone(),
                    file_type: a.file_type.clone(),
                    content: a.content.clone(),
                })
                .collect::<Vec<_>>(),
        )?;
        let (messages, patient) = self.practice_thread(&practice, conversation_id).await?;
        let conversation = messages
            .first()
            .map(|m| m.conversation_id.clone())
            .unwrap_or_default();
        let now = self.clock.now();
        let mut log = practice_access(&practice, &patient, "Practice replied to message", now);
        log.accessed_by = from.name.clone();
        let message = Message {
            id: String::new(),
            conversation_id: conversation,
            patient_id: patient.id.clone(),
            sent_at: now,
            text,
            incoming: false,
            sender: from.name.clone(),
            recipient: patient.display_name(),
            recipient_id: from.id.clone(),
            sent_by: None,
            read_at: None,
            deleted_at: None,
            attachments: Vec::new(),
        };
        Ok(self.store_message(message, files, &log).await?)
    }

    /// Marks patients' messages to the practice read: all of them, or none if an id names no
    /// undeleted message of the practice's patients.
    pub async fn practice_mark_messages_read(
        &self,
        ods: &str,
        ids: &[String],
    ) -> Result<(), AdminError> {
        let practice = self.messaging_practice(ods).await?;
        if ids.is_empty() {
            return Err(AdminError::Invalid("messageIds must not be empty".into()));
        }
        let ids: Vec<String> = ids.iter().map(|i| i.trim().to_owned()).collect();
        if !self
            .store
            .mark_messages_read(
                MessageOwner::Practice(&practice.ods),
                &ids,
                self.clock.now(),
                None,
            )
            .await?
        {
            return Err(AdminError::NotFound("message".into()));
        }
        Ok(())
    }
}

fn practice_access(
    practice: &Practice,
    patient: &Patient,
    access_type: &str,
    at: chrono::DateTime<chrono::Utc>,
) -> RecordAccess {
    RecordAccess {
        patient_id: patient.id.clone(),
        at,
        accessed_by: practice.name.clone(),
        organisation: practice.name.clone(),
        access_type: access_type.to_owned(),
        method: "Practice".to_owned(),
    }
}

fn check_recipient_name(name: &str) -> Result<String, AdminError> {
    non_empty("name", name)?;
    xml_safe("name", name)?;
    let name = name.trim();
    if name.chars().count() > MAX_RECIPIENT_NAME {
        return Err(AdminError::Invalid(format!(
            "name is longer than {MAX_RECIPIENT_NAME} characters"
        )));
    }
    Ok(name.to_owned())
}

/// An attachment as the practice downloads it.
#[derive(Clone)]
pub struct AttachmentFile {
    /// Its description.
    pub info: BinaryDataInfo,
    /// Its bytes (every page, in order).
    pub bytes: Vec<u8>,
}

impl std::fmt::Debug for AttachmentFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AttachmentFile")
            .field("id", &self.info.id)
            .field("size", &self.bytes.len())
            .finish_non_exhaustive()
    }
}

impl Pfs {
    /// A message attachment of one of the practice's patients, with its bytes.
    pub async fn practice_attachment(
        &self,
        ods: &str,
        binary_data_id: &str,
    ) -> Result<AttachmentFile, AdminError> {
        let practice = self.messaging_practice(ods).await?;
        let not_found = || AdminError::NotFound("attachment".into());
        let info = self
            .store
            .binary_data_info(binary_data_id.trim())
            .await?
            .filter(|i| i.kind == BinaryKind::Attachment)
            .ok_or_else(not_found)?;
        self.store
            .patient(&info.patient_id)
            .await?
            .filter(|p| p.ods == practice.ods)
            .ok_or_else(not_found)?;
        let mut bytes = Vec::with_capacity(usize::try_from(info.size).unwrap_or(0));
        for page in 1..=info.pages {
            bytes.extend(
                self.store
                    .binary_data_page(&info.id, page)
                    .await?
                    .ok_or_else(not_found)?,
            );
        }
        Ok(AttachmentFile { info, bytes })
    }
}

impl Pfs {
    /// Records a message from a patient to one of their practice's recipients, as if sent
    /// online by the patient themselves (for demo data and tools; patients use
    /// `MessageCreate`). No attachments.
    pub async fn add_patient_message(
        &self,
        patient_id: &str,
        recipient_id: &str,
        text: &str,
    ) -> Result<Message, AdminError> {
        let patient = self
            .store
            .patient(patient_id.trim())
            .await?
            .ok_or_else(|| AdminError::NotFound("patient".into()))?;
        let practice = self.messaging_practice(&patient.ods).await?;
        let to = self.practice_recipient(&practice, recipient_id).await?;
        let text = check_text(text)?;
        let now = self.clock.now();
        let mut log = practice_access(&practice, &patient, "Sent message", now);
        log.accessed_by = patient.display_name();
        log.method = "Online".to_owned();
        let message = Message {
            id: String::new(),
            conversation_id: String::new(),
            patient_id: patient.id.clone(),
            sent_at: now,
            text,
            incoming: true,
            sender: patient.display_name(),
            recipient: to.name.clone(),
            recipient_id: to.id.clone(),
            sent_by: Some(patient.id.clone()),
            read_at: None,
            deleted_at: None,
            attachments: Vec::new(),
        };
        Ok(self.store_message(message, Vec::new(), &log).await?)
    }
}
