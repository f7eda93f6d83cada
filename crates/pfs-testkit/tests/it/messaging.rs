//! Messaging over real mutual TLS on both stores: recipients, sending with attachments, the
//! practice's inbox, conversation and reply, reading, the unread count, deleting, attachments
//! through RequestBinaryData, every refusal storing nothing, the service switch, proxies, the
//! demo conversations, and the body limit MessageCreate alone gets.

use pfs_client::{ExposeSecret, NewMessage, Session};
use pfs_testkit::TestServer;
use pfs_wire::{
    MessageEntry, MessageTo, RecipientKind, RequestBinaryData, RequestBinaryDataReply, YesNo,
};
use serde_json::{Value, json};

use crate::appointments::{User, all_accesses};
use crate::session::{error_body, expect_pfs, new_uuid, ok_body};
use crate::stores::{Backend, start_on};
use crate::transport::{exchange, xml_post_with_suid};

const ODS: &str = "Y99001";

fn pdf(extra: usize) -> Vec<u8> {
    let mut b = b"%PDF-1.4\n".to_vec();
    b.extend((0..extra).map(|i| (i % 251) as u8));
    b
}

fn png() -> Vec<u8> {
    let mut b = b"\x89PNG\r\n\x1A\n".to_vec();
    b.extend_from_slice(b"\0\0\0\rIHDR-not-really");
    b
}

fn jpeg() -> Vec<u8> {
    b"\xFF\xD8\xFF\xE0\0\x10JFIF\0rest".to_vec()
}

/// The demo recipients: (the doctor's id, the team's id).
async fn recipients(s: &Session) -> (String, String) {
    let r = s.message_recipients().await.unwrap();
    let find = |k| {
        r.items
            .iter()
            .find(|i| i.kind == k)
            .map(|i| i.id.clone())
            .unwrap()
    };
    (
        find(RecipientKind::Recipient),
        find(RecipientKind::UnitRecipient),
    )
}

async fn counts(t: &TestServer, patient_id: &str) -> (usize, u64) {
    let store = t.server.pfs.store();
    (
        store.patient_messages(patient_id).await.unwrap().len(),
        store.attachment_count(patient_id).await.unwrap(),
    )
}

async fn fetch(
    s: &Session,
    binary_data_id: &str,
) -> Result<RequestBinaryDataReply, pfs_client::Error> {
    s.request(&RequestBinaryData {
        header: s.header(),
        scope: s.scope(),
        binary_data_id: binary_data_id.to_owned(),
    })
    .await
}

async fn admin(t: &TestServer, method: &str, path: &str, body: Option<Value>) -> Value {
    let (status, v) = t.admin(method, path, body).await.unwrap();
    assert!(
        (200..300).contains(&status),
        "{method} {path}: {status} {v}"
    );
    v
}

