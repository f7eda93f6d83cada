//! The pharmacy directory and nominations ([`PharmacyStore`](pfs_core::store::PharmacyStore)).

use pfs_core::model::{Pharmacy, PostalAddress};
use pfs_core::pharmacy::postcode_search;
use pfs_core::{Store, StoreError};

use super::{record_access, t, world};

fn pharmacy(ods: &str, name: &str, postcode: &str) -> Pharmacy {
    Pharmacy {
        ods: ods.to_owned(),
        name: name.to_owned(),
        address: PostalAddress {
            house_name_flat: Some("1".into()),
            street: Some("High Street".into()),
            village: None,
            town: Some("Leeds".into()),
            county: None,
            postcode: postcode.to_owned(),
        },
        telephone: Some("01134960000".into()),
        closed_at: None,
    }
}

fn codes(list: &[Pharmacy]) -> Vec<&str> {
    list.iter().map(|p| p.ods.as_str()).collect()
}

/// Pharmacies round-trip; a duplicate insert is a conflict; an upsert replaces by ODS code;
/// closing hides a pharmacy from searches.
pub async fn pharmacies_round_trip(store: &dyn Store) {
    let a = pharmacy("FA001", "Alpha Pharmacy", "LS6 3AA");
    store.insert_pharmacy(&a).await.unwrap();
    assert_eq!(store.pharmacy("FA001").await.unwrap(), Some(a.clone()));
    assert_eq!(store.pharmacy("FA999").await.unwrap(), None);
    assert!(matches!(
        store.insert_pharmacy(&a).await,
        Err(StoreError::Conflict(_))
    ));
    let renamed = Pharmacy {
        name: "Alpha Chemist".into(),
        telephone: None,
        ..a.clone()
    };
    let b = pharmacy("FA002", "Beta Pharmacy", "LS7 1AB");
    store
        .upsert_pharmacies(&[renamed.clone(), b.clone()])
        .await
        .unwrap();
    assert_eq!(store.pharmacy("FA001").await.unwrap(), Some(renamed));
    assert_eq!(store.count_pharmacies().await.unwrap(), 2);
    assert!(store.close_pharmacy("FA002", t(5)).await.unwrap());
    assert!(!store.close_pharmacy("FA002", t(6)).await.unwrap());
    assert!(!store.close_pharmacy("FA999", t(6)).await.unwrap());
    assert_eq!(
        store.pharmacy("FA002").await.unwrap().unwrap().closed_at,
        Some(t(5))
    );
    let s = postcode_search("LS7").unwrap();
    assert_eq!(
        codes(&store.pharmacies_near(&s, 20).await.unwrap()),
        vec!["FA001"]
    );
    assert_eq!(
        codes(&store.pharmacies_named("chemist", 20).await.unwrap()),
        vec!["FA001"]
    );
    assert!(store.pharmacies_named("beta", 20).await.unwrap().is_empty());
}

/// Nearest first: the same postcode, the same sector, then districts by distance; only the
/// postcode's area; limited.
pub async fn pharmacies_near_order(store: &dyn Store) {
    let all = [
        pharmacy("P10", "Ten", "LS10 1AA"),
        pharmacy("P5", "Five", "LS5 3AA"),
        pharmacy("P6A", "Six sector 3", "LS6 3ZZ"),
        pharmacy("P6B", "Six exact", "LS6 3AB"),
        pharmacy("P6C", "Six sector 1", "LS6 1AA"),
        pharmacy("P7", "Seven", "LS7 1AA"),
        pharmacy("P1", "One", "LS1 1AA"),
        pharmacy("B6", "Other area", "BD6 3AB"),
    ];
    store.upsert_pharmacies(&all).await.unwrap();
    let s = postcode_search("LS6 3AB").unwrap();
    assert_eq!(
        codes(&store.pharmacies_near(&s, 20).await.unwrap()),
        vec!["P6B", "P6A", "P6C", "P5", "P7", "P10", "P1"]
    );
    assert_eq!(
        codes(&store.pharmacies_near(&s, 2).await.unwrap()),
        vec!["P6B", "P6A"]
    );
    let s = postcode_search("LS9").unwrap();
    assert_eq!(
        codes(&store.pharmacies_near(&s, 3).await.unwrap()),
        vec!["P10", "P7", "P6A"]
    );
    assert_eq!(
        codes(&store.pharmacies_named("six", 20).await.unwrap()),
        vec!["P6B", "P6C", "P6A"]
    );
}

/// A nomination is set, changed and removed with its access-log entries; unknown patients or
/// pharmacies are `NotFound`.
pub async fn nominated_pharmacy_cases(store: &dyn Store) {
    let w = world(store, 1).await;
    let me = &w.patient.id;
    store
        .upsert_pharmacies(&[
            pharmacy("FA001", "Alpha", "LS6 3AA"),
            pharmacy("FA002", "Beta", "LS6 3AB"),
        ])
        .await
        .unwrap();
    assert_eq!(store.nominated_pharmacy(me).await.unwrap(), None);
    store
        .set_nominated_pharmacy(
            me,
            Some("FA001"),
            t(1),
            &record_access(me, t(1), "Nominated"),
        )
        .await
        .unwrap();
    assert_eq!(
        store.nominated_pharmacy(me).await.unwrap().unwrap().ods,
        "FA001"
    );
    store
        .set_nominated_pharmacy(me, Some("FA002"), t(2), &record_access(me, t(2), "Changed"))
        .await
        .unwrap();
    assert_eq!(
        store.nominated_pharmacy(me).await.unwrap().unwrap().ods,
        "FA002"
    );
    let r = store
        .set_nominated_pharmacy(me, Some("FA999"), t(3), &record_access(me, t(3), "x"))
        .await;
    assert!(matches!(r, Err(StoreError::NotFound(_))), "{r:?}");
    store
        .set_nominated_pharmacy(me, None, t(4), &record_access(me, t(4), "Removed"))
        .await
        .unwrap();
    assert_eq!(store.nominated_pharmacy(me).await.unwrap(), None);
    let kinds: Vec<String> = store
        .record_accesses(me, t(0), t(10))
        .await
        .unwrap()
        .into_iter()
        .map(|l| l.access_type)
        .collect();
    assert_eq!(kinds, vec!["Nominated", "Changed", "Removed"]);
}
