//! Messaging ([`MessagingStore`](pfs_core::store::MessagingStore)).

use pfs_core::model::{
    BinaryKind, Message, MessageAttachmentInfo, MessageOwner, MessageRecipient, NewBinaryData,
};
use pfs_core::{Store, StoreError};
use pfs_wire::RecipientKind;

use super::{World, patient, record_access, t, world};

fn recipient(id: &str, ods: &str, kind: RecipientKind, name: &str) -> MessageRecipient {
    MessageRecipient {
        id: id.to_owned(),
        ods: ods.to_owned(),
        kind,
        name: name.to_owned(),
        enabled: true,
    }
}

fn message(id: &str, conversation: &str, patient_id: &str, at: i64, incoming: bool) -> Message {
    Message {
        id: id.to_owned(),
        conversation_id: conversation.to_owned(),
        patient_id: patient_id.to_owned(),
        sent_at: t(at),
        text: format!("text of {id}"),
        incoming,
        sender: "Ada Example".into(),
        recipient: "Reception".into(),
        recipient_id: "500000000001".into(),
        sent_by: incoming.then(|| patient_id.to_owned()),
        read_at: None,
        deleted_at: None,
        attachments: Vec::new(),
    }
}

fn file(id: &str, patient_id: &str, name: &str, bytes: &[u8]) -> NewBinaryData {
    NewBinaryData {
        id: id.to_owned(),
        patient_id: patient_id.to_owned(),
        kind: BinaryKind::Attachment,
        file_name: name.to_owned(),
        file_type: "pdf".into(),
        pages: vec![bytes.to_vec()],
        uploading: false,
        created_at: t(0),
    }
}

fn info(f: &NewBinaryData) -> MessageAttachmentInfo {
    MessageAttachmentInfo {
        binary_data_id: f.id.clone(),
        file_name: f.file_name.clone(),
        file_type: f.file_type.clone(),
        size: f.size(),
    }
}

async fn log_count(store: &dyn Store, patient_id: &str) -> usize {
    store
        .record_accesses(patient_id, t(-1_000_000), t(1_000_000))
        .await
        .unwrap()
        .len()
}

/// World 1 with its practice's team recipient "Reception" (`500000000001`).
async fn world_with_reception(store: &dyn Store) -> World {
    let w = world(store, 1).await;
    store
        .insert_message_recipient(&recipient(
            "500000000001",
            &w.practice.ods,
            RecipientKind::UnitRecipient,
            "Reception",
        ))
        .await
        .unwrap();
    w
}

fn ids(list: &[Message]) -> Vec<&str> {
    list.iter().map(|m| m.id.as_str()).collect()
}

