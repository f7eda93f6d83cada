//! Golden tests of the messaging messages (wire reference §2.18–2.21, B.6–B.8).

use chrono::NaiveDate;
use pfs_wire::{
    AttachmentRef, DecodeError, Guid, MESSAGE_CREATE_MAX_BODY_BYTES, Markup, MessageAttachment,
    MessageCreate, MessageCreateReply, MessageDelete, MessageDeleteReply, MessageEntry,
    MessageMarkAsRead, MessageMarkAsReadReply, MessageRecipientsReply, MessageTo,
    MessagesViewReply, PatientScope, RecipientItem, RecipientKind, Request, RequestMessage,
    UnreadMessageCountReply, WireMessage, XmlError, YesNo,
};

const DECL: &str = r#"<?xml version="1.0" encoding="utf-8"?>"#;
const UUID: &str = "0f5a2c8e-3b7d-4e61-9a20-5c1d8e4f7b93";

fn scope() -> PatientScope {
    PatientScope {
        patient_id: "9000001".into(),
        online_user_id: "9000001".into(),
    }
}

fn uuid() -> Option<Guid> {
    Some(UUID.parse().unwrap())
}

#[track_caller]
fn golden<T: WireMessage + PartialEq + std::fmt::Debug>(value: &T, expected: &str) {
    let encoded = value.encode();
    assert_eq!(encoded, format!("{DECL}{expected}"));
    assert!(!encoded.contains("errorCode"));
    assert_eq!(&T::decode(encoded.as_bytes()).unwrap(), value);
}

fn served(ty: &str, body: &str) -> Result<Request, DecodeError> {
    Request::decode(ty, body.as_bytes())
}

#[test]
fn message_recipients_reply() {
    golden(
        &MessageRecipientsReply {
            scope: Some(scope()),
            uuid: uuid(),
            items: vec![
                RecipientItem {
                    id: "700000000001".into(),
                    kind: RecipientKind::Recipient,
                    name: "Dr A Jones".into(),
                },
                RecipientItem {
                    id: "700000000002".into(),
                    kind: RecipientKind::UnitRecipient,
                    name: "Reception team".into(),
                },
            ],
        },
        &format!(
            r#"<MessageRecipientsReply patientId="9000001" onlineUserId="9000001" uuid="{UUID}"><Item id="700000000001" description="Recipient">Dr A Jones</Item><Item id="700000000002" description="UnitRecipient">Reception team</Item></MessageRecipientsReply>"#
        ),
    );
    // The reference's own example, without the echo, still reads.
    let r = MessageRecipientsReply::decode(
        br#"<MessageRecipientsReply><Item id="1234-5678-0001" description="Recipient">Dr A Jones</Item></MessageRecipientsReply>"#,
    )
    .unwrap();
    assert_eq!(r.items[0].kind, RecipientKind::Recipient);
}

fn at(h: u32, m: u32) -> chrono::NaiveDateTime {
    NaiveDate::from_ymd_opt(2024, 5, 1)
        .unwrap()
        .and_hms_opt(h, m, 0)
        .unwrap()
}

/// Two messages of one conversation, the second with two attachments.
fn view_messages() -> Vec<MessageEntry> {
    let first = MessageEntry {
        message_id: "300000000011".into(),
        conversation_id: "300000000011".into(),
        sent: at(10, 12),
        message_text: "Can I get my results?".into(),
        sender: "Mrs Ada Example".into(),
        recipient: "Riverside Surgery".into(),
        incoming: YesNo(true),
        read: YesNo(true),
        deleted: YesNo(false),
        attachments: Vec::new(),
    };
    let reply = MessageEntry {
        message_id: "300000000012".into(),
        conversation_id: "300000000011".into(),
        sent: at(11, 40),
        message_text: "Yes, see attached.".into(),
        sender: "Dr A Jones".into(),
        recipient: "Mrs Ada Example".into(),
        incoming: YesNo(false),
        read: YesNo(false),
        deleted: YesNo(false),
        attachments: vec![
            AttachmentRef {
                binary_data_id: "550000000999".into(),
                file_name: "results.pdf".into(),
                file_type: "pdf".into(),
            },
            AttachmentRef {
                binary_data_id: "550000001000".into(),
                file_name: "chart.png".into(),
                file_type: "png".into(),
            },
        ],
    };
    assert_eq!(reply.binary_data_id(), Some("550000000999"));
    vec![first, reply]
}

