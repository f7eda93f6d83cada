//! Patient–practice messaging: `MessageRecipients`, `MessagesView`, `MessageCreate`,
//! `MessageMarkAsRead`, `UnreadMessageCount` and `MessageDelete` (wire reference §2.18–2.21,
//! B.6–B.8), and the checks every attachment passes.
//!
//! A conversation's id is the id of its first message. `incoming` is from TPP's point of view:
//! a message from the patient (or a proxy acting for them) to the practice. Each message has one
//! `read` state, its reader's: the practice's for an incoming message, the patient's otherwise;
//! `MessagesView` shows a patient's own messages as read. Attachments are stored in the
//! binary-data store as files of the patient whose conversation holds them, in the same
//! transaction as the message, so `RequestBinaryData` serves them to that patient alone.
//!
//! Attachments are untrusted files: the sender scans them, but the server still refuses what is
//! not what it claims to be. Each must have a safe file name, a type the practice accepts, valid
//! base64, a decoded size within the practice's limit and content that starts with its type's
//! magic number. Any refusal stores nothing at all.

use std::collections::HashMap;

use pfs_wire::{
    AttachmentRef, MAX_ATTACHMENT_BYTES, MAX_ATTACHMENTS, MAX_FILE_NAME, MAX_MESSAGE_TEXT,
    MessageAttachment, MessageCreate, MessageCreateReply, MessageDelete, MessageDeleteReply,
    MessageEntry, MessageMarkAsRead, MessageMarkAsReadReply, MessageRecipients,
    MessageRecipientsReply, MessagesView, MessagesViewReply, RecipientItem, UnreadMessageCount,
    UnreadMessageCountReply, YesNo,
};

use crate::Pfs;
use crate::binary_data::new_binary_id;
use crate::error::DomainError;
use crate::model::*;
use crate::operation::{Access, Call, Operation};
use crate::reply_cache::Part;
use crate::secrets::random_digits;
use crate::uktime::to_wall_clock;

/// The service switch of every messaging message.
pub const SERVICE: &str = "messaging";

/// Digits of a message id (and so of a conversation id) and of a recipient id.
pub const MESSAGE_ID_DIGITS: usize = 12;

