//! The applications linked to an account
//! ([`AccountInfoStore`](pfs_core::store::AccountInfoStore)).

use pfs_core::Store;
use pfs_core::model::{LinkageKeyRecord, ProviderLink};

use super::{record_access, session, t, world};

fn link(account_id: &str, provider_id: &str, at: i64) -> ProviderLink {
    ProviderLink {
        account_id: account_id.to_owned(),
        provider_id: provider_id.to_owned(),
        passphrase_hash: format!("{at:064x}"),
        linked_at: t(at),
    }
}

/// Linked applications are listed oldest first with their names and last use; unlinking one
/// ends only its sessions of that account, deletes the linkage key and logs; unlinking all
/// ends every one; nothing to unlink writes nothing.
pub async fn unlink_applications_cases(store: &dyn Store) {
    let w = world(store, 1).await;
    let v = world(store, 2).await;
    let (a, b) = (&w.provider.id, &v.provider.id);
    let me = &w.account;
    store
        .upsert_provider_link(&link(&me.id, a, 10))
        .await
        .unwrap();
    store
        .upsert_provider_link(&link(&me.id, b, 20))
        .await
        .unwrap();
    store
        .upsert_provider_link(&link(&v.account.id, b, 30))
        .await
        .unwrap();
    store
        .set_linkage_key(&LinkageKeyRecord {
            account_id: me.id.clone(),
            key_hash: "$argon2id$test".into(),
            issued_at: t(0),
            expires_at: t(1_000_000),
        })
        .await
        .unwrap();
    store
        .record_application_use(&me.id, b, t(50))
        .await
        .unwrap();
    let apps = store.linked_applications(&me.id).await.unwrap();
    let got: Vec<(&str, &str, _, _)> = apps
        .iter()
        .map(|x| {
            (
                x.provider_id.as_str(),
                x.name.as_str(),
                x.linked_at,
                x.last_used_at,
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (a.as_str(), "Provider 1", t(10), None),
            (b.as_str(), "Provider 2", t(20), Some(t(50))),
        ]
    );

    let sa = session(1, a, me, t(60));
    let sb = session(2, b, me, t(60));
    let other = session(3, b, &v.account, t(60));
    for s in [&sa, &sb, &other] {
        store.insert_session(s).await.unwrap();
    }
    let patient = &w.patient.id;
    // Nothing to unlink: nothing written.
    assert!(
        store
            .unlink_applications(
                &me.id,
                Some("ffffffffffffffff"),
                t(70),
                &record_access(patient, t(70), "none")
            )
            .await
            .unwrap()
            .is_empty()
    );
    assert!(store.linkage_key(&me.id).await.unwrap().is_some());
    let gone = store
        .unlink_applications(
            &me.id,
            Some(b),
            t(80),
            &record_access(patient, t(80), "Unlinked"),
        )
        .await
        .unwrap();
    assert_eq!(gone, vec![b.clone()]);
    assert_eq!(store.provider_link(&me.id, b).await.unwrap(), None);
    assert!(store.provider_link(&me.id, a).await.unwrap().is_some());
    assert_eq!(
        store
            .session(&sb.suid_hash)
            .await
            .unwrap()
            .unwrap()
            .ended_at,
        Some(t(80))
    );
    assert_eq!(
        store
            .session(&sa.suid_hash)
            .await
            .unwrap()
            .unwrap()
            .ended_at,
        None
    );
    assert_eq!(
        store
            .session(&other.suid_hash)
            .await
            .unwrap()
            .unwrap()
            .ended_at,
        None
    );
    assert!(
        store
            .provider_link(&v.account.id, b)
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(store.linkage_key(&me.id).await.unwrap(), None);

    let gone = store
        .unlink_applications(&me.id, None, t(90), &record_access(patient, t(90), "Reset"))
        .await
        .unwrap();
    assert_eq!(gone, vec![a.clone()]);
    assert_eq!(
        store
            .session(&sa.suid_hash)
            .await
            .unwrap()
            .unwrap()
            .ended_at,
        Some(t(90))
    );
    assert!(store.linked_applications(&me.id).await.unwrap().is_empty());
    let kinds: Vec<String> = store
        .record_accesses(patient, t(0), t(1_000))
        .await
        .unwrap()
        .into_iter()
        .map(|l| l.access_type)
        .collect();
    assert_eq!(kinds, vec!["Unlinked", "Reset"]);
}
