//! Patient–practice messaging: `MessageRecipients`, `MessagesView`, `MessageCreate` (with
//! `Attachment` children), `MessageMarkAsRead`, `UnreadMessageCount` and `MessageDelete` (wire
//! reference §2.18–2.21, B.6–B.8).
//!
//! `MessageCreate` is the one request that may be large: its attachments travel as base64 text.
//! It declares its own parsing limits and body size ([`MESSAGE_CREATE_MAX_BODY_BYTES`]), so
//! that the largest valid message is accepted while every other message keeps the small limits.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::NaiveDateTime;

use super::common::{Header, PatientScope, reply_root};
use crate::codec::{DecodeError, Fields, WireMessage, per_patient_request};
use crate::scalar::{Guid, YesNo, format_wall_clock, parse_wall_clock};
use crate::xml::{Element, Limits, Markup};

/// The accepted form of a date in a reply, in words.
const WALL_CLOCK: &str = "a UK wall-clock date-time such as 2024-06-04T09:00:00.0Z";

/// The longest `MessageCreate/@message`, in characters.
pub const MAX_MESSAGE_TEXT: usize = 4000;

/// The most attachments one message may carry (a practice may allow fewer).
pub const MAX_ATTACHMENTS: usize = 3;

/// The largest attachment, decoded, in bytes: 5 MiB (a practice may set a smaller limit).
pub const MAX_ATTACHMENT_BYTES: usize = 5 * 1024 * 1024;

/// The longest attachment `fileName`, in characters.
pub const MAX_FILE_NAME: usize = 255;

/// The length of the base64 text of `bytes` bytes (padded, unwrapped).
pub const fn base64_len(bytes: usize) -> usize {
    bytes.div_ceil(3) * 4
}

/// Room for everything of a `MessageCreate` but its attachments' base64 text: the message text
/// at its longest even when every character is written as a character reference, the file
/// names likewise, the other attributes, `xmlns` declarations and white space.
const MESSAGE_CREATE_OVERHEAD: usize = 64 * 1024;

/// The largest `MessageCreate` body accepted: [`MAX_ATTACHMENTS`] attachments of
/// [`MAX_ATTACHMENT_BYTES`] as unwrapped base64, plus the rest of the message
/// (20,971,524 + 65,536 bytes). Every other request keeps the transport's small limit.
pub const MESSAGE_CREATE_MAX_BODY_BYTES: usize =
    MAX_ATTACHMENTS * base64_len(MAX_ATTACHMENT_BYTES) + MESSAGE_CREATE_OVERHEAD;

/// Parsing limits of `MessageCreate`: an attachment's text may hold the base64 of a file a
/// little over [`MAX_ATTACHMENT_BYTES`], so that an oversize file is refused with its own code
/// (`24`) after it is decoded rather than as a malformed body; a few more `Attachment`
/// elements than [`MAX_ATTACHMENTS`] are read so that too many get their own code as well.
const MESSAGE_CREATE_LIMITS: Limits = Limits {
    max_elements: 2 * MAX_ATTACHMENTS + 16,
    max_value_bytes: base64_len(MAX_ATTACHMENT_BYTES) + MESSAGE_CREATE_OVERHEAD,
    ..Limits::REQUEST
};

/// Most `Message` children of a `MessageMarkAsRead` or `MessageDelete`.
pub const MAX_WIRE_MESSAGE_IDS: usize = 500;

/// Parsing limits of the two messages that list message ids.
const MESSAGE_IDS_LIMITS: Limits = Limits {
    max_elements: MAX_WIRE_MESSAGE_IDS + 2,
    max_attributes: MAX_WIRE_MESSAGE_IDS + 64,
    ..Limits::REQUEST
};

// ---------------------------------------------------------------------------------------------
// MessageRecipients
// ---------------------------------------------------------------------------------------------

/// Whether a recipient is a person or a team (`Item/@description`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecipientKind {
    /// `Recipient`: an individual member of staff.
    Recipient,
    /// `UnitRecipient`: a team or the practice as a whole.
    UnitRecipient,
}

impl RecipientKind {
    /// The wire text.
    pub fn as_str(self) -> &'static str {
        match self {
            RecipientKind::Recipient => "Recipient",
            RecipientKind::UnitRecipient => "UnitRecipient",
        }
    }
}

impl std::str::FromStr for RecipientKind {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "Recipient" => Ok(RecipientKind::Recipient),
            "UnitRecipient" => Ok(RecipientKind::UnitRecipient),
            _ => Err(()),
        }
    }
}

