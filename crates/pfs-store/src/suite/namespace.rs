//! Sandbox namespaces ([`NamespaceStore`](pfs_core::store::NamespaceStore)).

use chrono::Duration;
use pfs_core::Store;
use pfs_core::model::{LinkAttempt, LinkBackoff, LinkThrottle, Practice, ProviderLink};
use pfs_core::store::StoreError;

use super::{account, patient, practice, provider, record_access, session, t, world};

fn ods_of(n: u32) -> String {
    format!("N{n:04}")
}

/// A namespace takes the lowest number that is free and whose code no practice has, and stores
/// its practice with it; a name is taken once; when every number is taken, none is made.
pub async fn namespaces_round_trip(store: &dyn Store) {
    let blocker = Practice {
        ods: ods_of(2),
        ..practice(9)
    };
    store.insert_practice(&blocker).await.unwrap();
    let template = practice(50);

    let a = store
        .create_namespace("a", t(0), &template, ods_of, 3)
        .await
        .unwrap();
    assert_eq!(
        (a.number, a.ods.as_str(), a.provider_id.as_deref()),
        (1, "N0001", None)
    );
    let stored = store
        .practice("N0001")
        .await
        .unwrap()
        .expect("its practice");
    assert_eq!(stored.name, template.name);
    let b = store
        .create_namespace("b", t(1), &template, ods_of, 3)
        .await
        .unwrap();
    assert_eq!(b.number, 3, "N0002 is a practice already");
    assert!(matches!(
        store
            .create_namespace("a", t(2), &template, ods_of, 3)
            .await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        store
            .create_namespace("c", t(2), &template, ods_of, 3)
            .await,
        Err(StoreError::Conflict(_))
    ));

    store.set_namespace_provider("a", "00ab").await.unwrap();
    assert!(matches!(
        store.set_namespace_provider("zz", "00ab").await,
        Err(StoreError::NotFound(_))
    ));
    let listed = store.namespaces().await.unwrap();
    assert_eq!(
        listed
            .iter()
            .map(|n| (
                n.name.as_str(),
                n.number,
                n.provider_id.as_deref(),
                n.created_at
            ))
            .collect::<Vec<_>>(),
        [("a", 1, Some("00ab"), t(0)), ("b", 3, None, t(1))]
    );

    store.delete_namespace("a").await.unwrap();
    assert!(matches!(
        store.delete_namespace("a").await,
        Err(StoreError::NotFound(_))
    ));
    let again = store
        .create_namespace("c", t(3), &template, ods_of, 3)
        .await
        .unwrap();
    assert_eq!(
        again.number, 1,
        "a deleted namespace's number is free again"
    );
}

/// Deleting a namespace deletes its practice and provider and every row that refers to them,
/// directly or not (patients, accounts, links, sessions, the failed linkage attempts with its
/// provider), and nothing else: not another practice's rows, even where the namespace's
/// provider had linked one of them.
pub async fn namespace_deletion_follows_every_reference(store: &dyn Store) {
    let other = world(store, 1).await;
    let ns = store
        .create_namespace("suite", t(0), &practice(60), ods_of, 10)
        .await
        .unwrap();
    let app = provider(2, t(0));
    store.insert_provider(&app).await.unwrap();
    store
        .set_namespace_provider("suite", &app.id)
        .await
        .unwrap();
    let mine = patient(2, &ns.ods);
    store.insert_patient(&mine).await.unwrap();
    let my_account = account(2, &mine.id);
    store.insert_account(&my_account).await.unwrap();
    for (account, n) in [(&my_account, 1), (&other.account, 2)] {
        store
            .upsert_provider_link(&ProviderLink {
                account_id: account.id.clone(),
                provider_id: app.id.clone(),
                passphrase_hash: "a".repeat(64),
                linked_at: t(1),
            })
            .await
            .unwrap();
        store
            .insert_session(&session(n, &app.id, account, t(2)))
            .await
            .unwrap();
    }
    let theirs = session(3, &other.provider.id, &other.account, t(2));
    store.insert_session(&theirs).await.unwrap();
    let backoff = LinkBackoff {
        threshold: 5,
        base: Duration::seconds(30),
        max: Duration::seconds(300),
    };
    let attempt = |account: String, provider: String| async move {
        match store
            .reserve_link_attempt(&account, &provider, t(3), &backoff)
            .await
            .unwrap()
        {
            LinkAttempt::Admitted(LinkThrottle { failures, .. }) => failures,
            LinkAttempt::Refused { .. } => panic!("refused"),
        }
    };
    assert_eq!(attempt("123".into(), app.id.clone()).await, 1);
    assert_eq!(
        attempt(other.account.id.clone(), other.provider.id.clone()).await,
        1
    );

    store
        .insert_record_access(&record_access(&mine.id, t(4), "Viewed record"))
        .await
        .unwrap();
    store
        .insert_record_accesses(&[record_access(&mine.id, t(5), "Viewed record")])
        .await
        .unwrap();
    let their_access = record_access(&other.patient.id, t(5), "Viewed record");
    store.insert_record_access(&their_access).await.unwrap();

    store.delete_namespace("suite").await.unwrap();

    assert_eq!(store.practice(&ns.ods).await.unwrap(), None);
    assert_eq!(store.patient(&mine.id).await.unwrap(), None);
    assert!(
        store
            .record_accesses(&mine.id, t(0), t(10))
            .await
            .unwrap()
            .is_empty(),
        "the access log went with its patient"
    );
    assert_eq!(
        store
            .record_accesses(&other.patient.id, t(0), t(10))
            .await
            .unwrap(),
        [their_access]
    );
    assert_eq!(store.account(&my_account.id).await.unwrap(), None);
    assert_eq!(store.provider(&app.id).await.unwrap(), None);
    assert_eq!(
        store
            .provider_link(&other.account.id, &app.id)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .session(&session(2, &app.id, &other.account, t(2)).suid_hash)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        attempt("123".into(), app.id.clone()).await,
        1,
        "the throttle went with its provider"
    );

    assert_eq!(
        store.practice(&other.practice.ods).await.unwrap(),
        Some(other.practice.clone())
    );
    assert!(store.patient(&other.patient.id).await.unwrap().is_some());
    assert!(store.account(&other.account.id).await.unwrap().is_some());
    assert!(store.provider(&other.provider.id).await.unwrap().is_some());
    assert!(store.session(&theirs.suid_hash).await.unwrap().is_some());
    assert_eq!(
        attempt(other.account.id.clone(), other.provider.id.clone()).await,
        2,
        "another pair's throttle stays"
    );
    assert!(store.namespaces().await.unwrap().is_empty());
}