fn messages_view_body() -> String {
    format!(
        r#"<MessagesViewReply patientId="9000001" onlineUserId="9000001" uuid="{UUID}"><Message messageId="300000000011" conversationId="300000000011" sent="2024-05-01T10:12:00.0Z" messageText="Can I get my results?" sender="Mrs Ada Example" recipient="Riverside Surgery" incoming="y" read="y" deleted="n"/><Message messageId="300000000012" conversationId="300000000011" sent="2024-05-01T11:40:00.0Z" messageText="Yes, see attached." sender="Dr A Jones" recipient="Mrs Ada Example" incoming="n" read="n" deleted="n" binaryDataId="550000000999"><Attachment binaryDataId="550000000999" fileName="results.pdf" fileType="pdf"/><Attachment binaryDataId="550000001000" fileName="chart.png" fileType="png"/></Message></MessagesViewReply>"#
    )
}

#[test]
fn messages_view_reply() {
    golden(
        &MessagesViewReply {
            scope: Some(scope()),
            uuid: uuid(),
            messages: view_messages(),
            encoded_messages: Markup::default(),
        },
        &messages_view_body(),
    );
    // Part A's shape: binaryDataId only, no children.
    let r = MessagesViewReply::decode(
        br#"<MessagesViewReply patientId="9000001" onlineUserId="9000001" uuid="0f5a2c8e-3b7d-4e61-9a20-5c1d8e4f7b93"><Message messageId="m-12" conversationId="c-11" sent="2024-05-02T08:40:00.0Z" messageText="Yes" sender="Dr A Jones" recipient="Mrs Ada Example" incoming="n" read="n" deleted="n" binaryDataId="550000000999" staffOrGroupOrTeamName="x"/></MessagesViewReply>"#,
    )
    .unwrap();
    assert_eq!(r.messages[0].binary_data_id(), Some("550000000999"));
    // Flags are exactly y or n.
    let e = MessagesViewReply::decode(
        br#"<MessagesViewReply><Message messageId="1" conversationId="1" sent="2024-05-02T08:40:00.0Z" incoming="yes" read="n" deleted="n"/></MessagesViewReply>"#,
    )
    .unwrap_err();
    assert!(e.to_string().contains("incoming"), "{e}");
}

/// Messages encoded once and kept (the server's reply cache) are written exactly as the same
/// messages would be, and decode into `messages`.
#[test]
fn encoded_messages_are_written_as_the_messages_would_be() {
    let reply = MessagesViewReply {
        scope: Some(scope()),
        uuid: uuid(),
        messages: Vec::new(),
        encoded_messages: MessageEntry::encode_all(view_messages()),
    };
    let encoded = reply.encode();
    assert_eq!(encoded, format!("{DECL}{}", messages_view_body()));
    assert_eq!(
        MessagesViewReply {
            messages: view_messages(),
            encoded_messages: Markup::default(),
            ..reply.clone()
        }
        .encode(),
        encoded
    );
    assert_eq!(
        MessagesViewReply::decode(encoded.as_bytes()).unwrap(),
        MessagesViewReply {
            messages: view_messages(),
            encoded_messages: Markup::default(),
            ..reply
        }
    );
    // No messages at all: an empty root, as before.
    let empty = MessagesViewReply {
        encoded_messages: MessageEntry::encode_all(Vec::new()),
        ..Default::default()
    };
    assert_eq!(empty.encode(), format!("{DECL}<MessagesViewReply/>"));
}

#[test]
fn message_create_in_the_reference_shape() {
    let Request::MessageCreate(m) = served(
        "MessageCreate",
        r#"<MessageCreate apiVersion="1" uuid="0f5a2c8e-3b7d-4e61-9a20-5c1d8e4f7b93" unitId="X12345" patientId="9000001" onlineUserId="9000001"
               unitRecipientId="1234-5678-0002" message="Please call me back."/>"#,
    )
    .unwrap() else {
        panic!("wrong variant")
    };
    assert_eq!(m.to, MessageTo::UnitRecipient("1234-5678-0002".into()));
    assert_eq!(m.message, "Please call me back.");
    assert!(m.attachments.is_empty() && m.conversation_id.is_none());
    // Debug never shows the text.
    assert!(!format!("{m:?}").contains("call me"));

    let Request::MessageCreate(m) = served(
        "MessageCreate",
        r#"<MessageCreate xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" message="Hi" recipientId="7" conversationId="300000000001" onlineUserId="1" patientId="1" apiVersion="1"><Attachment fileName="a.pdf" fileType="PDF">
JVBERi0x
LjQK
</Attachment></MessageCreate>"#,
    )
    .unwrap() else {
        panic!("wrong variant")
    };
    assert_eq!(m.to, MessageTo::Recipient("7".into()));
    assert_eq!(m.conversation_id.as_deref(), Some("300000000001"));
    assert_eq!(m.attachments.len(), 1);
    // White space inside the base64 is ignored.
    assert_eq!(m.attachments[0].decode_content().unwrap(), b"%PDF-1.4\n");
    assert!(!format!("{m:?}").contains("a.pdf"));
}