/// One `Item` of a `MessageRecipientsReply`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecipientItem {
    /// `id`: what `MessageCreate` names as `recipientId` or `unitRecipientId`.
    pub id: String,
    /// `description`: `Recipient` or `UnitRecipient`.
    pub kind: RecipientKind,
    /// The element text: the name shown to the patient.
    pub name: String,
}

/// `MessageRecipients`: whom the selected patient may write to (§2.19).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageRecipients {
    /// Common attributes.
    pub header: Header,
    /// The selected patient and the online user.
    pub scope: PatientScope,
}

impl WireMessage for MessageRecipients {
    const ROOT: &'static str = "MessageRecipients";

    fn to_element(&self) -> Element {
        self.scope
            .write(self.header.write(Element::new(Self::ROOT)))
    }

    fn from_element(el: &Element) -> Result<Self, DecodeError> {
        let f = Fields::new(el, Self::ROOT);
        Ok(MessageRecipients {
            header: Header::read(&f)?,
            scope: PatientScope::read(&f)?,
        })
    }
}

/// `MessageRecipientsReply`: one `Item` per recipient enabled for patient messaging.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MessageRecipientsReply {
    /// Echo of `patientId` and `onlineUserId`.
    pub scope: Option<PatientScope>,
    /// Echo of the request `uuid`.
    pub uuid: Option<Guid>,
    /// `Item`, one per recipient.
    pub items: Vec<RecipientItem>,
}

impl WireMessage for MessageRecipientsReply {
    const ROOT: &'static str = "MessageRecipientsReply";

    fn to_element(&self) -> Element {
        reply_root(Self::ROOT, self.scope.as_ref(), self.uuid).children(self.items.iter().map(
            |i| {
                Element::new("Item")
                    .attr("id", i.id.clone())
                    .attr("description", i.kind.as_str())
                    .text(i.name.clone())
            },
        ))
    }