/// Patient → practice → patient with attachments: bytes identical both ways; the inbox, the
/// conversation, the reply, reading, the count, a reply within the conversation, deleting, and
/// the access log.
async fn round_trip_with_attachments(backend: Backend) {
    let (_db, t) = start_on(backend, |_| {}).await;
    let user = User::new(&t, "Patel").await;
    let s = user.session().await;
    let me = s.selected_patient_id();

    let services = s.list_service_accesses().await.unwrap();
    let messaging = services
        .services
        .iter()
        .find(|x| x.description == "Messaging")
        .unwrap();
    assert_eq!(messaging.status, "A");

    let (doctor, team) = recipients(&s).await;
    let r = s.message_recipients().await.unwrap();
    let pattern_ok = |id: &str, d: &str| {
        format!("{id}:{d}")
            .split_once(':')
            .is_some_and(|(a, b)| !a.is_empty() && (b == "Recipient" || b == "UnitRecipient"))
    };
    assert!(r.items.iter().all(|i| pattern_ok(&i.id, i.kind.as_str())));
    assert_eq!(r.items.len(), 2);
    assert!(s.messages_view().await.unwrap().messages.is_empty());
    assert_eq!(s.unread_message_count().await.unwrap(), 0);

    // Printable bytes, so that the admin download can be compared as text.
    let mut pdf_bytes = pdf(0);
    pdf_bytes.extend((0..40_000u32).map(|i| b'a' + (i % 26) as u8));
    let png_bytes = png();
    let sent = s
        .message_create(
            &NewMessage::new(MessageTo::UnitRecipient(team.clone()), "Here are my forms.")
                .attach_bytes("form.pdf", "pdf", &pdf_bytes)
                .attach_bytes("rash.PNG", "PNG", &png_bytes),
        )
        .await
        .unwrap();
    let first_id = sent.message_id.clone().unwrap();
    assert_eq!(sent.conversation_id.as_deref(), Some(first_id.as_str()));
    assert_eq!(counts(&t, &me).await, (1, 2));

    // The practice: inbox (all, then by recipient), the conversation, the files.
    let inbox = admin(&t, "GET", &format!("/api/practices/{ODS}/messages"), None).await;
    assert_eq!(inbox[0]["id"], first_id.as_str());
    assert!(inbox[0]["patientName"].as_str().unwrap().contains("Patel"));
    assert_eq!(inbox[0]["recipientId"], team.as_str());
    assert!(inbox[0]["readAt"].is_null());
    let to_doctor = admin(
        &t,
        "GET",
        &format!("/api/practices/{ODS}/messages?recipient={doctor}"),
        None,
    )
    .await;
    assert!(
        to_doctor
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["id"] != first_id.as_str())
    );
    let conversation = admin(
        &t,
        "GET",
        &format!("/api/practices/{ODS}/conversations/{first_id}"),
        None,
    )
    .await;
    let files = conversation[0]["attachments"].as_array().unwrap();
    assert_eq!(files.len(), 2);
    assert_eq!(files[0]["fileName"], "form.pdf");
    assert_eq!(files[1]["fileType"], "png");
    let pdf_id = files[0]["binaryDataId"].as_str().unwrap().to_owned();
    let (status, downloaded) = t
        .admin_text(
            &format!("/api/practices/{ODS}/attachments/{pdf_id}"),
            Some(&t.server.admin_token),
        )
        .await
        .unwrap();
    assert_eq!(status, 200);
    assert_eq!(downloaded.as_bytes(), pdf_bytes.as_slice());
    // Another practice's attachment route does not find it.
    let (status, _) = t
        .admin(
            "GET",
            &format!("/api/practices/X99999/attachments/{pdf_id}"),
            None,
        )
        .await
        .unwrap();
    assert_eq!(status, 404);
    // The patient reads their own file back through RequestBinaryData.
    let mine = fetch(&s, &pdf_id).await.unwrap();
    assert_eq!(mine.file_type, "pdf");
    assert_eq!(mine.page_bytes().unwrap(), vec![pdf_bytes.clone()]);

    // The practice replies from the doctor with a JPEG and marks the patient's message read.
    let jpeg_bytes = jpeg();
    let reply = admin(
        &t,
        "POST",
        &format!("/api/practices/{ODS}/conversations/{first_id}/replies"),
        Some(json!({
            "fromRecipientId": doctor,
            "text": "Thank you, see the attached letter.",
            "attachments": [{
                "fileName": "letter.jpg",
                "fileType": "jpg",
                "content": pfs_wire::MessageAttachment::from_bytes("x", "jpg", &jpeg_bytes).content,
            }],
        })),
    )
    .await;
    let reply_id = reply["id"].as_str().unwrap().to_owned();
    assert_eq!(reply["conversationId"], first_id.as_str());
    admin(
        &t,
        "POST",
        &format!("/api/practices/{ODS}/messages/read"),
        Some(json!({ "messageIds": [first_id] })),
    )
    .await;
    let inbox = admin(&t, "GET", &format!("/api/practices/{ODS}/messages"), None).await;
    let entry = inbox
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == first_id.as_str())
        .unwrap();
    assert!(!entry["readAt"].is_null());

    // The patient sees both, oldest first in the conversation.
    let raw = t
        .client()
        .raw(
            "MessagesView",
            Some(s.suid().expose_secret()),
            format!(
                r#"<MessagesView apiVersion="1" uuid="{}" unitId="{ODS}" patientId="{me}" onlineUserId="{me}"/>"#,
                new_uuid()
            ),
        )
        .await
        .unwrap();
    let el = ok_body(&raw, "MessagesViewReply");
    assert_eq!(el.get("patientId"), Some(me.as_str()));
    let view = s.messages_view().await.unwrap().messages;
    assert_eq!(view.len(), 2);
    let (mine_msg, theirs) = (&view[0], &view[1]);
    assert_eq!(mine_msg.message_id, first_id);
    assert_eq!(
        (mine_msg.incoming, mine_msg.read, mine_msg.deleted),
        (YesNo(true), YesNo(true), YesNo(false))
    );
    assert_eq!(mine_msg.recipient, "Reception team");
    assert_eq!(theirs.message_id, reply_id);
    assert_eq!(theirs.conversation_id, first_id);
    assert_eq!(theirs.sender, "Dr Amelia Jones");
    assert_eq!(
        (theirs.incoming, theirs.read, theirs.deleted),
        (YesNo(false), YesNo(false), YesNo(false))
    );
    let jpeg_id = theirs.binary_data_id().unwrap().to_owned();
    assert_eq!(theirs.attachments[0].file_name, "letter.jpg");
    // On the wire: sent as YYYY-MM-DDTHH:MM:SS.0Z, binaryDataId naming the first file.
    let message = el
        .children
        .iter()
        .find(|m| m.get("messageId") == Some(reply_id.as_str()))
        .unwrap();
    let sent = message.get("sent").unwrap();
    assert!(sent.len() == 22 && sent.ends_with(".0Z"), "{sent}");
    assert_eq!(message.get("binaryDataId"), Some(jpeg_id.as_str()));
    let got = fetch(&s, &jpeg_id).await.unwrap();
    assert_eq!(got.page_bytes().unwrap(), vec![jpeg_bytes]);

    // Unread follows reading, and equals the incoming="n" unread undeleted messages.
    let unread = |v: &[MessageEntry]| {
        v.iter()
            .filter(|m| {
                m.incoming == YesNo(false) && m.read == YesNo(false) && m.deleted == YesNo(false)
            })
            .count() as u32
    };
    assert_eq!(s.unread_message_count().await.unwrap(), unread(&view));
    assert_eq!(s.unread_message_count().await.unwrap(), 1);
    // As the app does: every message of the conversation whose read is n.
    s.message_mark_as_read(&[&reply_id]).await.unwrap();
    assert_eq!(s.unread_message_count().await.unwrap(), 0);
    assert_eq!(
        s.messages_view().await.unwrap().messages[1].read,
        YesNo(true)
    );

    // A reply within the conversation gets its own id; to the doctor this time.
    let again = s
        .message_create(
            &NewMessage::new(MessageTo::Recipient(doctor.clone()), "Thanks!")
                .in_conversation(first_id.clone()),
        )
        .await
        .unwrap();
    assert_ne!(again.message_id.as_deref(), Some(first_id.as_str()));
    assert_eq!(again.conversation_id.as_deref(), Some(first_id.as_str()));
    let view = s.messages_view().await.unwrap().messages;
    assert_eq!(view.len(), 3);
    assert!(view.iter().all(|m| m.conversation_id == first_id));

    // Deleting the reply: gone from the view, never counted.
    s.message_delete(&[&reply_id]).await.unwrap();
    let view = s.messages_view().await.unwrap().messages;
    assert_eq!(view.len(), 2);
    assert!(view.iter().all(|m| m.message_id != reply_id));
    assert_eq!(s.unread_message_count().await.unwrap(), 0);

    // Another patient cannot fetch this patient's attachment.
    let other = User::new(&t, "Hughes").await.session().await;
    expect_pfs(fetch(&other, &pdf_id).await, "9031", &[]);

    let log: Vec<String> = all_accesses(&t, &me)
        .await
        .into_iter()
        .map(|a| a.access_type)
        .collect();
    for what in [
        "Viewed message recipients",
        "Sent message",
        "Viewed messages",
        "Practice read messages",
        "Practice replied to message",
        "Read messages",
        "Deleted messages",
    ] {
        assert!(log.iter().any(|l| l == what), "{what} missing from {log:?}");
    }
}

