//! Providers ([`ProviderStore`](pfs_core::store::ProviderStore)), `ping`, and the wording of
//! conflicts and missing references on every backend.

use pfs_core::{Store, StoreResult};

use super::{account, assert_conflict, patient, practice, provider, session, t, world};

/// `ping` answers on a fresh store.
pub async fn ping(store: &dyn Store) {
    store.ping().await.expect("ping");
}

/// Providers round-trip by id, by fingerprint and in the oldest-first list.
pub async fn providers_round_trip(store: &dyn Store) {
    let mut newer = provider(2, t(60_000));
    newer.revoked_at = Some(t(120_001));
    let older = provider(1, t(1));
    assert!(older.trusted_identity && !newer.trusted_identity);
    store.insert_provider(&newer).await.expect("insert newer");
    store.insert_provider(&older).await.expect("insert older");

    assert_eq!(
        store.provider(&older.id).await.unwrap(),
        Some(older.clone())
    );
    assert_eq!(
        store.provider(&newer.id).await.unwrap(),
        Some(newer.clone())
    );
    assert_eq!(
        store
            .provider_by_fingerprint(&newer.fingerprint)
            .await
            .unwrap(),
        Some(newer.clone())
    );
    assert_eq!(
        store
            .provider_by_fingerprint(&older.fingerprint)
            .await
            .unwrap(),
        Some(older.clone())
    );
    assert_eq!(store.provider("00000000000000ff").await.unwrap(), None);
    assert_eq!(store.provider_by_fingerprint("ff").await.unwrap(), None);
    assert_eq!(store.list_providers().await.unwrap(), vec![older, newer]);
}

/// A second provider with the same fingerprint or id is a `Conflict` naming no values.
pub async fn provider_conflicts(store: &dyn Store) {
    let first = provider(1, t(0));
    store.insert_provider(&first).await.expect("insert");

    let mut same_fingerprint = provider(2, t(5));
    same_fingerprint.fingerprint = first.fingerprint.clone();
    assert_conflict(
        store.insert_provider(&same_fingerprint).await,
        Some("fingerprint"),
        &[
            &first.fingerprint,
            &same_fingerprint.id,
            &same_fingerprint.name,
        ],
    );

    let mut same_id = provider(3, t(5));
    same_id.id = first.id.clone();
    assert_conflict(store.insert_provider(&same_id).await, None, &[&first.id]);

    assert_eq!(store.list_providers().await.unwrap(), vec![first]);
}

/// Conflicts and missing references are worded alike on every backend: the key or the kind of
/// row, never a value.
pub async fn error_texts_name_the_key(store: &dyn Store) {
    let text = |r: StoreResult<()>| r.expect_err("must fail").to_string();
    let first = provider(1, t(0));
    store.insert_provider(&first).await.unwrap();
    let mut twin = provider(2, t(0));
    twin.fingerprint = first.fingerprint.clone();
    assert_eq!(
        text(store.insert_provider(&twin).await),
        "already exists: providers.fingerprint"
    );
    let mut twin = provider(2, t(0));
    twin.id = first.id.clone();
    assert_eq!(
        text(store.insert_provider(&twin).await),
        "already exists: providers.id"
    );

    let ods = practice(1).ods;
    assert_eq!(
        text(store.insert_patient(&patient(1, &ods)).await),
        "not found: practice"
    );
    store.insert_practice(&practice(1)).await.unwrap();
    let p = patient(1, &ods);
    store.insert_patient(&p).await.unwrap();
    let mut twin = patient(2, &ods);
    twin.nhs_number = p.nhs_number.clone();
    assert_eq!(
        text(store.insert_patient(&twin).await),
        "already exists: patients.nhs_number"
    );

    store.insert_account(&account(1, &p.id)).await.unwrap();
    assert_eq!(
        text(store.insert_account(&account(2, &p.id)).await),
        "already exists: online_accounts.patient_id"
    );
    let other = patient(3, &ods);
    store.insert_patient(&other).await.unwrap();
    assert_eq!(
        text(store.insert_account(&account(1, &other.id)).await),
        "already exists: online_accounts.id"
    );
}

/// `revoke_provider` marks the provider and ends its open sessions, and only those.
pub async fn revoke_provider_ends_its_sessions(store: &dyn Store) {
    let w = world(store, 1).await;
    let other = provider(2, t(0));
    store.insert_provider(&other).await.unwrap();

    let open = session(1, &w.provider.id, &w.account, t(10));
    let mut ended = session(2, &w.provider.id, &w.account, t(10));
    ended.ended_at = Some(t(100));
    let elsewhere = session(3, &other.id, &w.account, t(10));
    for s in [&open, &ended, &elsewhere] {
        store.insert_session(s).await.unwrap();
    }

    assert!(
        store
            .revoke_provider(&w.provider.id, t(5_000))
            .await
            .unwrap()
    );
    let revoked = store
        .provider(&w.provider.id)
        .await
        .unwrap()
        .expect("provider");
    assert_eq!(revoked.revoked_at, Some(t(5_000)));
    let by_fingerprint = store
        .provider_by_fingerprint(&w.provider.fingerprint)
        .await
        .unwrap();
    assert_eq!(by_fingerprint, Some(revoked));

    let got = store.session(&open.suid_hash).await.unwrap().expect("open");
    assert_eq!(got.ended_at, Some(t(5_000)));
    assert_eq!(got.last_seen_at, open.last_seen_at);
    let got = store
        .session(&ended.suid_hash)
        .await
        .unwrap()
        .expect("ended");
    assert_eq!(got.ended_at, Some(t(100)), "an ended session keeps its end");
    let got = store
        .session(&elsewhere.suid_hash)
        .await
        .unwrap()
        .expect("elsewhere");
    assert_eq!(got.ended_at, None, "another provider's session stays open");
    assert_eq!(
        store.provider(&other.id).await.unwrap().unwrap().revoked_at,
        None
    );

    assert!(
        !store
            .revoke_provider("00000000000000ff", t(5_000))
            .await
            .unwrap()
    );
    assert!(
        store
            .revoke_provider(&w.provider.id, t(9_000))
            .await
            .unwrap()
    );
    assert!(
        store
            .provider(&w.provider.id)
            .await
            .unwrap()
            .unwrap()
            .revoked_at
            .is_some()
    );
}
