//! Fault injection rules ([`FaultStore`](pfs_core::store::FaultStore)).

use pfs_core::Store;
use pfs_core::fault::{DropWhen, FaultAction, FaultHit, FaultMatch, FaultSpec, FaultTrigger};

use super::t;

fn spec(patient: &str, count: Option<u64>) -> FaultSpec {
    FaultSpec {
        matches: FaultMatch {
            patient_id: Some(patient.to_owned()),
            message_type: Some("ViewAppointments".into()),
            ..FaultMatch::default()
        },
        trigger: FaultTrigger {
            probability: Some(0.25),
            seed: Some(42),
            count,
            ..FaultTrigger::default()
        },
        action: FaultAction::Drop {
            when: DropWhen::AfterHandling,
        },
    }
}

/// Rules round-trip with their spec; ids count up and are not reused; removing one or all
/// moves the version; unknown ids are reported as such.
pub async fn fault_rules_round_trip(store: &dyn Store) {
    let v0 = store.fault_rules_version().await.unwrap();
    assert!(store.list_fault_rules().await.unwrap().is_empty());
    let a = store
        .insert_fault_rule(&spec("1", Some(3)), t(0))
        .await
        .unwrap();
    let b = store
        .insert_fault_rule(&spec("2", None), t(5))
        .await
        .unwrap();
    assert!(b.id > a.id);
    assert_eq!(a.spec, spec("1", Some(3)));
    assert_eq!((a.created_at, a.hits, a.matched), (t(0), 0, 0));
    assert_eq!(a.remaining, Some(3));
    assert_eq!(b.remaining, None);
    let v1 = store.fault_rules_version().await.unwrap();
    assert!(v1 > v0, "adding moves the version");
    assert_eq!(store.fault_rule(a.id).await.unwrap(), Some(a.clone()));
    assert_eq!(store.fault_rule(b.id + 100).await.unwrap(), None);
    assert_eq!(store.fault_rule(u64::MAX).await.unwrap(), None);
    assert_eq!(
        store.list_fault_rules().await.unwrap(),
        vec![a.clone(), b.clone()]
    );

    assert!(store.delete_fault_rule(a.id).await.unwrap());
    assert!(!store.delete_fault_rule(a.id).await.unwrap());
    let v2 = store.fault_rules_version().await.unwrap();
    assert!(v2 > v1, "removing moves the version");
    let c = store
        .insert_fault_rule(&spec("3", None), t(9))
        .await
        .unwrap();
    assert!(c.id > b.id, "an id is never given twice");
    assert_eq!(store.delete_fault_rules().await.unwrap(), 2);
    assert!(store.list_fault_rules().await.unwrap().is_empty());
    assert!(store.fault_rules_version().await.unwrap() > v2);
    assert_eq!(store.count_fault_match(c.id).await.unwrap(), None);
    assert_eq!(store.record_fault_hit(c.id).await.unwrap(), None);
}

/// Matches count up; hits take from the count and stop when it is spent, which moves the
/// version (hits that do not spend it leave the version alone).
pub async fn fault_rule_counters(store: &dyn Store) {
    let r = store
        .insert_fault_rule(&spec("1", Some(2)), t(0))
        .await
        .unwrap();
    let free = store
        .insert_fault_rule(&spec("2", None), t(0))
        .await
        .unwrap();
    for k in 1..=3 {
        assert_eq!(store.count_fault_match(r.id).await.unwrap(), Some(k));
    }
    let v = store.fault_rules_version().await.unwrap();
    assert_eq!(
        store.record_fault_hit(r.id).await.unwrap(),
        Some(FaultHit {
            hits: 1,
            remaining: Some(1)
        })
    );
    assert_eq!(store.fault_rules_version().await.unwrap(), v);
    assert_eq!(
        store.record_fault_hit(r.id).await.unwrap(),
        Some(FaultHit {
            hits: 2,
            remaining: Some(0)
        })
    );
    assert!(store.fault_rules_version().await.unwrap() > v, "spent");
    assert_eq!(store.record_fault_hit(r.id).await.unwrap(), None);
    let stored = store.fault_rule(r.id).await.unwrap().unwrap();
    assert_eq!(
        (stored.matched, stored.hits, stored.remaining),
        (3, 2, Some(0))
    );
    assert!(stored.spent());
    for n in 1..=5 {
        assert_eq!(
            store.record_fault_hit(free.id).await.unwrap(),
            Some(FaultHit {
                hits: n,
                remaining: None
            })
        );
    }
}

/// Many hits at once on a rule with a count: exactly the count of them is recorded.
pub async fn concurrent_fault_hits(store: &dyn Store) {
    let r = store
        .insert_fault_rule(&spec("1", Some(5)), t(0))
        .await
        .unwrap();
    let tries = (0..24).map(|_| store.record_fault_hit(r.id));
    let hits: Vec<FaultHit> = futures_util::future::join_all(tries)
        .await
        .into_iter()
        .filter_map(|hit| hit.unwrap())
        .collect();
    assert_eq!(hits.len(), 5);
    let mut numbers: Vec<u64> = hits.iter().map(|h| h.hits).collect();
    numbers.sort_unstable();
    assert_eq!(numbers, vec![1, 2, 3, 4, 5]);
    let stored = store.fault_rule(r.id).await.unwrap().unwrap();
    assert_eq!((stored.hits, stored.remaining), (5, Some(0)));
}
