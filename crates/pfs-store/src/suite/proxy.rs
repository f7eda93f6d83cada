//! Proxy grants ([`ProxyStore`](pfs_core::store::ProxyStore)).

use pfs_core::Store;

use super::{assert_patients, patient, t, world};

/// Grants are idempotent, listed by patient id without the grantee, checked and revoked.
pub async fn proxy_grants(store: &dyn Store) {
    let w = world(store, 1).await;
    let ods = w.practice.ods.clone();
    let (p3, p2) = (patient(3, &ods), patient(2, &ods));
    store.insert_patient(&p3).await.unwrap();
    store.insert_patient(&p2).await.unwrap();
    let me = w.patient.id.as_str();
    assert!(store.proxy_patients(me).await.unwrap().is_empty());
    assert!(!store.has_proxy(me, &p2.id).await.unwrap());

    store.grant_proxy(me, &p3.id, t(1)).await.unwrap();
    store.grant_proxy(me, &p2.id, t(2)).await.unwrap();
    store
        .grant_proxy(me, &p2.id, t(3))
        .await
        .expect("a repeated grant is fine");
    store.grant_proxy(me, me, t(4)).await.unwrap();
    assert_patients(&store.proxy_patients(me).await.unwrap(), &[&p2, &p3]);
    assert!(store.has_proxy(me, &p2.id).await.unwrap());
    assert!(store.has_proxy(me, &p3.id).await.unwrap());
    assert!(
        !store.has_proxy(&p2.id, me).await.unwrap(),
        "grants are one-way"
    );
    assert!(store.proxy_patients(&p2.id).await.unwrap().is_empty());

    assert!(store.revoke_proxy(me, &p2.id).await.unwrap());
    assert!(!store.revoke_proxy(me, &p2.id).await.unwrap());
    assert!(!store.revoke_proxy(&p3.id, me).await.unwrap());
    assert!(!store.has_proxy(me, &p2.id).await.unwrap());
    assert_patients(&store.proxy_patients(me).await.unwrap(), &[&p3]);

    store.grant_proxy(me, &p2.id, t(5)).await.unwrap();
    assert_patients(&store.proxy_patients(me).await.unwrap(), &[&p2, &p3]);
}