/// The file types whose content the server can check, with their magic numbers (any one of the
/// prefixes). A practice may accept only these.
pub const KNOWN_FILE_TYPES: &[(&str, &[&[u8]])] = &[
    ("pdf", &[b"%PDF-"]),
    ("jpg", &[b"\xFF\xD8\xFF"]),
    ("jpeg", &[b"\xFF\xD8\xFF"]),
    ("jpe", &[b"\xFF\xD8\xFF"]),
    ("jfif", &[b"\xFF\xD8\xFF"]),
    ("png", &[b"\x89PNG\r\n\x1A\n"]),
    ("gif", &[b"GIF87a", b"GIF89a"]),
    ("bmp", &[b"BM"]),
    ("tif", &[b"II*\0", b"MM\0*"]),
    ("tiff", &[b"II*\0", b"MM\0*"]),
    ("doc", &[b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1"]),
    ("docx", &[b"PK\x03\x04"]),
    ("rtf", &[b"{\\rtf"]),
];

/// Whether `bytes` start with a magic number of `file_type` (lower case).
pub fn content_matches(file_type: &str, bytes: &[u8]) -> bool {
    KNOWN_FILE_TYPES
        .iter()
        .find(|(t, _)| *t == file_type)
        .is_some_and(|(_, magics)| magics.iter().any(|m| bytes.starts_with(m)))
}

/// Whether the server can check files of `file_type` (lower case).
pub fn is_known_file_type(file_type: &str) -> bool {
    KNOWN_FILE_TYPES.iter().any(|(t, _)| *t == file_type)
}

/// Checks a file name: 1 to [`MAX_FILE_NAME`] characters, no path separator, no control or
/// other character XML cannot carry, not `.` or `..`, no leading or trailing white space.
pub fn check_file_name(name: &str) -> Result<(), DomainError> {
    let bad = DomainError::AttachmentNameInvalid;
    if name.is_empty() || name.chars().count() > MAX_FILE_NAME {
        return Err(bad(
            "an Attachment/@fileName is empty or longer than 255 characters",
        ));
    }
    if name.chars().any(|c| matches!(c, '/' | '\\' | ':')) {
        return Err(bad("an Attachment/@fileName holds a path separator"));
    }
    if name.chars().any(char::is_control) || !pfs_wire::xml::is_xml_text(name) {
        return Err(bad("an Attachment/@fileName holds a control character"));
    }
    if name.trim() != name || name.trim_matches('.').is_empty() {
        return Err(bad(
            "an Attachment/@fileName is only dots or starts or ends with white space",
        ));
    }
    Ok(())
}

/// A checked attachment, ready to store.
#[derive(Debug, Clone)]
pub struct CheckedFile {
    /// The file name.
    pub file_name: String,
    /// The type, lower case.
    pub file_type: String,
    /// The decoded bytes.
    pub bytes: Vec<u8>,
}

/// The most attachments per message and the largest one (bytes) the practice's settings allow,
/// within the wire's own maxima.
pub fn attachment_limits(settings: &PracticeSettings) -> (usize, usize) {
    let count = usize::try_from(settings.max_message_attachments)
        .unwrap_or(MAX_ATTACHMENTS)
        .min(MAX_ATTACHMENTS);
    let bytes = usize::try_from(settings.max_message_attachment_bytes)
        .unwrap_or(MAX_ATTACHMENT_BYTES)
        .min(MAX_ATTACHMENT_BYTES);
    (count, bytes)
}

/// Checks a message's attachments against the practice's settings, in the order a sender can
/// act on: the number, then each file's name, type, base64, size and content.
pub fn check_attachments(
    settings: &PracticeSettings,
    attachments: &[MessageAttachment],
) -> Result<Vec<CheckedFile>, DomainError> {
    let (max_count, max_bytes) = attachment_limits(settings);
    if attachments.len() > max_count {
        return Err(DomainError::TooManyAttachments(
            settings.max_message_attachments.min(MAX_ATTACHMENTS as u32),
        ));
    }
    attachments
        .iter()
        .map(|a| {
            check_file_name(&a.file_name)?;
            let file_type = a.file_type.trim().to_ascii_lowercase();
            if !settings
                .message_attachment_types
                .iter()
                .any(|t| t.eq_ignore_ascii_case(&file_type))
                || !is_known_file_type(&file_type)
            {
                return Err(DomainError::AttachmentTypeNotAllowed);
            }
            let too_large =
                DomainError::AttachmentTooLarge(u32::try_from(max_bytes).unwrap_or(u32::MAX));
            // Refuse a text far beyond the limit before decoding it.
            if a.content.len() > pfs_wire::msg::messaging::base64_len(max_bytes) + 64 * 1024 {
                return Err(too_large);
            }
            let bytes = a.decode_content().ok_or(DomainError::AttachmentNotBase64)?;
            if bytes.len() > max_bytes {
                return Err(too_large);
            }
            if !content_matches(&file_type, &bytes) {
                return Err(DomainError::AttachmentContentMismatch);
            }
            Ok(CheckedFile {
                file_name: a.file_name.clone(),
                file_type,
                bytes,
            })
        })
        .collect()
}

/// Checks a message's text: not empty, at most [`MAX_MESSAGE_TEXT`] characters. The text
/// returned has its surrounding white space removed.
pub fn check_text(text: &str) -> Result<String, DomainError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(DomainError::MessageEmpty);
    }
    if text.chars().count() > MAX_MESSAGE_TEXT {
        return Err(DomainError::MessageTooLong(MAX_MESSAGE_TEXT));
    }
    if !pfs_wire::xml::is_xml_text(text) {
        return Err(DomainError::Decode(pfs_wire::DecodeError::Invalid {
            element: "MessageCreate",
            attr: "message",
            expected: "text XML can carry",
        }));
    }
    Ok(text.to_owned())
}

/// A message's files as binaries of its patient, kind `Attachment`, one page each (the bytes
/// are moved, not copied; ids are given by [`Pfs::store_message`]).
fn binaries(message: &Message, files: Vec<CheckedFile>) -> Vec<NewBinaryData> {
    files
        .into_iter()
        .map(|f| NewBinaryData {
            id: String::new(),
            patient_id: message.patient_id.clone(),
            kind: BinaryKind::Attachment,
            file_name: f.file_name,
            file_type: f.file_type,
            pages: vec![f.bytes],
            uploading: false,
            created_at: message.sent_at,
        })
        .collect()
}

