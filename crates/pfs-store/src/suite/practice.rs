//! Practices ([`PracticeStore`](pfs_core::store::PracticeStore)).

use pfs_core::Store;
use pfs_core::model::PracticeSettings;

use super::{assert_conflict, practice};

/// Practices round-trip (settings included), list by ODS code, update settings, conflict.
pub async fn practices_round_trip(store: &dyn Store) {
    let mut b = practice(2);
    b.settings = PracticeSettings {
        minimum_age: 13,
        ..PracticeSettings::default()
    };
    let a = practice(1);
    store.insert_practice(&b).await.unwrap();
    store.insert_practice(&a).await.unwrap();

    assert_eq!(store.practice(&a.ods).await.unwrap(), Some(a.clone()));
    assert_eq!(store.practice(&b.ods).await.unwrap(), Some(b.clone()));
    assert_eq!(store.practice("Z99999").await.unwrap(), None);
    assert_eq!(
        store.list_practices().await.unwrap(),
        vec![a.clone(), b.clone()]
    );

    let settings = PracticeSettings {
        minimum_age: 18,
        booking_window_days: 28,
        max_future_appointments: 2,
        cancellation_cutoff_minutes: 120,
        booking_guidance: Some("Book routine appointments up to 4 weeks ahead.".into()),
        medication_request_confirmation: Some("Allow 2 working days.".into()),
        medication_guidance: Some("Order a week before you run out.".into()),
        acute_requests_allowed: true,
        max_medications_per_request: 4,
        max_medication_notes: 200,
        demographics_approval: true,
        message_attachment_types: vec!["pdf".into(), "gif".into()],
        max_message_attachment_bytes: 1024,
        max_message_attachments: 1,
        max_document_bytes: 2 * 1024 * 1024,
    };
    assert!(
        store
            .update_practice_settings(&a.ods, &settings)
            .await
            .unwrap()
    );
    assert_eq!(
        store.practice(&a.ods).await.unwrap().unwrap().settings,
        settings
    );
    assert_eq!(store.practice(&b.ods).await.unwrap(), Some(b.clone()));
    assert!(
        !store
            .update_practice_settings("Z99999", &settings)
            .await
            .unwrap()
    );

    let mut dup = practice(3);
    dup.ods = a.ods.clone();
    assert_conflict(store.insert_practice(&dup).await, None, &[&dup.name]);
    assert_eq!(store.list_practices().await.unwrap().len(), 2);
}
