//! The durability pair, run by each backend around closing and re-opening its database.

use pfs_core::Store;
use pfs_core::model::{LinkAttempt, LinkBackoff, LinkageKeyRecord, ProviderLink, SessionRecord};

use super::{
    World, assert_account, assert_patients, patient, session, switch, t, world, world_data,
};

/// Writes one of everything; run [`durable_check`] on the same database after re-opening it.
pub async fn durable_write(store: &dyn Store) {
    let w = world(store, 1).await;
    let p2 = patient(2, &w.practice.ods);
    store.insert_patient(&p2).await.unwrap();
    let mut settings = w.practice.settings.clone();
    settings.minimum_age = 14;
    assert!(
        store
            .update_practice_settings(&w.practice.ods, &settings)
            .await
            .unwrap()
    );
    store.set_linkage_key(&durable_key(&w)).await.unwrap();
    store.upsert_provider_link(&durable_link(&w)).await.unwrap();
    for _ in 0..2 {
        store
            .reserve_link_attempt(&w.account.id, &w.provider.id, t(14), &durable_backoff())
            .await
            .unwrap();
    }
    store
        .grant_proxy(&w.patient.id, &p2.id, t(7))
        .await
        .unwrap();
    store
        .set_practice_service(&w.practice.ods, "messaging", Some(true))
        .await
        .unwrap();
    store
        .set_patient_service(&p2.id, "records", Some(false))
        .await
        .unwrap();
    store.insert_session(&durable_session(&w)).await.unwrap();
}

/// Checks, on a re-opened database, everything [`durable_write`] wrote.
pub async fn durable_check(store: &dyn Store) {
    store.ping().await.expect("ping");
    let w = world_data(1);
    let p2 = patient(2, &w.practice.ods);
    assert_eq!(
        store.list_providers().await.unwrap(),
        vec![w.provider.clone()]
    );
    let practice = store
        .practice(&w.practice.ods)
        .await
        .unwrap()
        .expect("practice");
    assert_eq!(practice.settings.minimum_age, 14);
    assert_patients(
        &store.list_patients(None).await.unwrap(),
        &[&w.patient, &p2],
    );
    assert_account(
        &store
            .account(&w.account.id)
            .await
            .unwrap()
            .expect("account"),
        &w.account,
    );
    assert_eq!(
        store.linkage_key(&w.account.id).await.unwrap(),
        Some(durable_key(&w))
    );
    assert_eq!(
        store
            .provider_link(&w.account.id, &w.provider.id)
            .await
            .unwrap(),
        Some(durable_link(&w))
    );
    // The pair is still locked (a refused attempt changes nothing, so this check can repeat).
    assert_eq!(
        store
            .reserve_link_attempt(&w.account.id, &w.provider.id, t(15), &durable_backoff())
            .await
            .unwrap(),
        LinkAttempt::Refused {
            locked_until: t(14 + 3_600_000)
        }
    );
    assert_patients(&store.proxy_patients(&w.patient.id).await.unwrap(), &[&p2]);
    assert_eq!(
        store.practice_services(&w.practice.ods).await.unwrap(),
        vec![switch("messaging", true)]
    );
    assert_eq!(
        store.patient_services(&p2.id).await.unwrap(),
        vec![switch("records", false)]
    );
    let s = durable_session(&w);
    assert_eq!(store.session(&s.suid_hash).await.unwrap(), Some(s));
}

fn durable_key(w: &World) -> LinkageKeyRecord {
    LinkageKeyRecord {
        account_id: w.account.id.clone(),
        key_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$ZHVyYWJsZQ".into(),
        issued_at: t(11),
        expires_at: t(12_345_678),
    }
}

fn durable_link(w: &World) -> ProviderLink {
    ProviderLink {
        account_id: w.account.id.clone(),
        provider_id: w.provider.id.clone(),
        passphrase_hash: "c".repeat(64),
        linked_at: t(13),
    }
}

/// Locks a pair for an hour from its second failure.
fn durable_backoff() -> LinkBackoff {
    LinkBackoff {
        threshold: 2,
        base: chrono::Duration::hours(1),
        max: chrono::Duration::hours(1),
    }
}

fn durable_session(w: &World) -> SessionRecord {
    SessionRecord {
        last_seen_at: t(16),
        ..session(1, &w.provider.id, &w.account, t(15))
    }
}