/// How often [`Pfs::store_message`] draws new ids when one is taken.
const FRESH_ID_TRIES: usize = 8;

/// The wire's view of a message, for the patient (its strings moved, not copied: a patient may
/// have hundreds of messages).
pub fn message_entry(m: Message) -> MessageEntry {
    MessageEntry {
        sent: to_wall_clock(m.sent_at),
        incoming: YesNo(m.incoming),
        // The patient's own messages are read; the practice's once the patient marked them.
        read: YesNo(m.incoming || m.read_at.is_some()),
        deleted: YesNo(m.deleted_at.is_some()),
        message_id: m.id,
        conversation_id: m.conversation_id,
        message_text: m.text,
        sender: m.sender,
        recipient: m.recipient,
        attachments: m
            .attachments
            .into_iter()
            .map(|a| AttachmentRef {
                binary_data_id: a.binary_data_id,
                file_name: a.file_name,
                file_type: a.file_type,
            })
            .collect(),
    }
}

/// Orders messages as clients expect: conversations by their latest message, newest first;
/// within a conversation, oldest first. `messages` come oldest first.
pub fn conversation_order(messages: Vec<Message>) -> Vec<Message> {
    let keys: Vec<usize> = {
        let mut latest: HashMap<&str, usize> = HashMap::with_capacity(messages.len());
        for (i, m) in messages.iter().enumerate() {
            latest.insert(m.conversation_id.as_str(), i);
        }
        messages
            .iter()
            .enumerate()
            .map(|(i, m)| latest.get(m.conversation_id.as_str()).copied().unwrap_or(i))
            .collect()
    };
    let mut keyed: Vec<(usize, usize, Message)> = keys
        .into_iter()
        .zip(messages)
        .enumerate()
        .map(|(i, (latest, m))| (latest, i, m))
        .collect();
    keyed.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    keyed.into_iter().map(|(_, _, m)| m).collect()
}

impl Operation for MessageRecipients {
    const ACCESS: Access = Access::Service(SERVICE);
    async fn run(&self, pfs: &Pfs, call: &Call<'_>) -> Result<MessageRecipientsReply, DomainError> {
        pfs.message_recipients(call).await
    }
}

impl Operation for MessagesView {
    const ACCESS: Access = Access::Service(SERVICE);
    async fn run(&self, pfs: &Pfs, call: &Call<'_>) -> Result<MessagesViewReply, DomainError> {
        pfs.messages_view(call).await
    }
}

impl Operation for MessageCreate {
    const ACCESS: Access = Access::Service(SERVICE);
    async fn run(&self, pfs: &Pfs, call: &Call<'_>) -> Result<MessageCreateReply, DomainError> {
        pfs.message_create(call, self).await
    }
}

impl Operation for MessageMarkAsRead {
    const ACCESS: Access = Access::Service(SERVICE);
    async fn run(&self, pfs: &Pfs, call: &Call<'_>) -> Result<MessageMarkAsReadReply, DomainError> {
        pfs.message_mark_as_read(call, self).await
    }
}

impl Operation for UnreadMessageCount {
    const ACCESS: Access = Access::Service(SERVICE);
    async fn run(
        &self,
        pfs: &Pfs,
        call: &Call<'_>,
    ) -> Result<UnreadMessageCountReply, DomainError> {
        pfs.unread_message_count(call).await
    }
}

impl Operation for MessageDelete {
    const ACCESS: Access = Access::Service(SERVICE);
    async fn run(&self, pfs: &Pfs, call: &Call<'_>) -> Result<MessageDeleteReply, DomainError> {
        pfs.message_delete(call, self).await
    }
}