    fn from_element(el: &Element) -> Result<Self, DecodeError> {
        let f = Fields::new(el, Self::ROOT);
        Ok(MessageRecipientsReply {
            scope: PatientScope::read(&f).ok(),
            uuid: f.uuid()?,
            items: f
                .children("Item")
                .map(|i| {
                    Ok(RecipientItem {
                        id: i.req("id")?,
                        kind: i.req_with(
                            "description",
                            "Recipient or UnitRecipient",
                            str::parse::<RecipientKind>,
                        )?,
                        name: i.el.text.trim().to_owned(),
                    })
                })
                .collect::<Result<_, DecodeError>>()?,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// MessagesView
// ---------------------------------------------------------------------------------------------

/// An attachment as `MessagesView` lists it: fetched with `RequestBinaryData`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachmentRef {
    /// `binaryDataId`.
    pub binary_data_id: String,
    /// `fileName`.
    pub file_name: String,
    /// `fileType`: the extension, lower case.
    pub file_type: String,
}

/// One `Message` of a `MessagesViewReply`.
#[derive(Clone, PartialEq, Eq)]
pub struct MessageEntry {
    /// `messageId`.
    pub message_id: String,
    /// `conversationId`: the id of the conversation's first message.
    pub conversation_id: String,
    /// `sent` (UK wall-clock time).
    pub sent: NaiveDateTime,
    /// `messageText`.
    pub message_text: String,
    /// `sender`: who wrote it (the patient or their proxy, or the practice's recipient).
    pub sender: String,
    /// `recipient`: whom it was written to.
    pub recipient: String,
    /// `incoming`: `y` when the message went from the patient to the practice.
    pub incoming: YesNo,
    /// `read`: whether its reader has read it (a patient's own messages are always read).
    pub read: YesNo,
    /// `deleted`.
    pub deleted: YesNo,
    /// Every attachment, in order; `binaryDataId` names the first.
    pub attachments: Vec<AttachmentRef>,
}

impl std::fmt::Debug for MessageEntry {
    // Message text and names are the patient's: print ids and flags only.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MessageEntry")
            .field("message_id", &self.message_id)
            .field("conversation_id", &self.conversation_id)
            .field("incoming", &self.incoming)
            .field("read", &self.read)
            .field("deleted", &self.deleted)
            .field("attachments", &self.attachments.len())
            .finish_non_exhaustive()
    }
}

impl MessageEntry {
    /// The `binaryDataId` attribute: the first attachment's id.
    pub fn binary_data_id(&self) -> Option<&str> {
        self.attachments.first().map(|a| a.binary_data_id.as_str())
    }

    /// The `Message` element, the strings moved into it (a reply may hold hundreds).
    fn into_element(self) -> Element {
        let first = self.binary_data_id().map(str::to_owned);
        Element::new("Message")
            .attr("messageId", self.message_id)
            .attr("conversationId", self.conversation_id)
            .attr("sent", format_wall_clock(self.sent))
            .attr("messageText", self.message_text)
            .attr("sender", self.sender)
            .attr("recipient", self.recipient)
            .attr("incoming", self.incoming.as_str())
            .attr("read", self.read.as_str())
            .attr("deleted", self.deleted.as_str())
            .opt_attr("binaryDataId", first)
            .children(self.attachments.into_iter().map(|a| {
                Element::new("Attachment")
                    .attr("binaryDataId", a.binary_data_id)
                    .attr("fileName", a.file_name)
                    .attr("fileType", a.file_type)
            }))
    }

    fn read(f: &Fields<'_>) -> Result<Self, DecodeError> {
        let yes_no = |attr| f.req_with(attr, "y or n", str::parse::<YesNo>);
        let mut attachments = f
            .children("Attachment")
            .map(|a| {
                Ok(AttachmentRef {
                    binary_data_id: a.req("binaryDataId")?,
                    file_name: a.opt("fileName").unwrap_or_default(),
                    file_type: a.opt("fileType").unwrap_or_default(),
                })
            })
            .collect::<Result<Vec<_>, DecodeError>>()?;
        // A server that sends only the attribute (as Part A's examples do) still names one.
        if attachments.is_empty()
            && let Some(id) = f.opt("binaryDataId")
        {
            attachments.push(AttachmentRef {
                binary_data_id: id,
                file_name: String::new(),
                file_type: String::new(),
            });
        }
        Ok(MessageEntry {
            message_id: f.req("messageId")?,
            conversation_id: f.req("conversationId")?,
            sent: f.req_with("sent", WALL_CLOCK, parse_wall_clock)?,
            message_text: f.el.get("messageText").unwrap_or_default().to_owned(),
            sender: f.opt("sender").unwrap_or_default(),
            recipient: f.opt("recipient").unwrap_or_default(),
            incoming: yes_no("incoming")?,
            read: yes_no("read")?,
            deleted: yes_no("deleted")?,
            attachments,
        })
    }
}

/// `MessagesView`: every message of the selected patient's conversations (§2.18).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessagesView {
    /// Common attributes.
    pub header: Header,
    /// The selected patient and the online user.
    pub scope: PatientScope,
}

impl WireMessage for MessagesView {
    const ROOT: &'static str = "MessagesView";

    fn to_element(&self) -> Element {
        self.scope
            .write(self.header.write(Element::new(Self::ROOT)))
    }

    fn from_element(el: &Element) -> Result<Self, DecodeError> {
        let f = Fields::new(el, Self::ROOT);
        Ok(MessagesView {
            header: Header::read(&f)?,
            scope: PatientScope::read(&f)?,
        })
    }
}

/// `MessagesViewReply`: conversations by their latest message, newest first; each
/// conversation's messages oldest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MessagesViewReply {
    /// Echo of `patientId` and `onlineUserId`.
    pub scope: Option<PatientScope>,
    /// Echo of the request `uuid`.
    pub uuid: Option<Guid>,
    /// `Message`, one per message.
    pub messages: Vec<MessageEntry>,
    /// More `Message`s, already encoded ([`MessageEntry::encode_all`]), written after
    /// [`messages`](Self::messages): what the server keeps of a patient's messages it has sent
    /// before. Decoding leaves it empty and puts every `Message` in `messages`.
    pub encoded_messages: Markup,
}

impl MessageEntry {
    /// `messages` as the `Message` elements of a [`MessagesViewReply`], written once.
    pub fn encode_all(messages: Vec<MessageEntry>) -> Markup {
        Markup::of(messages.into_iter().map(MessageEntry::into_element))
    }
}

impl WireMessage for MessagesViewReply {
    const ROOT: &'static str = "MessagesViewReply";

    fn to_element(&self) -> Element {
        self.clone().into_element()
    }

    fn into_element(self) -> Element {
        let mut el = reply_root(Self::ROOT, self.scope.as_ref(), self.uuid)
            .children(self.messages.into_iter().map(MessageEntry::into_element));
        el.markup = self.encoded_messages;
        el
    }