#[test]
fn message_create_refusals() {
    let both = served(
        "MessageCreate",
        r#"<MessageCreate apiVersion="1" patientId="1" onlineUserId="1" recipientId="1" unitRecipientId="2" message="x"/>"#,
    )
    .unwrap_err();
    assert!(both.to_string().contains("not both"), "{both}");
    let neither = served(
        "MessageCreate",
        r#"<MessageCreate apiVersion="1" patientId="1" onlineUserId="1" message="x"/>"#,
    )
    .unwrap_err();
    assert!(
        matches!(
            neither,
            DecodeError::Missing {
                attr: "recipientId",
                ..
            }
        ),
        "{neither}"
    );
    let no_name = served(
        "MessageCreate",
        r#"<MessageCreate apiVersion="1" patientId="1" onlineUserId="1" recipientId="1" message="x"><Attachment fileType="pdf">AAAA</Attachment></MessageCreate>"#,
    )
    .unwrap_err();
    assert!(
        matches!(
            no_name,
            DecodeError::Missing {
                attr: "fileName",
                ..
            }
        ),
        "{no_name}"
    );
    // An empty text reads as empty: the server refuses it with its own code.
    let Request::MessageCreate(m) = served(
        "MessageCreate",
        r#"<MessageCreate apiVersion="1" patientId="1" onlineUserId="1" recipientId="1" message="  "/>"#,
    )
    .unwrap() else {
        panic!("wrong variant")
    };
    assert_eq!(m.message, "");
    assert!(
        MessageAttachment {
            file_name: "a".into(),
            file_type: "pdf".into(),
            content: "not base64!".into(),
        }
        .decode_content()
        .is_none()
    );
}

#[test]
fn message_create_round_trips_with_attachments() {
    let m = MessageCreate {
        header: pfs_wire::Header {
            api_version: Some("1".into()),
            uuid: uuid(),
            unit_id: Some("X12345".into()),
        },
        scope: scope(),
        message: "See the photo & the letter <attached>".into(),
        to: MessageTo::Recipient("700000000001".into()),
        conversation_id: None,
        attachments: vec![MessageAttachment::from_bytes(
            "photo.png",
            "png",
            b"\x89PNG\r\n\x1a\n",
        )],
    };
    golden(
        &m,
        &format!(
            r#"<MessageCreate apiVersion="1" uuid="{UUID}" unitId="X12345" patientId="9000001" onlineUserId="9000001" recipientId="700000000001" message="See the photo &amp; the letter &lt;attached&gt;"><Attachment fileName="photo.png" fileType="png">iVBORw0KGgo=</Attachment></MessageCreate>"#
        ),
    );
}

#[test]
fn message_create_alone_may_be_large() {
    // 3 × 5 MiB as base64 plus 64 KiB: the largest valid message, and no other type has one.
    assert_eq!(MESSAGE_CREATE_MAX_BODY_BYTES, 3 * 6_990_508 + 65_536);
    assert_eq!(
        Request::max_body_bytes("MessageCreate"),
        Some(MESSAGE_CREATE_MAX_BODY_BYTES)
    );
    for ty in pfs_wire::REQUEST_TYPES {
        if *ty != "MessageCreate" {
            assert_eq!(Request::max_body_bytes(ty), None, "{ty}");
        }
    }
    assert_eq!(Request::max_body_bytes("Nope"), None);
    assert_eq!(
        <MessageCreate as RequestMessage>::MAX_BODY_BYTES,
        Some(MESSAGE_CREATE_MAX_BODY_BYTES)
    );
    // A 5 MiB file parses; a much larger text is refused while parsing.
    let five = MessageAttachment::from_bytes("a.pdf", "pdf", &vec![0u8; 5 * 1024 * 1024]);
    let body = format!(
        r#"<MessageCreate apiVersion="1" patientId="1" onlineUserId="1" recipientId="1" message="x"><Attachment fileName="a.pdf" fileType="pdf">{}</Attachment></MessageCreate>"#,
        five.content
    );
    let Request::MessageCreate(m) = served("MessageCreate", &body).unwrap() else {
        panic!("wrong variant")
    };
    assert_eq!(m.attachments[0].decode_content().unwrap().len(), 5 << 20);
    let huge = MessageAttachment::from_bytes("a.pdf", "pdf", &vec![0u8; 6 * 1024 * 1024]);
    let body = format!(
        r#"<MessageCreate apiVersion="1" patientId="1" onlineUserId="1" recipientId="1" message="x"><Attachment fileName="a.pdf" fileType="pdf">{}</Attachment></MessageCreate>"#,
        huge.content
    );
    assert_eq!(
        served("MessageCreate", &body).unwrap_err(),
        DecodeError::Xml(XmlError::TooLong)
    );
    // Another message keeps the small limits.
    let body = format!(
        r#"<PatientSelected apiVersion="1" patientId="1" onlineUserId="1" x="{}"/>"#,
        "a".repeat(4096)
    );
    assert_eq!(
        served("PatientSelected", &body).unwrap_err(),
        DecodeError::Xml(XmlError::TooLong)
    );
}