impl Pfs {
    /// Stores a message (its id, and its conversation's when it starts one, fresh) with its
    /// files and `log`, all or nothing; the message as stored. Ids taken already are drawn
    /// again; the files' bytes are never copied.
    pub(crate) async fn store_message(
        &self,
        message: Message,
        files: Vec<CheckedFile>,
        log: &RecordAccess,
    ) -> Result<Message, DomainError> {
        let starts_conversation = message.conversation_id.is_empty();
        let mut m = message;
        let mut files = binaries(&m, files);
        for _ in 0..FRESH_ID_TRIES {
            m.id = random_digits(MESSAGE_ID_DIGITS);
            if starts_conversation {
                m.conversation_id = m.id.clone();
            }
            for f in &mut files {
                f.id = new_binary_id();
            }
            m.attachments = files
                .iter()
                .map(|b| MessageAttachmentInfo {
                    binary_data_id: b.id.clone(),
                    file_name: b.file_name.clone(),
                    file_type: b.file_type.clone(),
                    size: b.size(),
                })
                .collect();
            match self.store.insert_message(&m, &files, log).await {
                Ok(()) => return Ok(m),
                Err(crate::StoreError::Conflict(_)) => continue,
                Err(e) => return Err(DomainError::from(e)),
            }
        }
        Err(DomainError::Unavailable("no free message id".into()))
    }

    /// The name of the session's online user: the patient, or a proxy acting for them.
    async fn online_user_name(
        &self,
        call: &Call<'_>,
        patient: &Patient,
    ) -> Result<String, DomainError> {
        let user = &call.session()?.record.online_user_id;
        if *user == patient.id {
            return Ok(patient.display_name());
        }
        Ok(self
            .store
            .patient(user)
            .await?
            .map(|u| u.display_name())
            .unwrap_or_else(|| "Online user".to_owned()))
    }

    pub(crate) async fn message_recipients(
        &self,
        call: &Call<'_>,
    ) -> Result<MessageRecipientsReply, DomainError> {
        let practice = &call.patient()?.practice;
        let recipients = self.store.message_recipients(&practice.ods).await?;
        self.log_online_read(call, "Viewed message recipients")
            .await?;
        Ok(MessageRecipientsReply {
            scope: None,
            uuid: None,
            items: recipients
                .into_iter()
                .filter(|r| r.enabled)
                .map(|r| RecipientItem {
                    id: r.id,
                    kind: r.kind,
                    name: r.name,
                })
                .collect(),
        })
    }

    /// `MessagesView`: the patient's undeleted messages, by conversation.
    ///
    /// The `Message` elements are encoded once per messages token and kept (`reply_cache.rs`):
    /// unchanged messages cost a read of their token. The access-log entry is written on every
    /// read, cached or not.
    pub(crate) async fn messages_view(
        &self,
        call: &Call<'_>,
    ) -> Result<MessagesViewReply, DomainError> {
        let patient_id = &call.patient()?.patient.id;
        let encoded_messages = self
            .cached_part(
                patient_id,
                Part::Messages,
                self.store.messages_token(patient_id),
                self.store.patient_messages_with_token(patient_id),
                |messages| {
                    MessageEntry::encode_all(
                        conversation_order(messages)
                            .into_iter()
                            .map(message_entry)
                            .collect(),
                    )
                },
            )
            .await?;
        self.log_online_read(call, "Viewed messages").await?;
        Ok(MessagesViewReply {
            encoded_messages,
            ..Default::default()
        })
    }

    pub(crate) async fn message_create(
        &self,
        call: &Call<'_>,
        m: &MessageCreate,
    ) -> Result<MessageCreateReply, DomainError> {
        let context = call.patient()?;
        let patient = &context.patient;
        let practice = &context.practice;
        let text = check_text(&m.message)?;
        let files = check_attachments(&practice.settings, &m.attachments)?;
        let recipient = self
            .store
            .message_recipient(m.to.id().trim())
            .await?
            .filter(|r| r.ods == practice.ods && r.enabled && r.kind == m.to.kind())
            .ok_or(DomainError::RecipientNotFound)?;
        let conversation_id = match &m.conversation_id {
            None => String::new(),
            Some(c) => {
                let conversation = self.store.conversation(c.trim()).await?;
                match conversation.first() {
                    Some(first) if first.patient_id == patient.id => first.conversation_id.clone(),
                    _ => return Err(DomainError::ConversationNotFound),
                }
            }
        };
        let sender = self.online_user_name(call, patient).await?;
        let log = self
            .online_access(
                call.session()?,
                call.caller,
                patient,
                practice,
                "Sent message",
            )
            .await?;
        let message = Message {
            id: String::new(),
            conversation_id,
            patient_id: patient.id.clone(),
            sent_at: self.clock.now(),
            text,
            incoming: true,
            sender,
            recipient: recipient.name.clone(),
            recipient_id: recipient.id.clone(),
            sent_by: Some(call.session()?.record.online_user_id.clone()),
            read_at: None,
            deleted_at: None,
            attachments: Vec::new(),
        };
        let stored = self.store_message(message, files, &log).await?;
        Ok(MessageCreateReply {
            scope: None,
            uuid: None,
            message_id: Some(stored.id),
            conversation_id: Some(stored.conversation_id),
        })
    }