    fn from_element(el: &Element) -> Result<Self, DecodeError> {
        let f = Fields::new(el, Self::ROOT);
        Ok(MessagesViewReply {
            scope: PatientScope::read(&f).ok(),
            uuid: f.uuid()?,
            messages: f
                .children("Message")
                .map(|m| MessageEntry::read(&m))
                .collect::<Result<_, _>>()?,
            encoded_messages: Markup::default(),
        })
    }
}

// ---------------------------------------------------------------------------------------------
// MessageCreate
// ---------------------------------------------------------------------------------------------

/// Whom a new message is for: `recipientId` or `unitRecipientId`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MessageTo {
    /// `recipientId`: an individual (`…:Recipient`).
    Recipient(String),
    /// `unitRecipientId`: a team (`…:UnitRecipient`).
    UnitRecipient(String),
}

impl MessageTo {
    /// The recipient id, whichever attribute carried it.
    pub fn id(&self) -> &str {
        match self {
            MessageTo::Recipient(id) | MessageTo::UnitRecipient(id) => id,
        }
    }

    /// The kind of recipient the attribute names.
    pub fn kind(&self) -> RecipientKind {
        match self {
            MessageTo::Recipient(_) => RecipientKind::Recipient,
            MessageTo::UnitRecipient(_) => RecipientKind::UnitRecipient,
        }
    }
}

/// One `Attachment` of a `MessageCreate` (B.8): a file as base64 text.
#[derive(Clone, PartialEq, Eq)]
pub struct MessageAttachment {
    /// `fileName`.
    pub file_name: String,
    /// `fileType`: the extension (`pdf`, `jpg`, `jpeg`, `png`, …), any case.
    pub file_type: String,
    /// The element text: the file's bytes in standard base64 (white space is ignored).
    pub content: String,
}

impl std::fmt::Debug for MessageAttachment {
    // The file name may identify the patient: print the type and size only.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MessageAttachment")
            .field("file_type", &self.file_type)
            .field("base64_len", &self.content.len())
            .finish_non_exhaustive()
    }
}

impl MessageAttachment {
    /// An attachment holding `bytes`, encoded as base64.
    pub fn from_bytes(
        file_name: impl Into<String>,
        file_type: impl Into<String>,
        bytes: &[u8],
    ) -> Self {
        MessageAttachment {
            file_name: file_name.into(),
            file_type: file_type.into(),
            content: STANDARD.encode(bytes),
        }
    }

    /// The decoded bytes; `None` if the text is not standard base64 (padded; white space
    /// ignored).
    pub fn decode_content(&self) -> Option<Vec<u8>> {
        let text = self.content.trim();
        if text.bytes().any(|b| b.is_ascii_whitespace()) {
            let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
            STANDARD.decode(compact).ok()
        } else {
            STANDARD.decode(text).ok()
        }
    }

    fn to_element(&self) -> Element {
        Element::new("Attachment")
            .attr("fileName", self.file_name.clone())
            .attr("fileType", self.file_type.clone())
            .text(self.content.clone())
    }
}

/// `MessageCreate`: a message from the patient to a recipient of their practice, starting a
/// conversation or, with `conversationId`, replying within one (§2.20, B.8).
#[derive(Clone, PartialEq, Eq)]
pub struct MessageCreate {
    /// Common attributes.
    pub header: Header,
    /// The selected patient and the online user.
    pub scope: PatientScope,
    /// `message`: the text (may be absent or empty on the wire; the server refuses that with
    /// its own code).
    pub message: String,
    /// `recipientId` or `unitRecipientId`.
    pub to: MessageTo,
    /// `conversationId`: the conversation this message replies within.
    pub conversation_id: Option<String>,
    /// `Attachment` children.
    pub attachments: Vec<MessageAttachment>,
}

impl std::fmt::Debug for MessageCreate {
    // The text is the patient's: print its length only.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MessageCreate")
            .field("header", &self.header)
            .field("scope", &self.scope)
            .field("message_chars", &self.message.chars().count())
            .field("to", &self.to)
            .field("conversation_id", &self.conversation_id)
            .field("attachments", &self.attachments)
            .finish()
    }
}

impl WireMessage for MessageCreate {
    const ROOT: &'static str = "MessageCreate";

