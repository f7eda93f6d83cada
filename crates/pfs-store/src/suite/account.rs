//! Online accounts, linkage keys, provider links and link throttles
//! ([`AccountStore`](pfs_core::store::AccountStore)).

use chrono::{DateTime, Duration, Utc};
use pfs_core::Store;
use pfs_core::model::{LinkAttempt, LinkBackoff, LinkThrottle, LinkageKeyRecord, ProviderLink};

use super::{
    DAY, MINUTE, SECOND, account, assert_account, assert_conflict, patient, provider, session, t,
    world,
};

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

fn backoff(threshold: u32, base_ms: i64, max_ms: i64) -> LinkBackoff {
    LinkBackoff {
        threshold,
        base: Duration::milliseconds(base_ms),
        max: Duration::milliseconds(max_ms),
    }
}

fn admitted(failures: u32, locked_until: Option<DateTime<Utc>>) -> LinkAttempt {
    LinkAttempt::Admitted(LinkThrottle {
        failures,
        locked_until,
    })
}

fn refused(locked_until: DateTime<Utc>) -> LinkAttempt {
    LinkAttempt::Refused { locked_until }
}

/// `reserve_link_attempt` counts every admitted attempt as a failure, locks the pair from the
/// threshold on for a lock that doubles up to the maximum, refuses attempts while locked without
/// counting them, and keeps pairs apart; `clear_link_throttle` starts a pair afresh. The account
/// id need not exist.
pub async fn link_attempts_back_off(store: &dyn Store) {
    let p = provider(1, t(0));
    let q = provider(2, t(0));
    store.insert_provider(&p).await.unwrap();
    store.insert_provider(&q).await.unwrap();
    let typed = "123456789"; // no such account
    let b = backoff(3, 30 * SECOND, 100 * SECOND);
    let reserve = |account: &'static str, provider: &str, at: DateTime<Utc>, b: LinkBackoff| {
        let provider = provider.to_owned();
        async move {
            store
                .reserve_link_attempt(account, &provider, at, &b)
                .await
                .unwrap()
        }
    };

    let now = t(0);
    assert_eq!(reserve(typed, &p.id, now, b).await, admitted(1, None));
    assert_eq!(reserve(typed, &p.id, now, b).await, admitted(2, None));
    // The third failure starts the first lock.
    let until = now + Duration::milliseconds(30 * SECOND);
    assert_eq!(
        reserve(typed, &p.id, now, b).await,
        admitted(3, Some(until))
    );
    // While locked, attempts are refused and not counted, up to the lock's last millisecond.
    assert_eq!(reserve(typed, &p.id, now, b).await, refused(until));
    let last_ms = until - Duration::milliseconds(1);
    assert_eq!(reserve(typed, &p.id, last_ms, b).await, refused(until));
    // Other pairs are not affected.
    assert_eq!(reserve(typed, &q.id, now, b).await, admitted(1, None));
    assert_eq!(reserve("987654321", &p.id, now, b).await, admitted(1, None));

    // When the lock ends one attempt is admitted, and its failure doubles the lock; the lock
    // stops growing at the maximum.
    let t1 = until;
    let doubled = t1 + Duration::milliseconds(60 * SECOND);
    assert_eq!(
        reserve(typed, &p.id, t1, b).await,
        admitted(4, Some(doubled))
    );
    assert_eq!(reserve(typed, &p.id, t1, b).await, refused(doubled));
    let t2 = doubled;
    let capped = t2 + Duration::milliseconds(100 * SECOND);
    assert_eq!(
        reserve(typed, &p.id, t2, b).await,
        admitted(5, Some(capped))
    );
    let t3 = capped;
    let still = t3 + Duration::milliseconds(100 * SECOND);
    assert_eq!(reserve(typed, &p.id, t3, b).await, admitted(6, Some(still)));

    // Clearing starts the pair afresh and leaves the others alone.
    store.clear_link_throttle(typed, &p.id).await.unwrap();
    assert_eq!(reserve(typed, &p.id, t3, b).await, admitted(1, None));
    assert_eq!(reserve(typed, &q.id, now, b).await, admitted(2, None));
    store
        .clear_link_throttle("555555555", &p.id)
        .await
        .expect("clearing nothing is fine");

    // The store applies exactly LinkBackoff::lock_after: a threshold of 0 counts as 1, and the
    // doubling stops after 20 steps.
    let steep = backoff(0, 1, 30 * DAY);
    let mut at = t(0);
    for failures in 1..=24 {
        let lock = steep
            .lock_after(failures)
            .expect("locks from the first failure");
        assert_eq!(
            reserve("42", &q.id, at, steep).await,
            admitted(failures, Some(at + lock)),
            "failure {failures}"
        );
        assert_eq!(reserve("42", &q.id, at, steep).await, refused(at + lock));
        at += lock;
    }
    assert_eq!(
        steep.lock_after(24),
        Some(Duration::milliseconds(1 << 20)),
        "20 doublings"
    );
}