/// Every refusal is a clear Error that stores nothing (no message, no file) and repeats no text
/// or file name.
async fn refusals_store_nothing(backend: Backend) {
    let (_db, t) = start_on(backend, |_| {}).await;
    let s = User::new(&t, "Patel").await.session().await;
    let me = s.selected_patient_id();
    let (doctor, team) = recipients(&s).await;
    let to = || MessageTo::UnitRecipient(team.clone());
    let before = counts(&t, &me).await;
    let secrets = ["secret-words", "private-name"];

    let mut over = pdf(0);
    over.resize(5 * 1024 * 1024 + 1, b'x');
    let mut exactly = pdf(0);
    exactly.resize(5 * 1024 * 1024, b'x');
    let cases: Vec<(NewMessage, &str)> = vec![
        (NewMessage::new(to(), "   "), "9043"),
        (NewMessage::new(to(), "é".repeat(4001)), "9044"),
        (
            NewMessage::new(MessageTo::UnitRecipient("123".into()), "secret-words"),
            "9041",
        ),
        // A person's id given as a team's.
        (
            NewMessage::new(MessageTo::UnitRecipient(doctor.clone()), "secret-words"),
            "9041",
        ),
        (
            NewMessage::new(to(), "secret-words").in_conversation("999999999999"),
            "9042",
        ),
        (
            NewMessage {
                attachments: vec![pfs_wire::MessageAttachment {
                    file_name: "private-name.pdf".into(),
                    file_type: "pdf".into(),
                    content: "JVBERi0x%%%".into(),
                }],
                ..NewMessage::new(to(), "secret-words")
            },
            "9048",
        ),
        (
            NewMessage::new(to(), "secret-words").attach_bytes("private-name.pdf", "pdf", &png()),
            "9047",
        ),
        (
            NewMessage::new(to(), "secret-words").attach_bytes(
                "private-name.gif",
                "gif",
                b"GIF89a..",
            ),
            "9046",
        ),
        (
            NewMessage::new(to(), "secret-words")
                .attach_bytes("a.pdf", "pdf", &pdf(1))
                .attach_bytes("b.pdf", "pdf", &pdf(1))
                .attach_bytes("c.pdf", "pdf", &pdf(1))
                .attach_bytes("d.pdf", "pdf", &pdf(1)),
            "9049",
        ),
        (
            NewMessage::new(to(), "secret-words").attach_bytes(
                "../private-name.pdf",
                "pdf",
                &pdf(1),
            ),
            "9050",
        ),
        (
            NewMessage::new(to(), "secret-words").attach_bytes("private\tname.pdf", "pdf", &pdf(1)),
            "9050",
        ),
        (
            NewMessage::new(to(), "secret-words").attach_bytes(
                "c:\\private-name.pdf",
                "pdf",
                &pdf(1),
            ),
            "9050",
        ),
        // One byte over 5 MiB decoded: 24, as a real client expects.
        (
            NewMessage::new(to(), "secret-words").attach_bytes("private-name.pdf", "pdf", &over),
            "24",
        ),
        // Two good files and a bad third: none is stored.
        (
            NewMessage::new(to(), "secret-words")
                .attach_bytes("a.pdf", "pdf", &pdf(10))
                .attach_bytes("b.png", "png", &png())
                .attach_bytes("private-name.png", "png", &pdf(10)),
            "9047",
        ),
    ];
    for (m, code) in cases {
        expect_pfs(s.message_create(&m).await, code, &secrets);
        assert_eq!(counts(&t, &me).await, before, "{code} stored something");
    }
    // Exactly 5 MiB is accepted.
    s.message_create(&NewMessage::new(to(), "big").attach_bytes("big.pdf", "pdf", &exactly))
        .await
        .unwrap();
    assert_eq!(counts(&t, &me).await, (before.0 + 1, before.1 + 1));

    // A conversation of another patient, and marking or deleting another patient's message.
    let other = User::new(&t, "Hughes").await.session().await;
    let theirs = other
        .message_create(&NewMessage::new(to(), "theirs"))
        .await
        .unwrap()
        .message_id
        .unwrap();
    expect_pfs(
        s.message_create(&NewMessage::new(to(), "x").in_conversation(theirs.clone()))
            .await,
        "9042",
        &[],
    );
    let mine = s
        .message_create(&NewMessage::new(to(), "mine"))
        .await
        .unwrap()
        .message_id
        .unwrap();
    expect_pfs(s.message_mark_as_read(&[&theirs]).await, "9045", &[]);
    // All or nothing: an unknown or foreign id among good ones deletes none of them.
    let n = counts(&t, &me).await;
    expect_pfs(s.message_delete(&[&mine, &theirs]).await, "9045", &[]);
    expect_pfs(
        s.message_delete(&[&mine, "123456789012"]).await,
        "9045",
        &[],
    );
    assert_eq!(counts(&t, &me).await, n);
    assert_eq!(counts(&t, &other.selected_patient_id()).await.0, 1);
    s.message_delete(&[&mine]).await.unwrap();
    assert_eq!(counts(&t, &me).await.0, n.0 - 1);
    expect_pfs(s.message_delete(&[&mine]).await, "9045", &[]);

    // A raw MessageCreate without text, and a raw MessageMarkAsRead without Message children.
    let raw = t
        .client()
        .raw(
            "MessageCreate",
            Some(s.suid().expose_secret()),
            format!(
                r#"<MessageCreate apiVersion="1" uuid="{}" patientId="{me}" onlineUserId="{me}" unitRecipientId="{team}"/>"#,
                new_uuid()
            ),
        )
        .await
        .unwrap();
    error_body(&raw, "9043", &[]);
    let raw = t
        .client()
        .raw(
            "MessageMarkAsRead",
            Some(s.suid().expose_secret()),
            format!(
                r#"<MessageMarkAsRead apiVersion="1" uuid="{}" patientId="{me}" onlineUserId="{me}"/>"#,
                new_uuid()
            ),
        )
        .await
        .unwrap();
    error_body(&raw, "9004", &[]);
}