    fn to_element(&self) -> Element {
        let el = self
            .scope
            .write(self.header.write(Element::new(Self::ROOT)));
        let el = match &self.to {
            MessageTo::Recipient(id) => el.attr("recipientId", id.clone()),
            MessageTo::UnitRecipient(id) => el.attr("unitRecipientId", id.clone()),
        };
        el.opt_attr("conversationId", self.conversation_id.clone())
            .attr("message", self.message.clone())
            .children(self.attachments.iter().map(MessageAttachment::to_element))
    }

    fn from_element(el: &Element) -> Result<Self, DecodeError> {
        let f = Fields::new(el, Self::ROOT);
        let to = match (f.opt("recipientId"), f.opt("unitRecipientId")) {
            (Some(id), None) => MessageTo::Recipient(id),
            (None, Some(id)) => MessageTo::UnitRecipient(id),
            (Some(_), Some(_)) => {
                return Err(DecodeError::Shape(
                    "MessageCreate takes recipientId or unitRecipientId, not both",
                ));
            }
            (None, None) => {
                return Err(DecodeError::Missing {
                    element: Self::ROOT,
                    attr: "recipientId",
                });
            }
        };
        Ok(MessageCreate {
            header: Header::read(&f)?,
            scope: PatientScope::read(&f)?,
            message: f.el.get("message").unwrap_or_default().trim().to_owned(),
            to,
            conversation_id: f.opt("conversationId"),
            attachments: f
                .children("Attachment")
                .map(|a| {
                    Ok(MessageAttachment {
                        file_name: a.req("fileName")?,
                        file_type: a.req("fileType")?,
                        content: a.el.text.clone(),
                    })
                })
                .collect::<Result<_, DecodeError>>()?,
        })
    }

    fn from_owned_element(mut el: Element) -> Result<Self, DecodeError> {
        // The attachments' base64 (megabytes) is moved out before the rest is read, so the
        // request holds it once.
        let contents: Vec<String> = el
            .children
            .iter_mut()
            .filter(|c| c.name == "Attachment")
            .map(|c| std::mem::take(&mut c.text))
            .collect();
        let mut m = Self::from_element(&el)?;
        for (a, content) in m.attachments.iter_mut().zip(contents) {
            a.content = content;
        }
        Ok(m)
    }
}

/// `MessageCreateReply`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MessageCreateReply {
    /// Echo of `patientId` and `onlineUserId`.
    pub scope: Option<PatientScope>,
    /// Echo of the request `uuid`.
    pub uuid: Option<Guid>,
    /// `messageId`: the new message's id (an openpfs addition; clients that do not know it
    /// ignore it).
    pub message_id: Option<String>,
    /// `conversationId`: the conversation it belongs to (an openpfs addition).
    pub conversation_id: Option<String>,
}

impl WireMessage for MessageCreateReply {
    const ROOT: &'static str = "MessageCreateReply";

    fn to_element(&self) -> Element {
        reply_root(Self::ROOT, self.scope.as_ref(), self.uuid)
            .opt_attr("messageId", self.message_id.clone())
            .opt_attr("conversationId", self.conversation_id.clone())
    }

    fn from_element(el: &Element) -> Result<Self, DecodeError> {
        let f = Fields::new(el, Self::ROOT);
        Ok(MessageCreateReply {
            scope: PatientScope::read(&f).ok(),
            uuid: f.uuid()?,
            message_id: f.opt("messageId"),
            conversation_id: f.opt("conversationId"),
        })
    }
}

// ---------------------------------------------------------------------------------------------
// MessageMarkAsRead and MessageDelete
// ---------------------------------------------------------------------------------------------

fn write_ids(el: Element, ids: &[String]) -> Element {
    el.children(
        ids.iter()
            .map(|id| Element::new("Message").attr("messageId", id.clone())),
    )
}

fn read_ids(f: &Fields<'_>, root: &'static str) -> Result<Vec<String>, DecodeError> {
    let ids = f
        .children("Message")
        .map(|m| m.req("messageId"))
        .collect::<Result<Vec<_>, _>>()?;
    if ids.is_empty() {
        return Err(DecodeError::MissingChild {
            element: root,
            child: "Message",
        });
    }
    Ok(ids)
}