#[test]
fn message_create_reply() {
    golden(
        &MessageCreateReply {
            scope: Some(scope()),
            uuid: uuid(),
            message_id: Some("300000000012".into()),
            conversation_id: Some("300000000011".into()),
        },
        &format!(
            r#"<MessageCreateReply patientId="9000001" onlineUserId="9000001" uuid="{UUID}" messageId="300000000012" conversationId="300000000011"/>"#
        ),
    );
    // The reference's reply, without the openpfs additions.
    let r = MessageCreateReply::decode(
        format!(
            r#"<MessageCreateReply patientId="9000001" onlineUserId="9000001" uuid="{UUID}"/>"#
        )
        .as_bytes(),
    )
    .unwrap();
    assert_eq!(r.message_id, None);
}

#[test]
fn message_mark_as_read_is_singular() {
    let Request::MessageMarkAsRead(m) = served(
        "MessageMarkAsRead",
        r#"<MessageMarkAsRead apiVersion="1" uuid="0f5a2c8e-3b7d-4e61-9a20-5c1d8e4f7b93" unitId="X12345" patientId="9000001" onlineUserId="9000001">
  <Message messageId="m-12"/>
</MessageMarkAsRead>"#,
    )
    .unwrap() else {
        panic!("wrong variant")
    };
    assert_eq!(m.message_ids, vec!["m-12".to_owned()]);
    assert_eq!(MessageMarkAsRead::decode(m.encode().as_bytes()).unwrap(), m);
    // The plural spelling is no message of this API.
    assert_eq!(
        served("MessagesMarkAsRead", "<MessagesMarkAsRead/>").unwrap_err(),
        DecodeError::UnknownType
    );
    let empty = served(
        "MessageMarkAsRead",
        r#"<MessageMarkAsRead apiVersion="1" patientId="1" onlineUserId="1"/>"#,
    )
    .unwrap_err();
    assert!(
        matches!(
            empty,
            DecodeError::MissingChild {
                child: "Message",
                ..
            }
        ),
        "{empty}"
    );
    golden(
        &MessageMarkAsReadReply {
            scope: Some(scope()),
            uuid: uuid(),
        },
        &format!(
            r#"<MessageMarkAsReadReply patientId="9000001" onlineUserId="9000001" uuid="{UUID}"/>"#
        ),
    );
}

#[test]
fn message_delete_and_unread_count() {
    let Request::MessageDelete(m) = served(
        "MessageDelete",
        r#"<MessageDelete apiVersion="1" patientId="1" onlineUserId="1"><Message messageId="1"/><Message messageId="2"/></MessageDelete>"#,
    )
    .unwrap() else {
        panic!("wrong variant")
    };
    assert_eq!(m.message_ids.len(), 2);
    assert_eq!(MessageDelete::decode(m.encode().as_bytes()).unwrap(), m);
    let missing_id = served(
        "MessageDelete",
        r#"<MessageDelete apiVersion="1" patientId="1" onlineUserId="1"><Message/></MessageDelete>"#,
    )
    .unwrap_err();
    assert!(
        matches!(
            missing_id,
            DecodeError::Missing {
                attr: "messageId",
                ..
            }
        ),
        "{missing_id}"
    );
    golden(
        &MessageDeleteReply {
            scope: Some(scope()),
            uuid: uuid(),
        },
        &format!(
            r#"<MessageDeleteReply patientId="9000001" onlineUserId="9000001" uuid="{UUID}"/>"#
        ),
    );
    golden(
        &UnreadMessageCountReply {
            scope: Some(scope()),
            uuid: uuid(),
            count: 3,
        },
        &format!(
            r#"<UnreadMessageCountReply patientId="9000001" onlineUserId="9000001" uuid="{UUID}" count="3"/>"#
        ),
    );
}