/// Messaging switched off for the practice or the patient: 6 on every messaging message and
/// on RequestBinaryData of an attachment; ListServiceAccesses says so.
async fn messaging_switched_off(backend: Backend) {
    let (_db, t) = start_on(backend, |_| {}).await;
    let s = User::new(&t, "Example").await.session().await;
    let me = s.selected_patient_id();
    // Ada's demo conversation carries a PDF from the practice.
    let view = s.messages_view().await.unwrap().messages;
    let file = view
        .iter()
        .find_map(|m| m.binary_data_id().map(str::to_owned))
        .unwrap();
    let (doctor, _) = recipients(&s).await;
    for path in [
        format!("/api/practices/{ODS}/services/messaging"),
        format!("/api/patients/{me}/services/messaging"),
    ] {
        admin(&t, "PUT", &path, Some(json!({"enabled": false}))).await;
        let services = s.list_service_accesses().await.unwrap();
        let m = services
            .services
            .iter()
            .find(|x| x.description == "Messaging")
            .unwrap();
        assert_eq!(
            (m.status.as_str(), m.status_desc.as_str()),
            ("N", "Not available")
        );
        expect_pfs(s.message_recipients().await, "6", &[]);
        expect_pfs(s.messages_view().await, "6", &[]);
        expect_pfs(
            s.message_create(&NewMessage::new(MessageTo::Recipient(doctor.clone()), "x"))
                .await,
            "6",
            &[],
        );
        expect_pfs(
            s.message_mark_as_read(&[&view[0].message_id]).await,
            "6",
            &[],
        );
        expect_pfs(s.unread_message_count().await, "6", &[]);
        expect_pfs(s.message_delete(&[&view[0].message_id]).await, "6", &[]);
        expect_pfs(fetch(&s, &file).await, "6", &[]);
        admin(&t, "PUT", &path, Some(json!({"enabled": true}))).await;
        s.messages_view().await.unwrap();
    }
}