/// Recipients round-trip; ids are unique; a change keeps what it does not name; people are
/// listed before teams; a recipient of an unknown practice is refused.
pub async fn message_recipients_round_trip(store: &dyn Store) {
    let w = world(store, 1).await;
    let ods = &w.practice.ods;
    let team = recipient(
        "500000000002",
        ods,
        RecipientKind::UnitRecipient,
        "Reception",
    );
    let doctor = recipient("500000000001", ods, RecipientKind::Recipient, "Dr Jones");
    store.insert_message_recipient(&team).await.unwrap();
    store.insert_message_recipient(&doctor).await.unwrap();
    assert!(matches!(
        store.insert_message_recipient(&doctor).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        store
            .insert_message_recipient(&recipient(
                "500000000003",
                "Z99999",
                RecipientKind::Recipient,
                "Nobody"
            ))
            .await,
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(
        store.message_recipients(ods).await.unwrap(),
        vec![doctor.clone(), team.clone()]
    );
    assert_eq!(
        store.message_recipient(&team.id).await.unwrap(),
        Some(team.clone())
    );
    assert_eq!(store.message_recipient("1").await.unwrap(), None);
    let off = store
        .update_message_recipient(&team.id, None, Some(false))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((off.name.as_str(), off.enabled), ("Reception", false));
    let renamed = store
        .update_message_recipient(&team.id, Some("Front desk"), None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (renamed.name.as_str(), renamed.enabled),
        ("Front desk", false)
    );
    assert_eq!(
        store
            .update_message_recipient("1", Some("x"), None)
            .await
            .unwrap(),
        None
    );
    assert!(store.message_recipients("Z99999").await.unwrap().is_empty());
}

/// A message is stored with its attachments and its log entry, all or nothing; conversations
/// and a patient's messages come oldest first; the unread count is of undeleted, unread
/// messages to the patient.
pub async fn messages_round_trip(store: &dyn Store) {
    let w = world_with_reception(store).await;
    let pid = &w.patient.id;
    let first = message("100000000001", "100000000001", pid, 0, true);
    store
        .insert_message(&first, &[], &record_access(pid, t(0), "Sent message"))
        .await
        .unwrap();
    let mut reply = message("100000000002", "100000000001", pid, 5, false);
    let files = [
        file("900000000001", pid, "a.pdf", b"%PDF-1"),
        file("900000000002", pid, "b.pdf", b"%PDF-2"),
    ];
    reply.attachments = files.iter().map(info).collect();
    store
        .insert_message(&reply, &files, &record_access(pid, t(5), "Replied"))
        .await
        .unwrap();
    // Same millisecond: stored order decides.
    let other = message("100000000003", "100000000003", pid, 5, true);
    store
        .insert_message(&other, &[], &record_access(pid, t(5), "Sent message"))
        .await
        .unwrap();
    assert_eq!(log_count(store, pid).await, 3);

    // A taken message id or attachment id stores nothing, not even the log entry.
    let mut dup = message("100000000001", "100000000001", pid, 9, true);
    assert!(matches!(
        store
            .insert_message(&dup, &[], &record_access(pid, t(9), "Sent message"))
            .await,
        Err(StoreError::Conflict(_))
    ));
    dup.id = "100000000004".into();
    let taken = [
        file("900000000003", pid, "c.pdf", b"%PDF-3"),
        file("900000000001", pid, "d.pdf", b"%PDF-4"),
    ];
    dup.attachments = taken.iter().map(info).collect();
    assert!(matches!(
        store
            .insert_message(&dup, &taken, &record_access(pid, t(9), "Sent message"))
            .await,
        Err(StoreError::Conflict(_))
    ));
    // Unknown recipient or patient.
    let mut orphan = message("100000000005", "100000000005", pid, 9, true);
    orphan.recipient_id = "1".into();
    assert!(matches!(
        store
            .insert_message(&orphan, &[], &record_access(pid, t(9), "Sent message"))
            .await,
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(log_count(store, pid).await, 3);
    // The files are the patient's attachments in the binary-data store; a refused message
    // left none of its files behind.
    let stored = store
        .binary_data_info("900000000002")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (stored.patient_id.as_str(), stored.kind, stored.size),
        (pid.as_str(), BinaryKind::Attachment, 6)
    );
    assert_eq!(
        store
            .binary_data_page("900000000002", 1)
            .await
            .unwrap()
            .as_deref(),
        Some(&b"%PDF-2"[..])
    );
    assert_eq!(store.binary_data_info("900000000003").await.unwrap(), None);
    assert_eq!(store.attachment_count(pid).await.unwrap(), 2);
    assert_eq!(store.attachment_count("1").await.unwrap(), 0);

    let all = store.patient_messages(pid).await.unwrap();
    assert_eq!(ids(&all), ["100000000001", "100000000002", "100000000003"]);
    assert_eq!(all[0], first);
    assert_eq!(all[1], reply);
    assert_eq!(all[1].attachments.len(), 2);
    let conversation = store.conversation("100000000001").await.unwrap();
    assert_eq!(ids(&conversation), ["100000000001", "100000000002"]);
    assert!(store.conversation("1").await.unwrap().is_empty());
    assert_eq!(store.unread_message_count(pid).await.unwrap(), 1);
    assert!(store.patient_messages("1").await.unwrap().is_empty());
}

/// Marking read and deleting change every listed message or none: an unknown id, another
/// patient's message or a deleted one refuses the whole list and writes no log entry.
pub async fn message_ids_are_all_or_nothing(store: &dyn Store) {
    let w = world_with_reception(store).await;
    let ods = &w.practice.ods;
    let pid = &w.patient.id;
    let other = patient(11, ods);
    store.insert_patient(&other).await.unwrap();
    let log = |what| record_access(pid, t(1), what);
    for (id, incoming, patient_id) in [
        ("100000000001", true, pid.as_str()),
        ("100000000002", false, pid.as_str()),
        ("100000000003", false, pid.as_str()),
        ("100000000009", false, other.id.as_str()),
    ] {
        store
            .insert_message(
                &message(id, "100000000001", patient_id, 0, incoming),
                &[],
                &record_access(patient_id, t(0), "Sent"),
            )
            .await
            .unwrap();
    }
    let before = log_count(store, pid).await;
    let list = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    let me = MessageOwner::Patient(pid);
    assert_eq!(store.unread_message_count(pid).await.unwrap(), 2);
    // Another patient's message, or an unknown id: nothing changes.
    for bad in [
        list(&["100000000002", "100000000009"]),
        list(&["100000000002", "1"]),
    ] {
        assert!(
            !store
                .mark_messages_read(me, &bad, t(2), Some(&log("Read")))
                .await
                .unwrap()
        );
        assert!(
            !store
                .delete_messages(pid, &bad, t(2), &log("Deleted"))
                .await
                .unwrap()
        );
    }
    assert_eq!(store.unread_message_count(pid).await.unwrap(), 2);
    assert_eq!(store.patient_messages(pid).await.unwrap().len(), 3);
    assert_eq!(log_count(store, pid).await, before);

    // The patient's own message may be listed: it stays as it is.
    assert!(
        store
            .mark_messages_read(
                me,
                &list(&["100000000001", "100000000002"]),
                t(2),
                Some(&log("Read"))
            )
            .await
            .unwrap()
    );
    assert_eq!(store.unread_message_count(pid).await.unwrap(), 1);
    let read = store.patient_messages(pid).await.unwrap();
    assert_eq!(read[0].read_at, None);
    assert_eq!(read[1].read_at, Some(t(2)));
    assert_eq!(log_count(store, pid).await, before + 1);

    // Deleting: gone from the list and the count; deleting again is refused.
    assert!(
        store
            .delete_messages(pid, &list(&["100000000003"]), t(3), &log("Deleted"))
            .await
            .unwrap()
    );
    assert_eq!(store.unread_message_count(pid).await.unwrap(), 0);
    assert_eq!(
        ids(&store.patient_messages(pid).await.unwrap()),
        ["100000000001", "100000000002"]
    );
    assert!(
        !store
            .delete_messages(pid, &list(&["100000000003"]), t(4), &log("Deleted"))
            .await
            .unwrap()
    );
    assert!(
        !store
            .mark_messages_read(me, &list(&["100000000003"]), t(4), None)
            .await
            .unwrap()
    );
    assert_eq!(
        store.conversation("100000000001").await.unwrap()[2].deleted_at,
        Some(t(3))
    );
    assert_eq!(log_count(store, pid).await, before + 2);

    // The practice reads the patients' messages to it; not another practice's.
    let practice = MessageOwner::Practice(ods);
    assert!(
        store
            .mark_messages_read(practice, &list(&["100000000001"]), t(5), None)
            .await
            .unwrap()
    );
    assert_eq!(
        store.conversation("100000000001").await.unwrap()[0].read_at,
        Some(t(5))
    );
    assert!(
        !store
            .mark_messages_read(
                MessageOwner::Practice("Z99999"),
                &list(&["100000000001"]),
                t(5),
                None
            )
            .await
            .unwrap()
    );
    assert!(!store.mark_messages_read(me, &[], t(5), None).await.unwrap());
    assert_eq!(log_count(store, pid).await, before + 2);
}

/// The inbox holds the patients' messages to the practice: unread first, then newest first;
/// per recipient; at most `limit`.
pub async fn practice_inbox_order(store: &dyn Store) {
    let w = world(store, 1).await;
    let ods = &w.practice.ods;
    let pid = &w.patient.id;
    let team = recipient(
        "500000000001",
        ods,
        RecipientKind::UnitRecipient,
        "Reception",
    );
    let doctor = recipient("500000000002", ods, RecipientKind::Recipient, "Dr Jones");
    store.insert_message_recipient(&team).await.unwrap();
    store.insert_message_recipient(&doctor).await.unwrap();
    for (id, at, to, incoming) in [
        ("100000000001", 1, &team, true),
        ("100000000002", 2, &doctor, true),
        ("100000000003", 3, &team, true),
        ("100000000004", 4, &team, false),
    ] {
        let mut m = message(id, id, pid, at, incoming);
        m.recipient_id = to.id.clone();
        store
            .insert_message(&m, &[], &record_access(pid, t(at), "Sent"))
            .await
            .unwrap();
    }
    store
        .mark_messages_read(
            MessageOwner::Practice(ods),
            &["100000000003".to_owned()],
            t(5),
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        ids(&store.practice_inbox(ods, None, 10).await.unwrap()),
        ["100000000002", "100000000001", "100000000003"]
    );
    assert_eq!(
        ids(&store.practice_inbox(ods, Some(&team.id), 10).await.unwrap()),
        ["100000000001", "100000000003"]
    );
    assert_eq!(
        ids(&store.practice_inbox(ods, None, 1).await.unwrap()),
        ["100000000002"]
    );
    assert!(
        store
            .practice_inbox("Z99999", None, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

/// The messages token: 0 for messages never written; a new value with every write to the
/// patient's messages (sent, replied to with a file, read by either side, deleted) and none
/// for another patient's, a refused write or a read; read with the messages in one snapshot;
/// after a sandbox restore, the messages as they were under a token other than the newer
/// ones'.
pub async fn messages_token_moves_with_every_messages_write(store: &dyn Store) {
    let w = world_with_reception(store).await;
    let ods = &w.practice.ods;
    let me = &w.patient.id;
    let other = patient(12, ods);
    store.insert_patient(&other).await.unwrap();
    assert_eq!(store.messages_token(me).await.unwrap(), 0);
    assert_eq!(store.messages_token("9999999").await.unwrap(), 0);
    let (token, messages) = store.patient_messages_with_token(me).await.unwrap();
    assert!(messages.is_empty());
    assert!(matches!(token, None | Some(0)), "{token:?}");

    let mut seen = vec![0];
    // Each step changes my messages; the token must be new and read with the same rows.
    async fn moved(store: &dyn Store, me: &str, seen: &mut Vec<i64>) {
        let token = store.messages_token(me).await.unwrap();
        assert!(!seen.contains(&token), "the token came back: {token}");
        let (with_messages, messages) = store.patient_messages_with_token(me).await.unwrap();
        assert_eq!(with_messages, Some(token));
        assert_eq!(messages, store.patient_messages(me).await.unwrap());
        seen.push(token);
    }
    let log = |what| record_access(me, t(1), what);
    let sent = message("100000000001", "100000000001", me, 0, true);
    store
        .insert_message(&sent, &[], &log("Sent"))
        .await
        .unwrap();
    moved(store, me, &mut seen).await;
    let files = [file("900000000001", me, "letter.pdf", b"%PDF-1")];
    let mut reply = message("100000000002", "100000000001", me, 1, false);
    reply.attachments = files.iter().map(info).collect();
    store
        .insert_message(&reply, &files, &log("Replied"))
        .await
        .unwrap();
    moved(store, me, &mut seen).await;
    let (_, with_file) = store.patient_messages_with_token(me).await.unwrap();
    assert_eq!(with_file.get(1).map(|m| m.attachments.len()), Some(1));
    let list = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    assert!(
        store
            .mark_messages_read(
                MessageOwner::Patient(me),
                &list(&["100000000002"]),
                t(2),
                Some(&log("Read"))
            )
            .await
            .unwrap()
    );
    moved(store, me, &mut seen).await;
    assert!(
        store
            .mark_messages_read(
                MessageOwner::Practice(ods),
                &list(&["100000000001"]),
                t(3),
                None
            )
            .await
            .unwrap()
    );
    moved(store, me, &mut seen).await;
    assert!(
        store
            .delete_messages(me, &list(&["100000000002"]), t(4), &log("Deleted"))
            .await
            .unwrap()
    );
    moved(store, me, &mut seen).await;

    // Another patient's message, refused writes, a read: my token stays.
    let still = *seen.last().unwrap();
    store
        .insert_message(
            &message("100000000009", "100000000009", &other.id, 5, true),
            &[],
            &record_access(&other.id, t(5), "Sent"),
        )
        .await
        .unwrap();
    assert!(matches!(
        store.insert_message(&sent, &[], &log("Sent")).await,
        Err(StoreError::Conflict(_))
    ));
    let refused = list(&["100000000001", "100000000009"]);
    assert!(
        !store
            .mark_messages_read(MessageOwner::Patient(me), &refused, t(6), None)
            .await
            .unwrap()
    );
    assert!(
        !store
            .delete_messages(me, &refused, t(6), &log("Deleted"))
            .await
            .unwrap()
    );
    store.patient_messages(me).await.unwrap();
    assert_eq!(store.messages_token(me).await.unwrap(), still);
    assert_ne!(store.messages_token(&other.id).await.unwrap(), 0);

    // A snapshot, a change, a restore: the old messages come back under a token other than
    // the newer messages'.
    store.save_snapshot("messages-token", t(0)).await.unwrap();
    let before = store.patient_messages(me).await.unwrap();
    store
        .insert_message(
            &message("100000000003", "100000000001", me, 7, true),
            &[],
            &log("Sent"),
        )
        .await
        .unwrap();
    moved(store, me, &mut seen).await;
    let after_change = *seen.last().unwrap();
    store.restore_snapshot("messages-token").await.unwrap();
    let (token, messages) = store.patient_messages_with_token(me).await.unwrap();
    assert_eq!(messages, before);
    assert_ne!(token, Some(after_change));
    assert_eq!(token, Some(store.messages_token(me).await.unwrap()));
    store.delete_snapshot("messages-token").await.unwrap();
}
