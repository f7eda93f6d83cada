//! Online accounts, linkage keys, provider links and link throttles
//! ([`AccountStore`](pfs_core::store::AccountStore)).

use pfs_core::Store;
use pfs_core::model::{LinkThrottle, LinkageKeyRecord, ProviderLink};

use super::{account, assert_account, assert_conflict, patient, provider, session, t, world};

/// Accounts round-trip (every `Option` both ways) by id and by patient.
pub async fn accounts_round_trip(store: &dyn Store) {
    let w = world(store, 1).await;
    let p2 = patient(2, &w.practice.ods);
    store.insert_patient(&p2).await.unwrap();
    let mut a2 = account(2, &p2.id);
    a2.email = None;
    a2.mobile = Some("07700900123".into());
    a2.created_at = t(1_001);
    a2.ended_at = Some(t(86_400_999));
    store.insert_account(&a2).await.unwrap();

    assert_account(
        &store.account(&w.account.id).await.unwrap().expect("a1"),
        &w.account,
    );
    assert_account(&store.account(&a2.id).await.unwrap().expect("a2"), &a2);
    let by_patient = store.account_for_patient(&p2.id).await.unwrap();
    assert_account(&by_patient.expect("a2 by patient"), &a2);
    let by_patient = store.account_for_patient(&w.patient.id).await.unwrap();
    assert_account(&by_patient.expect("a1 by patient"), &w.account);
    assert!(store.account("42").await.unwrap().is_none());
    assert!(store.account_for_patient("42").await.unwrap().is_none());
}

/// A second account for a patient, or a reused account id, is a `Conflict`.
pub async fn account_conflicts(store: &dyn Store) {
    let w = world(store, 1).await;
    let p2 = patient(2, &w.practice.ods);
    store.insert_patient(&p2).await.unwrap();

    let second = account(2, &w.patient.id);
    assert_conflict(
        store.insert_account(&second).await,
        Some("patient_id"),
        &[&w.patient.id, second.email.as_deref().unwrap()],
    );
    assert!(store.account(&second.id).await.unwrap().is_none());

    let mut same_id = account(3, &p2.id);
    same_id.id = w.account.id.clone();
    assert_conflict(store.insert_account(&same_id).await, None, &[&w.account.id]);
    assert!(store.account_for_patient(&p2.id).await.unwrap().is_none());
    let kept = store.account_for_patient(&w.patient.id).await.unwrap();
    assert_account(&kept.expect("first account"), &w.account);
}

/// `end_account` ends the account and its open sessions, and only those.
pub async fn end_account_ends_its_sessions(store: &dyn Store) {
    let w = world(store, 1).await;
    let v = world(store, 2).await;
    let s1 = session(1, &w.provider.id, &w.account, t(10));
    let s2 = session(2, &v.provider.id, &w.account, t(20));
    let s3 = session(3, &w.provider.id, &v.account, t(30));
    let mut s4 = session(4, &w.provider.id, &w.account, t(40));
    s4.ended_at = Some(t(50));
    for s in [&s1, &s2, &s3, &s4] {
        store.insert_session(s).await.unwrap();
    }

    assert!(store.end_account(&w.account.id, t(7_000)).await.unwrap());
    let ended = store
        .account(&w.account.id)
        .await
        .unwrap()
        .expect("account");
    assert_eq!(ended.ended_at, Some(t(7_000)));
    assert_eq!(ended.created_at, w.account.created_at);
    for s in [&s1, &s2] {
        let got = store.session(&s.suid_hash).await.unwrap().expect("session");
        assert_eq!(got.ended_at, Some(t(7_000)));
    }
    let got = store.session(&s4.suid_hash).await.unwrap().expect("s4");
    assert_eq!(got.ended_at, Some(t(50)), "an ended session keeps its end");
    let got = store.session(&s3.suid_hash).await.unwrap().expect("s3");
    assert_eq!(got.ended_at, None, "another account's session stays open");
    assert_eq!(
        store
            .account(&v.account.id)
            .await
            .unwrap()
            .unwrap()
            .ended_at,
        None
    );

    assert!(!store.end_account("42", t(7_000)).await.unwrap());
}