/// A carer messages on behalf of the person they act for: the message is that patient's, and
/// the practice sees who sent it.
async fn proxy_messages(backend: Backend) {
    let (_db, t) = start_on(backend, |_| {}).await;
    let user = User::new(&t, "Example").await;
    let s = user.session().await;
    let ada = s.selected_patient_id();
    let ben = t.patient_id(&user.account.proxy_for[0]).await.unwrap();
    let own = s.messages_view().await.unwrap().messages.len();
    s.select_patient(&ben).await.unwrap();
    let (_, team) = recipients(&s).await;
    let sent = s
        .message_create(&NewMessage::new(
            MessageTo::UnitRecipient(team),
            "On behalf of Ben.",
        ))
        .await
        .unwrap();
    let view = s.messages_view().await.unwrap().messages;
    assert_eq!(view.len(), 1);
    assert!(view[0].sender.contains("Ada"), "the sender is the carer");
    let inbox = admin(&t, "GET", &format!("/api/practices/{ODS}/messages"), None).await;
    let entry = inbox
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == sent.message_id.as_deref().unwrap())
        .unwrap();
    assert_eq!(entry["patientId"], ben.as_str());
    assert_eq!(entry["sentBy"], ada.as_str());
    assert!(entry["sender"].as_str().unwrap().contains("Ada"));
    assert!(entry["patientName"].as_str().unwrap().contains("Ben"));
    assert!(
        all_accesses(&t, &ben)
            .await
            .iter()
            .any(|a| a.access_type == "Sent message" && a.accessed_by.contains("Ada"))
    );
    // Ada's own messages are unchanged.
    s.select_patient(&ada).await.unwrap();
    assert_eq!(s.messages_view().await.unwrap().messages.len(), own);
}

/// The demo: messaging on for two patients with accounts, each with a conversation whose
/// practice reply carries a PDF that RequestBinaryData serves.
async fn demo_conversations(backend: Backend) {
    let (_db, t) = start_on(backend, |_| {}).await;
    for last_name in ["Example", "Jones"] {
        let s = User::new(&t, last_name).await.session().await;
        let view = s.messages_view().await.unwrap().messages;
        assert_eq!(view.len(), 2, "{last_name}");
        assert_eq!(view[0].incoming, YesNo(true));
        assert_eq!(view[1].incoming, YesNo(false));
        assert_eq!(view[1].conversation_id, view[0].message_id);
        assert_eq!(s.unread_message_count().await.unwrap(), 1);
        let file = fetch(&s, view[1].binary_data_id().unwrap()).await.unwrap();
        assert_eq!(file.file_type, "pdf");
        let bytes = &file.page_bytes().unwrap()[0];
        assert!(bytes.starts_with(b"%PDF-1.4") && bytes.ends_with(b"%%EOF\n"));
    }
}

/// `MessagesView` as `s` gets it on the wire, with request uuid `uuid`: the body's bytes.
async fn raw_messages_view(t: &TestServer, s: &Session, uuid: &str) -> String {
    let me = s.selected_patient_id();
    let user = s.online_user_id();
    let raw = t
        .client()
        .raw(
            "MessagesView",
            Some(s.suid().expose_secret()),
            format!(
                r#"<MessagesView apiVersion="1" uuid="{uuid}" unitId="{ODS}" patientId="{me}" onlineUserId="{user}"/>"#
            ),
        )
        .await
        .unwrap();
    assert!(!raw.is_error(), "{}", raw.status);
    raw.body
}

/// The reply `s` should get to a `MessagesView` with `uuid`, made the way it was made before
/// the reply cache: the patient's messages read from the store now, ordered and encoded
/// element by element.
async fn uncached_messages_view(t: &TestServer, s: &Session, uuid: &str) -> String {
    use pfs_core::messaging::{conversation_order, message_entry};
    use pfs_wire::WireMessage;
    let me = s.selected_patient_id();
    let messages = t.server.pfs.store().patient_messages(&me).await.unwrap();
    pfs_wire::MessagesViewReply {
        scope: Some(pfs_wire::PatientScope {
            patient_id: me.clone(),
            online_user_id: s.online_user_id().to_owned(),
        }),
        uuid: Some(uuid.parse().unwrap()),
        messages: conversation_order(messages)
            .into_iter()
            .map(message_entry)
            .collect(),
        encoded_messages: pfs_wire::Markup::default(),
    }
    .encode()
}