/// Declares a request that names messages by `Message/@messageId` children, and its reply, which
/// only echoes (`MessageMarkAsRead`, `MessageDelete`).
macro_rules! message_id_list {
    ($(#[$doc:meta])* $request:ident => $reply:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $request {
            /// Common attributes.
            pub header: Header,
            /// The selected patient and the online user.
            pub scope: PatientScope,
            /// `Message/@messageId`, one per child.
            pub message_ids: Vec<String>,
        }

        impl WireMessage for $request {
            const ROOT: &'static str = stringify!($request);

            fn to_element(&self) -> Element {
                write_ids(
                    self.scope
                        .write(self.header.write(Element::new(Self::ROOT))),
                    &self.message_ids,
                )
            }

            fn from_element(el: &Element) -> Result<Self, DecodeError> {
                let f = Fields::new(el, Self::ROOT);
                Ok($request {
                    header: Header::read(&f)?,
                    scope: PatientScope::read(&f)?,
                    message_ids: read_ids(&f, Self::ROOT)?,
                })
            }
        }

        #[doc = concat!("`", stringify!($reply), "`: the echo only.")]
        #[derive(Debug, Clone, Default, PartialEq, Eq)]
        pub struct $reply {
            /// Echo of `patientId` and `onlineUserId`.
            pub scope: Option<PatientScope>,
            /// Echo of the request `uuid`.
            pub uuid: Option<Guid>,
        }

        impl WireMessage for $reply {
            const ROOT: &'static str = stringify!($reply);

            fn to_element(&self) -> Element {
                reply_root(Self::ROOT, self.scope.as_ref(), self.uuid)
            }

            fn from_element(el: &Element) -> Result<Self, DecodeError> {
                let f = Fields::new(el, Self::ROOT);
                Ok($reply {
                    scope: PatientScope::read(&f).ok(),
                    uuid: f.uuid()?,
                })
            }
        }
    };
}

message_id_list!(
    /// `MessageMarkAsRead` (singular "Message"): marks the listed messages read (§2.21).
    MessageMarkAsRead => MessageMarkAsReadReply
);

message_id_list!(
    /// `MessageDelete`: deletes the listed messages, all or none (B.7).
    MessageDelete => MessageDeleteReply
);

// ---------------------------------------------------------------------------------------------
// UnreadMessageCount
// ---------------------------------------------------------------------------------------------

/// `UnreadMessageCount`: how many messages to the patient are unread (B.6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnreadMessageCount {
    /// Common attributes.
    pub header: Header,
    /// The selected patient and the online user.
    pub scope: PatientScope,
}

impl WireMessage for UnreadMessageCount {
    const ROOT: &'static str = "UnreadMessageCount";

    fn to_element(&self) -> Element {
        self.scope
            .write(self.header.write(Element::new(Self::ROOT)))
    }

    fn from_element(el: &Element) -> Result<Self, DecodeError> {
        let f = Fields::new(el, Self::ROOT);
        Ok(UnreadMessageCount {
            header: Header::read(&f)?,
            scope: PatientScope::read(&f)?,
        })
    }
}

/// `UnreadMessageCountReply`: `count` of messages to the patient (`incoming="n"`) neither read
/// nor deleted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UnreadMessageCountReply {
    /// Echo of `patientId` and `onlineUserId`.
    pub scope: Option<PatientScope>,
    /// Echo of the request `uuid`.
    pub uuid: Option<Guid>,
    /// `count`.
    pub count: u32,
}

impl WireMessage for UnreadMessageCountReply {
    const ROOT: &'static str = "UnreadMessageCountReply";

    fn to_element(&self) -> Element {
        reply_root(Self::ROOT, self.scope.as_ref(), self.uuid).attr("count", self.count.to_string())
    }

    fn from_element(el: &Element) -> Result<Self, DecodeError> {
        let f = Fields::new(el, Self::ROOT);
        Ok(UnreadMessageCountReply {
            scope: PatientScope::read(&f).ok(),
            uuid: f.uuid()?,
            count: f.req_with("count", "a whole number", str::parse::<u32>)?,
        })
    }
}

per_patient_request!(MessageRecipients => MessageRecipientsReply);
per_patient_request!(MessagesView => MessagesViewReply);
per_patient_request!(
    MessageCreate => MessageCreateReply,
    LIMITS = MESSAGE_CREATE_LIMITS,
    MAX_BODY_BYTES = Some(MESSAGE_CREATE_MAX_BODY_BYTES)
);
per_patient_request!(MessageMarkAsRead => MessageMarkAsReadReply, LIMITS = MESSAGE_IDS_LIMITS);
per_patient_request!(UnreadMessageCount => UnreadMessageCountReply);
per_patient_request!(MessageDelete => MessageDeleteReply, LIMITS = MESSAGE_IDS_LIMITS);
