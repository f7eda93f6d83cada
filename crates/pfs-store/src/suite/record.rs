//! The patient's record ([`RecordStore`](pfs_core::store::RecordStore)).

use pfs_core::model::{
    BinaryKind, DocumentItem, NewBinaryData, RecordEvent, RecordGrant, RecordItem, RecordLevel,
    TestResult, TestValue,
};
use pfs_core::{Store, StoreError};

use super::{DAY, patient, record_access, t, world};

fn item(id: &str, item_type: &str, details: &str) -> RecordItem {
    RecordItem {
        id: id.into(),
        item_type: item_type.into(),
        details: details.into(),
        snomed_code: None,
        binary_data_id: None,
        visible: true,
    }
}

fn event(id: &str, patient_id: &str, at_ms: i64, items: Vec<RecordItem>) -> RecordEvent {
    RecordEvent {
        id: id.into(),
        patient_id: patient_id.into(),
        at: t(at_ms),
        done_by: "Dr A Jones".into(),
        location: "Riverside Surgery".into(),
        items,
    }
}

/// Events round-trip newest first with their items in the order entered, text byte for byte;
/// items are added to an event, hidden and shown; every write logs; ids are unique.
pub async fn record_events_round_trip(store: &dyn Store) {
    let w = world(store, 1).await;
    let me = &w.patient.id;
    let p2 = patient(2, &w.practice.ods);
    store.insert_patient(&p2).await.unwrap();
    let log = record_access(me, t(0), "Added to record");

    let text = "\tBP 120/80 & <normal>\r\nReview in 6 months \u{1F600} caf\u{e9} ";
    let older = event(
        "1001",
        me,
        DAY,
        vec![
            RecordItem {
                snomed_code: Some("38341003".into()),
                ..item("2001", "Problem", "Hypertension")
            },
            item("2002", "Note", text),
        ],
    );
    let newer = event(
        "1002",
        me,
        2 * DAY,
        vec![item("2003", "Allergy", "Penicillin")],
    );
    let theirs = event(
        "1003",
        &p2.id,
        3 * DAY,
        vec![item("2004", "Note", "theirs")],
    );
    store.insert_record_event(&older, None, &log).await.unwrap();
    store.insert_record_event(&newer, None, &log).await.unwrap();
    store
        .insert_record_event(
            &theirs,
            None,
            &record_access(&p2.id, t(0), "Added to record"),
        )
        .await
        .unwrap();
    assert_eq!(
        store.record_events(me).await.unwrap(),
        vec![newer.clone(), older.clone()]
    );

    // An item added later comes after the event's others; a document brings its file.
    let file = NewBinaryData {
        id: "300000000001".into(),
        patient_id: me.clone(),
        kind: BinaryKind::Document,
        file_name: "letter.pdf".into(),
        file_type: "pdf".into(),
        pages: vec![b"%PDF-1.4".to_vec()],
        uploading: false,
        created_at: t(0),
    };
    let letter = RecordItem {
        binary_data_id: Some(file.id.clone()),
        ..item("2005", "Letter", "PDF: letter.pdf - from the hospital")
    };
    assert!(
        store
            .insert_record_item(me, "1001", &letter, Some(&file), &log)
            .await
            .unwrap()
    );
    assert_eq!(
        store.binary_data_page(&file.id, 1).await.unwrap(),
        Some(b"%PDF-1.4".to_vec())
    );
    // Another patient's event, or an unknown one: nothing is stored, not even the file.
    let stray = NewBinaryData {
        id: "300000000002".into(),
        ..file.clone()
    };
    for (patient, event) in [(me.as_str(), "1003"), (me.as_str(), "1999")] {
        assert!(
            !store
                .insert_record_item(
                    patient,
                    event,
                    &item("2099", "Note", "x"),
                    Some(&stray),
                    &log
                )
                .await
                .unwrap()
        );
    }
    assert_eq!(store.binary_data_info(&stray.id).await.unwrap(), None);
    let events = store.record_events(me).await.unwrap();
    assert_eq!(events[1].items.last(), Some(&letter));
    assert_eq!(events[1].items.len(), 3);

    assert_eq!(
        store.document_item(&file.id).await.unwrap(),
        Some(DocumentItem {
            patient_id: me.clone(),
            event_id: "1001".into(),
            item: letter.clone()
        })
    );
    assert_eq!(store.document_item("300000000009").await.unwrap(), None);

    // Hiding needs the item to be the logged patient's.
    assert!(
        !store
            .set_record_item_visible("2004", false, &log)
            .await
            .unwrap()
    );
    assert!(
        store
            .set_record_item_visible("2002", false, &log)
            .await
            .unwrap()
    );
    let events = store.record_events(me).await.unwrap();
    assert!(!events[1].items[1].visible);
    assert!(
        store
            .set_record_item_visible("2002", true, &log)
            .await
            .unwrap()
    );

    // Overview items by type, newest first.
    let typed = store
        .record_items_of_types(me, &["Allergy", "Problem"])
        .await
        .unwrap();
    let ids: Vec<&str> = typed.iter().map(|(_, i)| i.id.as_str()).collect();
    assert_eq!(ids, ["2003", "2001"]);
    assert_eq!(typed[0].0, t(2 * DAY));

    assert!(matches!(
        store.insert_record_event(&older, None, &log).await,
        Err(StoreError::Conflict(_))
    ));
    // A document's event that cannot be stored leaves no file behind.
    let orphan = NewBinaryData {
        id: "300000000003".into(),
        ..file.clone()
    };
    assert!(matches!(
        store.insert_record_event(&older, Some(&orphan), &log).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(store.binary_data_info(&orphan.id).await.unwrap(), None);
    // With a new event, the file is stored with it.
    let scan = NewBinaryData {
        id: "300000000004".into(),
        ..file.clone()
    };
    let filed = event(
        "1004",
        me,
        0,
        vec![RecordItem {
            binary_data_id: Some(scan.id.clone()),
            ..item("2006", "Attachment", "PDF: scan.pdf")
        }],
    );
    store
        .insert_record_event(&filed, Some(&scan), &log)
        .await
        .unwrap();
    assert!(store.binary_data_info(&scan.id).await.unwrap().is_some());
    assert!(matches!(
        store
            .insert_record_event(
                &event("1009", "9999999", 0, vec![item("2009", "Note", "x")]),
                None,
                &log
            )
            .await,
        Err(StoreError::NotFound(_))
    ));
    // Three events, one document added, two visibility changes: six entries for me.
    let logged = store.record_accesses(me, t(-1), t(1)).await.unwrap();
    assert_eq!(logged.len(), 6);
}

fn result(id: &str, patient_id: &str, at_ms: i64) -> TestResult {
    TestResult {
        id: id.into(),
        patient_id: patient_id.into(),
        at: t(at_ms),
        category: "Pathology".into(),
        name: "Full blood count".into(),
        values: vec![TestValue {
            name: "Haemoglobin".into(),
            value: "131".into(),
            units: Some("g/L".into()),
            reference_range: Some("115 - 165".into()),
            abnormal: false,
        }],
        comment: Some("Normal".into()),
        visible: true,
    }
}

/// Test results in `[from, to)`, newest first, per patient; hidden and shown.
pub async fn test_results_round_trip(store: &dyn Store) {
    let w = world(store, 1).await;
    let me = &w.patient.id;
    let p2 = patient(2, &w.practice.ods);
    store.insert_patient(&p2).await.unwrap();
    let log = record_access(me, t(0), "Added test result");
    let (a, b) = (result("4001", me, DAY), result("4002", me, 2 * DAY));
    let theirs = result("4003", &p2.id, DAY);
    store.insert_test_result(&a, &log).await.unwrap();
    store.insert_test_result(&b, &log).await.unwrap();
    store
        .insert_test_result(&theirs, &record_access(&p2.id, t(0), "Added test result"))
        .await
        .unwrap();
    assert_eq!(
        store.test_results(me, t(0), t(3 * DAY)).await.unwrap(),
        vec![b.clone(), a.clone()]
    );
    assert_eq!(
        store.test_results(me, t(DAY), t(2 * DAY)).await.unwrap(),
        vec![a.clone()]
    );
    assert_eq!(store.test_result("4003").await.unwrap(), Some(theirs));
    assert_eq!(store.test_result("4999").await.unwrap(), None);
    assert!(
        !store
            .set_test_result_visible("4003", false, &log)
            .await
            .unwrap()
    );
    assert!(
        store
            .set_test_result_visible("4001", false, &log)
            .await
            .unwrap()
    );
    assert!(!store.test_result("4001").await.unwrap().unwrap().visible);
    assert!(matches!(
        store.insert_test_result(&a, &log).await,
        Err(StoreError::Conflict(_))
    ));
}

/// Grants are per patient and grantee, replaced, and cleared back to no row.
pub async fn record_grants_round_trip(store: &dyn Store) {
    let w = world(store, 1).await;
    let me = &w.patient.id;
    let carer = patient(2, &w.practice.ods);
    store.insert_patient(&carer).await.unwrap();
    let log = record_access(me, t(0), "Changed online record access");
    assert_eq!(store.record_grant(me, me).await.unwrap(), None);
    let coded = RecordGrant {
        level: RecordLevel::Coded,
        documents: true,
        test_results: false,
    };
    store
        .set_record_grant(me, me, Some(coded), &log)
        .await
        .unwrap();
    store
        .set_record_grant(me, &carer.id, Some(RecordGrant::PROXY_DEFAULT), &log)
        .await
        .unwrap();
    assert_eq!(store.record_grant(me, me).await.unwrap(), Some(coded));
    assert_eq!(
        store.record_grant(me, &carer.id).await.unwrap(),
        Some(RecordGrant::PROXY_DEFAULT)
    );
    let none = RecordGrant {
        level: RecordLevel::None,
        documents: false,
        test_results: false,
    };
    store
        .set_record_grant(me, me, Some(none), &log)
        .await
        .unwrap();
    assert_eq!(store.record_grant(me, me).await.unwrap(), Some(none));
    store.set_record_grant(me, me, None, &log).await.unwrap();
    assert_eq!(store.record_grant(me, me).await.unwrap(), None);
    assert_eq!(
        store.record_grant(me, &carer.id).await.unwrap(),
        Some(RecordGrant::PROXY_DEFAULT)
    );
    assert_eq!(
        store.record_accesses(me, t(-1), t(1)).await.unwrap().len(),
        4
    );
}

/// The record token: 0 for a record never written; a new value with every write to the
/// patient's events or items (and none for another patient's, or for a write refused), read
/// with the events in one snapshot; never back to a value it had, even when a sandbox restore
/// puts the record back as it was.
pub async fn record_token_moves_with_every_record_write(store: &dyn Store) {
    let w = world(store, 1).await;
    let me = &w.patient.id;
    let p2 = patient(2, &w.practice.ods);
    store.insert_patient(&p2).await.unwrap();
    let log = record_access(me, t(0), "Added to record");
    assert_eq!(store.record_token(me).await.unwrap(), 0);
    assert_eq!(store.record_token("9999999").await.unwrap(), 0);
    let (token, events) = store.record_events_with_token(me).await.unwrap();
    assert!(events.is_empty());
    assert!(matches!(token, None | Some(0)), "{token:?}");

    let mut seen = vec![0];
    // Each step changes my record; the token must be new and read with the same rows.
    async fn moved(store: &dyn Store, me: &str, seen: &mut Vec<i64>) {
        let token = store.record_token(me).await.unwrap();
        assert!(!seen.contains(&token), "the token came back: {token}");
        let (with_events, events) = store.record_events_with_token(me).await.unwrap();
        assert_eq!(with_events, Some(token));
        assert_eq!(events, store.record_events(me).await.unwrap());
        seen.push(token);
    }
    let first = event("1001", me, DAY, vec![item("2001", "Note", "first")]);
    store.insert_record_event(&first, None, &log).await.unwrap();
    moved(store, me, &mut seen).await;
    assert!(
        store
            .insert_record_item(me, "1001", &item("2002", "Note", "second"), None, &log)
            .await
            .unwrap()
    );
    moved(store, me, &mut seen).await;
    assert!(
        store
            .set_record_item_visible("2002", false, &log)
            .await
            .unwrap()
    );
    moved(store, me, &mut seen).await;

    // Another patient's record, a refused write, a read: my token stays.
    let still = *seen.last().unwrap();
    store
        .insert_record_event(
            &event("1002", &p2.id, DAY, vec![item("2003", "Note", "theirs")]),
            None,
            &record_access(&p2.id, t(0), "Added to record"),
        )
        .await
        .unwrap();
    assert!(matches!(
        store.insert_record_event(&first, None, &log).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(
        !store
            .set_record_item_visible("2003", false, &log)
            .await
            .unwrap()
    );
    store.record_events(me).await.unwrap();
    assert_eq!(store.record_token(me).await.unwrap(), still);
    assert_ne!(store.record_token(&p2.id).await.unwrap(), 0);

    // A snapshot, a change, a restore: the old rows come back under a token never seen with
    // the newer ones.
    store.save_snapshot("token", t(0)).await.unwrap();
    let before = store.record_events(me).await.unwrap();
    store
        .insert_record_event(
            &event("1003", me, 2 * DAY, vec![item("2004", "Note", "later")]),
            None,
            &log,
        )
        .await
        .unwrap();
    moved(store, me, &mut seen).await;
    let after_change = *seen.last().unwrap();
    store.restore_snapshot("token").await.unwrap();
    let (token, events) = store.record_events_with_token(me).await.unwrap();
    assert_eq!(events, before);
    assert_ne!(token, Some(after_change));
    store.delete_snapshot("token").await.unwrap();
}