/// Reads `MessagesView` twice through each session (the second read at least is served from
/// its instance's cache) and checks every reply is byte for byte the uncached reply of
/// `expect_from` (a server on the same database); the reply with a fixed uuid.
pub(crate) async fn message_views_match(
    expect_from: &TestServer,
    on: &[(&TestServer, &Session)],
    what: &str,
) -> String {
    const UUID: &str = "0f5a2c8e-3b7d-4e61-9a20-5c1d8e4f7b93";
    let want = uncached_messages_view(expect_from, on[0].1, UUID).await;
    for (t, s) in on {
        for n in 0..2 {
            let got = raw_messages_view(t, s, UUID).await;
            assert_eq!(got, want, "{what}, read {n}");
        }
    }
    want
}

/// How many reads of the patient's messages their access log holds.
async fn views_logged(t: &TestServer, patient_id: &str) -> usize {
    all_accesses(t, patient_id)
        .await
        .iter()
        .filter(|a| a.access_type == "Viewed messages")
        .count()
}

/// The reply cache never serves messages that changed: after each change either side can make
/// (the patient sends, the practice replies with an attachment, the patient and the practice
/// mark read, the patient deletes, a sandbox restore) the next two reads are byte for byte the
/// reply made without the cache; and every read is logged, cached or not.
async fn the_messages_are_never_served_stale(backend: Backend) {
    let (_db, t) = start_on(backend, |_| {}).await;
    let s = User::new(&t, "Patel").await.session().await;
    let me = s.selected_patient_id();
    let (doctor, team) = recipients(&s).await;
    let logged_before = views_logged(&t, &me).await;
    let on = [(&t, &s)];
    let check = async |what: &str| message_views_match(&t, &on, what).await;
    let at_start = check("at the start").await;

    let sent = s
        .message_create(&NewMessage::new(
            MessageTo::UnitRecipient(team.clone()),
            "Is the cache fresh? <&> \"quoted\" caf\u{e9}",
        ))
        .await
        .unwrap();
    let first_id = sent.message_id.unwrap();
    let after_send = check("the patient sent a message").await;
    assert_ne!(after_send, at_start);

    let reply = admin(
        &t,
        "POST",
        &format!("/api/practices/{ODS}/conversations/{first_id}/replies"),
        Some(json!({
            "fromRecipientId": doctor,
            "text": "Yes, see the attached letter.",
            "attachments": [{
                "fileName": "letter.jpg",
                "fileType": "jpg",
                "content": pfs_wire::MessageAttachment::from_bytes("x", "jpg", &jpeg()).content,
            }],
        })),
    )
    .await;
    let reply_id = reply["id"].as_str().unwrap().to_owned();
    let after_reply = check("the practice replied with an attachment").await;
    assert_ne!(after_reply, after_send);
    assert!(after_reply.contains("letter.jpg"));

    s.message_mark_as_read(&[&reply_id]).await.unwrap();
    let after_read = check("the patient marked the reply read").await;
    assert_ne!(after_read, after_reply);
    // The patient's own messages always show as read, so this one shows no change: what
    // matters is that the reply still equals the uncached one.
    admin(
        &t,
        "POST",
        &format!("/api/practices/{ODS}/messages/read"),
        Some(json!({ "messageIds": [first_id] })),
    )
    .await;
    check("the practice marked the message read").await;

    s.message_delete(&[&reply_id]).await.unwrap();
    let after_delete = check("the patient deleted the reply").await;
    assert!(!after_delete.contains(&reply_id));

    // Every read was logged, from the cache or not: two per check.
    assert_eq!(views_logged(&t, &me).await - logged_before, 2 * 6);

    // A snapshot, a change, a restore: the messages as they were, not the later ones kept.
    admin(
        &t,
        "POST",
        "/api/sandbox/snapshots",
        Some(json!({"name": "messages-cache"})),
    )
    .await;
    let at_snapshot = check("at the snapshot").await;
    s.message_create(
        &NewMessage::new(MessageTo::UnitRecipient(team), "After the snapshot")
            .in_conversation(first_id),
    )
    .await
    .unwrap();
    assert_ne!(check("after the snapshot").await, at_snapshot);
    admin(
        &t,
        "POST",
        "/api/sandbox/snapshots/messages-cache/restore",
        None,
    )
    .await;
    assert_eq!(check("restored").await, at_snapshot);
}

on_both_stores!(
    the_messages_are_never_served_stale,
    only_message_create_gets_the_large_body_limit,
    practice_side,
    round_trip_with_attachments,
    refusals_store_nothing,
    messaging_switched_off,
    proxy_messages,
    demo_conversations,
);

