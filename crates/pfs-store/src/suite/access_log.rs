//! The record access log ([`AccessLogStore`](pfs_core::store::AccessLogStore)).

use pfs_core::model::RecordAccess;
use pfs_core::{Store, StoreError};

use super::{patient, record_access, t, world};

/// Record access entries round-trip, oldest first, in `[from, to)`, per patient.
pub async fn record_accesses_round_trip(store: &dyn Store) {
    let w = world(store, 1).await;
    let me = &w.patient.id;
    let p2 = patient(2, &w.practice.ods);
    store.insert_patient(&p2).await.unwrap();

    let booked = record_access(me, t(2_000), "Booked appointment");
    let viewed = record_access(me, t(1_000), "Viewed appointments");
    let cancelled = record_access(me, t(3_000), "Cancelled appointment");
    let same_time = RecordAccess {
        method: "Practice".into(),
        accessed_by: "Dr A Jones".into(),
        ..record_access(me, t(2_000), "Cancelled appointment")
    };
    let theirs = record_access(&p2.id, t(2_000), "Booked appointment");
    for a in [&booked, &viewed, &cancelled, &same_time, &theirs] {
        store.insert_record_access(a).await.unwrap();
    }

    assert_eq!(
        store.record_accesses(me, t(0), t(10_000)).await.unwrap(),
        vec![
            viewed.clone(),
            booked.clone(),
            same_time.clone(),
            cancelled.clone()
        ]
    );
    assert_eq!(
        store.record_accesses(me, t(1_000), t(3_000)).await.unwrap(),
        vec![viewed, booked, same_time]
    );
    assert_eq!(
        store
            .record_accesses(&p2.id, t(0), t(10_000))
            .await
            .unwrap(),
        vec![theirs]
    );
    assert!(
        store
            .record_accesses("9999999", t(0), t(10_000))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(matches!(
        store
            .insert_record_access(&record_access("9999999", t(0), "Booked appointment"))
            .await,
        Err(StoreError::NotFound(_))
    ));
}

/// A group of entries is written in one call; an entry of a patient who does not exist (any
/// more) is dropped and the rest are written.
pub async fn record_accesses_in_groups(store: &dyn Store) {
    let w = world(store, 1).await;
    let me = &w.patient.id;
    let group: Vec<RecordAccess> = (0..300)
        .map(|i| record_access(me, t(i), "Viewed record"))
        .collect();
    store.insert_record_accesses(&group).await.unwrap();
    store.insert_record_accesses(&[]).await.unwrap();
    assert_eq!(
        store.record_accesses(me, t(0), t(10_000)).await.unwrap(),
        group
    );

    // Entries of the same instant come back in the group's order.
    let same_instant: Vec<RecordAccess> =
        ["Viewed record", "Viewed test results", "Viewed documents"]
            .into_iter()
            .map(|what| record_access(me, t(7_000), what))
            .collect();
    store.insert_record_accesses(&same_instant).await.unwrap();
    assert_eq!(
        store.record_accesses(me, t(7_000), t(7_001)).await.unwrap(),
        same_instant
    );

    // An entry of a patient who no longer exists (deleted with a sandbox namespace while
    // their requests were answered) is dropped; it does not take the others down with it.
    let mixed = [
        record_access(me, t(5_000), "Viewed test results"),
        record_access("9999999", t(5_000), "Viewed test results"),
    ];
    store.insert_record_accesses(&mixed).await.unwrap();
    assert_eq!(
        store.record_accesses(me, t(5_000), t(5_001)).await.unwrap(),
        mixed[..1]
    );
}
