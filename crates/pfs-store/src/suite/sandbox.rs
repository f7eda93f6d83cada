//! Sandbox snapshots ([`SandboxStore`](pfs_core::store::SandboxStore)).

use pfs_core::Store;
use pfs_core::fault::{FaultAction, FaultMatch, FaultSpec, FaultTrigger};
use pfs_core::store::{SnapshotInfo, StoreError};

use super::{practice, t, world};

fn info(name: &str, at_ms: i64) -> SnapshotInfo {
    SnapshotInfo {
        name: name.to_owned(),
        taken_at: t(at_ms),
    }
}

/// Snapshots are saved, replaced, listed by name, restored (every table back as it was,
/// whichever came later) and deleted; unknown names are `NotFound`.
pub async fn snapshots_round_trip(store: &dyn Store) {
    let w = world(store, 1).await;
    assert!(store.list_snapshots().await.unwrap().is_empty());
    store.save_snapshot("one", t(0)).await.unwrap();

    store.insert_practice(&practice(2)).await.unwrap();
    store
        .set_practice_service(&w.practice.ods, "messaging", Some(false))
        .await
        .unwrap();
    store.save_snapshot("two", t(1_000)).await.unwrap();

    store.restore_snapshot("one").await.unwrap();
    assert_eq!(
        store.list_practices().await.unwrap(),
        vec![w.practice.clone()]
    );
    assert!(
        store
            .practice_services(&w.practice.ods)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store.patient(&w.patient.id).await.unwrap(),
        Some(w.patient.clone())
    );

    store.restore_snapshot("two").await.unwrap();
    assert_eq!(store.list_practices().await.unwrap().len(), 2);
    assert_eq!(
        store
            .practice_services(&w.practice.ods)
            .await
            .unwrap()
            .len(),
        1
    );

    store.save_snapshot("one", t(2_000)).await.unwrap();
    assert_eq!(
        store.list_snapshots().await.unwrap(),
        vec![info("one", 2_000), info("two", 1_000)]
    );
    store.delete_snapshot("two").await.unwrap();
    assert_eq!(
        store.list_snapshots().await.unwrap(),
        vec![info("one", 2_000)]
    );
    assert!(matches!(
        store.delete_snapshot("two").await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.restore_snapshot("two").await,
        Err(StoreError::NotFound(_))
    ));
    // What is live is untouched by the failed calls.
    assert_eq!(store.list_practices().await.unwrap().len(), 2);
}

/// Fault rules are not part of a snapshot: a restore leaves them, and their ids, as they are
/// (a new rule after a restore gets a new id, never an old one again).
pub async fn snapshots_leave_fault_rules_alone(store: &dyn Store) {
    let spec = FaultSpec {
        matches: FaultMatch::default(),
        trigger: FaultTrigger::default(),
        action: FaultAction::Empty,
    };
    let first = store.insert_fault_rule(&spec, t(0)).await.unwrap();
    store.save_snapshot("with-one-rule", t(1)).await.unwrap();
    let second = store.insert_fault_rule(&spec, t(2)).await.unwrap();
    store.restore_snapshot("with-one-rule").await.unwrap();
    let ids: Vec<u64> = store
        .list_fault_rules()
        .await
        .unwrap()
        .iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(ids, vec![first.id, second.id]);
    let third = store.insert_fault_rule(&spec, t(3)).await.unwrap();
    assert!(third.id > second.id, "{} after {}", third.id, second.id);
}

/// A name that could leave the snapshot store (a path, a quote) is refused by the backend
/// itself, whatever the caller checked.
pub async fn snapshot_names_are_checked_by_the_store(store: &dyn Store) {
    for bad in ["", "../x", "a/b", "a\"b", "UPPER", "x.db"] {
        assert!(store.save_snapshot(bad, t(0)).await.is_err(), "{bad:?}");
        assert!(store.restore_snapshot(bad).await.is_err(), "{bad:?}");
        assert!(store.delete_snapshot(bad).await.is_err(), "{bad:?}");
    }
    assert!(store.list_snapshots().await.unwrap().is_empty());
}