/// MessageCreate alone may be large: a valid 15 MiB message is accepted while a 1.1 MiB
/// PatientSelected is refused; a body beyond the largest valid message is a file too large.
async fn only_message_create_gets_the_large_body_limit(backend: Backend) {
    let (_db, t) = start_on(backend, |_| {}).await;
    let s = User::new(&t, "Patel").await.session().await;
    let me = s.selected_patient_id();
    let (_, team) = recipients(&s).await;
    // Three files of 3.75 MiB: 15 MiB of base64.
    let file = pdf(3 * 1024 * 1024 + 768 * 1024 - 9);
    let m = NewMessage::new(MessageTo::UnitRecipient(team.clone()), "Three scans")
        .attach_bytes("a.pdf", "pdf", &file)
        .attach_bytes("b.pdf", "pdf", &file)
        .attach_bytes("c.pdf", "pdf", &file);
    let body_len: usize = m.attachments.iter().map(|a| a.content.len()).sum();
    assert!(body_len >= 15 * 1024 * 1024, "{body_len}");
    s.message_create(&m).await.unwrap();
    assert_eq!(counts(&t, &me).await.1, 3);

    let padded = format!(
        r#"<PatientSelected apiVersion="1" uuid="{}" patientId="{me}" onlineUserId="{me}"><!--{}--></PatientSelected>"#,
        new_uuid(),
        "x".repeat(1100 * 1024)
    );
    let suid = s.suid().expose_secret().to_owned();
    let reply = exchange(
        &t,
        xml_post_with_suid("PatientSelected", Some(&suid), padded.as_bytes()),
    )
    .await
    .unwrap();
    reply.error("9005", None);

    // One byte beyond the largest valid MessageCreate: refused as a file too large.
    let head = format!(
        r#"<MessageCreate apiVersion="1" uuid="{}" patientId="{me}" onlineUserId="{me}" unitRecipientId="{team}" message="x"><!--"#,
        new_uuid()
    );
    let tail = "--></MessageCreate>";
    let pad = pfs_wire::MESSAGE_CREATE_MAX_BODY_BYTES + 1 - head.len() - tail.len();
    let huge = format!("{head}{}{tail}", "x".repeat(pad));
    assert_eq!(huge.len(), pfs_wire::MESSAGE_CREATE_MAX_BODY_BYTES + 1);
    let reply = exchange(
        &t,
        xml_post_with_suid("MessageCreate", Some(&suid), huge.as_bytes()),
    )
    .await
    .unwrap();
    reply.error("24", None);
    assert_eq!(counts(&t, &me).await.1, 3);
}