/// An account has one linkage key; setting another replaces it.
pub async fn linkage_key_is_replaced(store: &dyn Store) {
    let w = world(store, 1).await;
    let v = world(store, 2).await;
    assert_eq!(store.linkage_key(&w.account.id).await.unwrap(), None);

    let first = LinkageKeyRecord {
        account_id: w.account.id.clone(),
        key_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaDE".into(),
        issued_at: t(1),
        expires_at: t(1 + 30 * 86_400_000),
    };
    store.set_linkage_key(&first).await.unwrap();
    assert_eq!(
        store.linkage_key(&w.account.id).await.unwrap(),
        Some(first.clone())
    );

    let second = LinkageKeyRecord {
        key_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdDI$aGFzaDI".into(),
        issued_at: t(2_002),
        expires_at: t(2_002 + 86_400_000),
        ..first.clone()
    };
    store.set_linkage_key(&second).await.unwrap();
    assert_eq!(
        store.linkage_key(&w.account.id).await.unwrap(),
        Some(second)
    );
    assert_eq!(store.linkage_key(&v.account.id).await.unwrap(), None);
    assert_eq!(store.linkage_key("42").await.unwrap(), None);
}

/// `upsert_provider_link` creates, then replaces, the one link per (account, provider).
pub async fn provider_link_upsert(store: &dyn Store) {
    let w = world(store, 1).await;
    let other = provider(2, t(0));
    store.insert_provider(&other).await.unwrap();
    assert_eq!(
        store
            .provider_link(&w.account.id, &w.provider.id)
            .await
            .unwrap(),
        None
    );

    let link = ProviderLink {
        account_id: w.account.id.clone(),
        provider_id: w.provider.id.clone(),
        passphrase_hash: "a".repeat(64),
        linked_at: t(3),
    };
    store.upsert_provider_link(&link).await.unwrap();
    let got = store
        .provider_link(&w.account.id, &w.provider.id)
        .await
        .unwrap();
    assert_eq!(got, Some(link.clone()));

    let relinked = ProviderLink {
        passphrase_hash: "b".repeat(64),
        linked_at: t(9_999),
        ..link.clone()
    };
    store.upsert_provider_link(&relinked).await.unwrap();
    let got = store
        .provider_link(&w.account.id, &w.provider.id)
        .await
        .unwrap();
    assert_eq!(got, Some(relinked));
    assert_eq!(
        store.provider_link(&w.account.id, &other.id).await.unwrap(),
        None
    );

    let elsewhere = ProviderLink {
        provider_id: other.id.clone(),
        ..link
    };
    store.upsert_provider_link(&elsewhere).await.unwrap();
    assert_eq!(
        store.provider_link(&w.account.id, &other.id).await.unwrap(),
        Some(elsewhere)
    );
}

/// Throttle state is put, replaced, read per (account id, provider) and cleared; the account
/// id need not exist.
pub async fn link_throttle_put_get_clear(store: &dyn Store) {
    let p = provider(1, t(0));
    let q = provider(2, t(0));
    store.insert_provider(&p).await.unwrap();
    store.insert_provider(&q).await.unwrap();
    let typed = "123456789"; // no such account
    assert_eq!(store.link_throttle(typed, &p.id).await.unwrap(), None);

    let locked = LinkThrottle {
        failures: 3,
        locked_until: Some(t(60_000)),
    };
    store
        .put_link_throttle(typed, &p.id, &locked)
        .await
        .unwrap();
    assert_eq!(
        store.link_throttle(typed, &p.id).await.unwrap(),
        Some(locked)
    );
    assert_eq!(store.link_throttle(typed, &q.id).await.unwrap(), None);
    assert_eq!(store.link_throttle("987654321", &p.id).await.unwrap(), None);

    let counting = LinkThrottle {
        failures: u32::MAX,
        locked_until: None,
    };
    store
        .put_link_throttle(typed, &p.id, &counting)
        .await
        .unwrap();
    assert_eq!(
        store.link_throttle(typed, &p.id).await.unwrap(),
        Some(counting)
    );
    store
        .put_link_throttle(typed, &q.id, &locked)
        .await
        .unwrap();

    store.clear_link_throttle(typed, &p.id).await.unwrap();
    assert_eq!(store.link_throttle(typed, &p.id).await.unwrap(), None);
    assert_eq!(
        store.link_throttle(typed, &q.id).await.unwrap(),
        Some(locked)
    );
    store
        .clear_link_throttle(typed, &p.id)
        .await
        .expect("clearing nothing is fine");
}