    pub(crate) async fn message_mark_as_read(
        &self,
        call: &Call<'_>,
        m: &MessageMarkAsRead,
    ) -> Result<MessageMarkAsReadReply, DomainError> {
        let context = call.patient()?;
        let log = self
            .online_access(
                call.session()?,
                call.caller,
                &context.patient,
                &context.practice,
                "Read messages",
            )
            .await?;
        let ids = trimmed_ids(&m.message_ids);
        let done = self
            .store
            .mark_messages_read(
                MessageOwner::Patient(&context.patient.id),
                &ids,
                self.clock.now(),
                Some(&log),
            )
            .await?;
        if !done {
            return Err(DomainError::MessageNotFound);
        }
        Ok(MessageMarkAsReadReply::default())
    }

    pub(crate) async fn unread_message_count(
        &self,
        call: &Call<'_>,
    ) -> Result<UnreadMessageCountReply, DomainError> {
        let patient = &call.patient()?.patient;
        let count = self.store.unread_message_count(&patient.id).await?;
        Ok(UnreadMessageCountReply {
            scope: None,
            uuid: None,
            count: u32::try_from(count).unwrap_or(u32::MAX),
        })
    }

    pub(crate) async fn message_delete(
        &self,
        call: &Call<'_>,
        m: &MessageDelete,
    ) -> Result<MessageDeleteReply, DomainError> {
        let context = call.patient()?;
        let log = self
            .online_access(
                call.session()?,
                call.caller,
                &context.patient,
                &context.practice,
                "Deleted messages",
            )
            .await?;
        let ids = trimmed_ids(&m.message_ids);
        if !self
            .store
            .delete_messages(&context.patient.id, &ids, self.clock.now(), &log)
            .await?
        {
            return Err(DomainError::MessageNotFound);
        }
        Ok(MessageDeleteReply::default())
    }
}