/// Of many concurrent attempts on one pair, exactly those up to the one that starts the lock
/// are admitted, each counting from the state the one before it left; every other is refused
/// with that lock. Concurrent attempts on different pairs do not hold each other back.
pub async fn concurrent_link_attempts(store: &dyn Store) {
    let p = provider(1, t(0));
    store.insert_provider(&p).await.unwrap();
    let b = backoff(5, 30 * SECOND, 15 * MINUTE);
    let now = t(0);
    let until = now + Duration::milliseconds(30 * SECOND);

    let attempts = (0..32).map(|_| store.reserve_link_attempt("123456789", &p.id, now, &b));
    let mut counted = Vec::new();
    let mut refusals = 0;
    for result in futures_util::future::join_all(attempts).await {
        match result.expect("reserve") {
            LinkAttempt::Admitted(state) => counted.push(state),
            LinkAttempt::Refused { locked_until } => {
                assert_eq!(locked_until, until);
                refusals += 1;
            }
        }
    }
    counted.sort_by_key(|s| s.failures);
    let expected: Vec<LinkThrottle> = (1..=5)
        .map(|failures| LinkThrottle {
            failures,
            locked_until: (failures == 5).then_some(until),
        })
        .collect();
    assert_eq!(counted, expected, "each admitted attempt counted once");
    assert_eq!(refusals, 27);

    let ids: Vec<String> = (0..16).map(|n| format!("{}", 200_000_000 + n)).collect();
    let attempts = ids
        .iter()
        .map(|id| store.reserve_link_attempt(id, &p.id, now, &b));
    for result in futures_util::future::join_all(attempts).await {
        assert_eq!(result.expect("reserve"), admitted(1, None));
    }
}

/// `purge_link_throttles` deletes the pairs with no lock in force and no failure since the
/// cut, and keeps every other: still locked (however old), or failed at or after the cut.
pub async fn purge_link_throttles(store: &dyn Store) {
    let p = provider(1, t(0));
    let q = provider(2, t(0));
    store.insert_provider(&p).await.unwrap();
    store.insert_provider(&q).await.unwrap();
    let now = t(DAY);
    let cut = now - Duration::milliseconds(60 * MINUTE);
    let minute = backoff(2, MINUTE, MINUTE);
    let reserve = |account: &'static str, provider: &str, at: DateTime<Utc>, b: LinkBackoff| {
        let provider = provider.to_owned();
        async move {
            store
                .reserve_link_attempt(account, &provider, at, &b)
                .await
                .unwrap()
        }
    };
    let fail = |account: &'static str, provider: &str, times: u32, at: i64, b: LinkBackoff| {
        let provider = provider.to_owned();
        async move {
            for _ in 0..times {
                store
                    .reserve_link_attempt(account, &provider, t(at), &b)
                    .await
                    .unwrap();
            }
        }
    };

    // Purged: old and never locked; old with a lock that has ended; a lock ending right now.
    fail("100000001", &p.id, 1, 0, minute).await;
    fail("100000002", &p.id, 2, 0, minute).await;
    fail("100000003", &q.id, 2, 0, backoff(2, DAY, DAY)).await;
    // Kept: old but still locked; recent, locked or not; a failure right at the cut.
    fail("100000004", &p.id, 2, 0, backoff(2, 2 * DAY, 2 * DAY)).await;
    fail("100000005", &p.id, 1, DAY - MINUTE, minute).await;
    fail("100000006", &q.id, 2, DAY - 10 * MINUTE, minute).await;
    fail("100000007", &p.id, 1, DAY - 60 * MINUTE, minute).await;

    assert_eq!(store.purge_link_throttles(now, cut).await.unwrap(), 3);
    // A purged pair starts afresh; a kept one goes on counting (or is still locked).
    let fresh = backoff(10, MINUTE, MINUTE);
    assert_eq!(
        reserve("100000001", &p.id, now, fresh).await,
        admitted(1, None)
    );
    assert_eq!(
        reserve("100000002", &p.id, now, fresh).await,
        admitted(1, None)
    );
    assert_eq!(
        reserve("100000003", &q.id, now, fresh).await,
        admitted(1, None)
    );
    assert_eq!(
        reserve("100000004", &p.id, now, fresh).await,
        refused(t(2 * DAY))
    );
    assert_eq!(
        reserve("100000005", &p.id, now, fresh).await,
        admitted(2, None)
    );
    assert_eq!(
        reserve("100000006", &q.id, now, fresh).await,
        admitted(3, None)
    );
    assert_eq!(
        reserve("100000007", &p.id, now, fresh).await,
        admitted(2, None)
    );

    assert_eq!(store.purge_link_throttles(now, cut).await.unwrap(), 0);
}