/// The practice side: recipients (only enabled ones are listed and may be written to), the
/// practice's attachment settings, and refusals of replies, reads and downloads.
async fn practice_side(backend: Backend) {
    let (_db, t) = start_on(backend, |_| {}).await;
    let s = User::new(&t, "Patel").await.session().await;
    let me = s.selected_patient_id();
    let base = format!("/api/practices/{ODS}/message-recipients");
    let (status, added) = t
        .admin(
            "POST",
            &base,
            Some(json!({"kind": "Recipient", "name": "Nurse Kim Lee"})),
        )
        .await
        .unwrap();
    assert_eq!(status, 201, "{added}");
    let nurse = added["id"].as_str().unwrap().to_owned();
    assert_eq!(nurse.len(), 12);
    for (body, what) in [
        (json!({"kind": "Doctor", "name": "X"}), "kind"),
        (json!({"kind": "Recipient", "name": "  "}), "name"),
        (
            json!({"kind": "Recipient", "name": "x".repeat(101)}),
            "name",
        ),
        (json!({"kind": "Recipient", "name": "bad\u{1}name"}), "name"),
    ] {
        let (status, v) = t.admin("POST", &base, Some(body)).await.unwrap();
        assert_eq!(status, 422, "{v}");
        assert!(v["message"].as_str().unwrap().contains(what), "{v}");
    }
    let (status, _) = t
        .admin("GET", "/api/practices/X99999/message-recipients", None)
        .await
        .unwrap();
    assert_eq!(status, 404);
    assert_eq!(s.message_recipients().await.unwrap().items.len(), 3);

    // Switched off: not listed, and a message to it is refused; renamed and on again: both.
    admin(
        &t,
        "PATCH",
        &format!("{base}/{nurse}"),
        Some(json!({"enabled": false})),
    )
    .await;
    let listed = s.message_recipients().await.unwrap().items;
    assert!(listed.iter().all(|i| i.id != nurse));
    expect_pfs(
        s.message_create(&NewMessage::new(MessageTo::Recipient(nurse.clone()), "x"))
            .await,
        "9041",
        &[],
    );
    let changed = admin(
        &t,
        "PATCH",
        &format!("{base}/{nurse}"),
        Some(json!({"enabled": true, "name": "Nurse K Lee"})),
    )
    .await;
    assert_eq!(changed["name"], "Nurse K Lee");
    let item = s
        .message_recipients()
        .await
        .unwrap()
        .items
        .into_iter()
        .find(|i| i.id == nurse)
        .unwrap();
    assert_eq!(
        (item.kind, item.name.as_str()),
        (RecipientKind::Recipient, "Nurse K Lee")
    );
    let sent = s
        .message_create(&NewMessage::new(
            MessageTo::Recipient(nurse.clone()),
            "Hello nurse",
        ))
        .await
        .unwrap();
    let conversation = sent.conversation_id.unwrap();
    let (status, _) = t
        .admin(
            "PATCH",
            &format!("{base}/123"),
            Some(json!({"enabled": true})),
        )
        .await
        .unwrap();
    assert_eq!(status, 404);

    // The practice's settings: limits within the wire's maxima, types the server can check.
    let settings = format!("/api/practices/{ODS}/settings");
    let practices = admin(&t, "GET", "/api/practices", None).await;
    let current = practices
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["ods"] == ODS)
        .unwrap()["settings"]
        .clone();
    let with = |k: &str, v: Value| {
        let mut c = current.clone();
        c[k] = v;
        c
    };
    for bad in [
        with("maxMessageAttachments", json!(4)),
        with("maxMessageAttachmentBytes", json!(5 * 1024 * 1024 + 1)),
        with("maxMessageAttachmentBytes", json!(0)),
        with("messageAttachmentTypes", json!(["exe"])),
    ] {
        let (status, v) = t.admin("PUT", &settings, Some(bad)).await.unwrap();
        assert_eq!(status, 422, "{v}");
    }
    let mut strict = with("messageAttachmentTypes", json!(["gif"]));
    strict["maxMessageAttachmentBytes"] = json!(16);
    strict["maxMessageAttachments"] = json!(1);
    admin(&t, "PUT", &settings, Some(strict)).await;
    let to = || MessageTo::Recipient(nurse.clone());
    let before = counts(&t, &me).await;
    expect_pfs(
        s.message_create(&NewMessage::new(to(), "x").attach_bytes("a.pdf", "pdf", &pdf(1)))
            .await,
        "9046",
        &[],
    );
    expect_pfs(
        s.message_create(
            &NewMessage::new(to(), "x")
                .attach_bytes("a.gif", "gif", b"GIF89a")
                .attach_bytes("b.gif", "gif", b"GIF89a"),
        )
        .await,
        "9049",
        &[],
    );
    expect_pfs(
        s.message_create(&NewMessage::new(to(), "x").attach_bytes("a.gif", "gif", &[b'G'; 17]))
            .await,
        "24",
        &[],
    );
    assert_eq!(counts(&t, &me).await, before);
    s.message_create(&NewMessage::new(to(), "x").attach_bytes("a.gif", "gif", b"GIF89a-small"))
        .await
        .unwrap();
    admin(&t, "PUT", &settings, Some(current.clone())).await;

    // Replies: a bad file or text refuses the reply and stores nothing; unknown conversations,
    // recipients and messages are 404.
    let replies = format!("/api/practices/{ODS}/conversations/{conversation}/replies");
    let before = counts(&t, &me).await;
    for body in [
        json!({"fromRecipientId": nurse, "text": "x", "attachments": [{"fileName": "a.pdf", "fileType": "pdf", "content": "iVBORw0KGgo="}]}),
        json!({"fromRecipientId": nurse, "text": "x", "attachments": [{"fileName": "../a.pdf", "fileType": "pdf", "content": "JVBERi0x"}]}),
        json!({"fromRecipientId": nurse, "text": " "}),
    ] {
        let (status, v) = t.admin("POST", &replies, Some(body)).await.unwrap();
        assert_eq!(status, 422, "{v}");
    }
    let (status, _) = t
        .admin(
            "POST",
            &replies,
            Some(json!({"fromRecipientId": "123", "text": "x"})),
        )
        .await
        .unwrap();
    assert_eq!(status, 404);
    let (status, _) = t
        .admin(
            "POST",
            &format!("/api/practices/{ODS}/conversations/123/replies"),
            Some(json!({"fromRecipientId": nurse, "text": "x"})),
        )
        .await
        .unwrap();
    assert_eq!(status, 404);
    assert_eq!(counts(&t, &me).await, before);
    let (status, _) = t
        .admin(
            "POST",
            &format!("/api/practices/{ODS}/messages/read"),
            Some(json!({"messageIds": [conversation, "123"]})),
        )
        .await
        .unwrap();
    assert_eq!(status, 404);
    let (status, _) = t
        .admin(
            "GET",
            &format!("/api/practices/{ODS}/messages?recipient=123"),
            None,
        )
        .await
        .unwrap();
    assert_eq!(status, 404);
    let (status, _) = t
        .admin(
            "GET",
            &format!("/api/practices/{ODS}/attachments/123"),
            None,
        )
        .await
        .unwrap();
    assert_eq!(status, 404);
    // Nothing was marked read by the refused request.
    let inbox = admin(
        &t,
        "GET",
        &format!("/api/practices/{ODS}/messages?recipient={nurse}"),
        None,
    )
    .await;
    assert!(
        inbox
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["readAt"].is_null())
    );
}