/// The ids a request lists, trimmed, each once.
fn trimmed_ids(ids: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(ids.len());
    for id in ids {
        let id = id.trim();
        if !out.iter().any(|o| o == id) {
            out.push(id.to_owned());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> PracticeSettings {
        PracticeSettings::default()
    }

    #[test]
    fn file_names() {
        for ok in ["scan.pdf", "My photo (1).JPG", "a", "résumé.pdf"] {
            assert!(check_file_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "../etc/passwd",
            "a/b.pdf",
            "a\\b.pdf",
            "C:x.pdf",
            "a\u{0}.pdf",
            "a\n.pdf",
            "..",
            ".",
            " a.pdf",
            "a.pdf ",
            "a\u{7}.png",
        ] {
            assert!(
                matches!(
                    check_file_name(bad),
                    Err(DomainError::AttachmentNameInvalid(_))
                ),
                "{bad:?}"
            );
        }
        assert!(check_file_name(&"a".repeat(256)).is_err());
        assert!(check_file_name(&"a".repeat(255)).is_ok());
    }

    fn file(name: &str, ty: &str, bytes: &[u8]) -> MessageAttachment {
        MessageAttachment::from_bytes(name, ty, bytes)
    }

    #[test]
    fn attachments() {
        let pdf = b"%PDF-1.4\n%%EOF\n".to_vec();
        let png = b"\x89PNG\r\n\x1A\nrest".to_vec();
        let jpg = b"\xFF\xD8\xFF\xE0rest".to_vec();
        let ok = check_attachments(
            &settings(),
            &[
                file("a.pdf", "PDF", &pdf),
                file("b.png", "png", &png),
                file("c.jpeg", "jpeg", &jpg),
            ],
        )
        .unwrap();
        assert_eq!(ok[0].file_type, "pdf");
        assert_eq!(ok[0].bytes, pdf);
        let four = vec![file("a.pdf", "pdf", &pdf); 4];
        assert_eq!(
            check_attachments(&settings(), &four).unwrap_err(),
            DomainError::TooManyAttachments(3)
        );
        assert_eq!(
            check_attachments(&settings(), &[file("a.gif", "gif", b"GIF89a")]).unwrap_err(),
            DomainError::AttachmentTypeNotAllowed
        );
        assert_eq!(
            check_attachments(&settings(), &[file("a.exe", "exe", b"MZ")]).unwrap_err(),
            DomainError::AttachmentTypeNotAllowed
        );
        assert_eq!(
            check_attachments(&settings(), &[file("a.pdf", "pdf", &png)]).unwrap_err(),
            DomainError::AttachmentContentMismatch
        );
        assert_eq!(
            check_attachments(&settings(), &[file("a.pdf", "pdf", b"")]).unwrap_err(),
            DomainError::AttachmentContentMismatch
        );
        let mut bad = file("a.pdf", "pdf", &pdf);
        bad.content = "JVBER!i0x".into();
        assert_eq!(
            check_attachments(&settings(), &[bad]).unwrap_err(),
            DomainError::AttachmentNotBase64
        );
        let mut big = b"%PDF-".to_vec();
        big.resize(5 * 1024 * 1024, b'x');
        assert!(check_attachments(&settings(), &[file("a.pdf", "pdf", &big)]).is_ok());
        big.push(b'x');
        assert_eq!(
            check_attachments(&settings(), &[file("a.pdf", "pdf", &big)]).unwrap_err(),
            DomainError::AttachmentTooLarge(5 * 1024 * 1024)
        );
        // A practice may lower the limits, and allow another type it can check.
        let strict = PracticeSettings {
            max_message_attachments: 1,
            max_message_attachment_bytes: 10,
            message_attachment_types: vec!["gif".into()],
            ..settings()
        };
        assert_eq!(
            check_attachments(&strict, &vec![file("a.gif", "gif", b"GIF89a"); 2]).unwrap_err(),
            DomainError::TooManyAttachments(1)
        );
        assert!(check_attachments(&strict, &[file("a.gif", "gif", b"GIF89a")]).is_ok());
        assert_eq!(
            check_attachments(&strict, &[file("a.gif", "gif", b"GIF89a-and-more")]).unwrap_err(),
            DomainError::AttachmentTooLarge(10)
        );
    }

    #[test]
    fn texts() {
        assert_eq!(check_text("  hi  ").unwrap(), "hi");
        assert_eq!(check_text(" \n ").unwrap_err(), DomainError::MessageEmpty);
        assert!(check_text(&"é".repeat(MAX_MESSAGE_TEXT)).is_ok());
        assert_eq!(
            check_text(&"é".repeat(MAX_MESSAGE_TEXT + 1)).unwrap_err(),
            DomainError::MessageTooLong(MAX_MESSAGE_TEXT)
        );
    }

    #[test]
    fn conversations_by_latest_message() {
        let at = |s: i64| chrono::DateTime::from_timestamp(s, 0).unwrap();
        let m = |id: &str, conv: &str, s: i64| Message {
            id: id.into(),
            conversation_id: conv.into(),
            patient_id: "1".into(),
            sent_at: at(s),
            text: String::new(),
            incoming: true,
            sender: String::new(),
            recipient: String::new(),
            recipient_id: String::new(),
            sent_by: None,
            read_at: None,
            deleted_at: None,
            attachments: Vec::new(),
        };
        let ordered = conversation_order(vec![
            m("a", "a", 1),
            m("b", "b", 2),
            m("a2", "a", 3),
            m("c", "c", 4),
        ]);
        let ids: Vec<&str> = ordered.iter().map(|m| m.id.as_str()).collect();
        assert_eq!(ids, ["c", "a", "a2", "b"]);
    }
}
