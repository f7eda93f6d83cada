//! PFS sessions and `session_context` ([`SessionStore`](pfs_core::store::SessionStore)).

use pfs_core::Store;
use pfs_core::model::{BookOutcome, Prefetch, Provider, SessionRecord};

use super::{
    appointment, appointment_world, assert_conflict, assert_patient, book, cancel, patient,
    session, t, world,
};

/// Sessions round-trip (ended or not); a reused hash is a `Conflict` naming no values.
pub async fn sessions_round_trip(store: &dyn Store) {
    let w = world(store, 1).await;
    let other = patient(2, &w.practice.ods);
    store.insert_patient(&other).await.unwrap();

    let open = SessionRecord {
        selected_patient_id: other.id.clone(),
        last_seen_at: t(4_567),
        ..session(1, &w.provider.id, &w.account, t(1_234))
    };
    let mut ended = session(2, &w.provider.id, &w.account, t(2));
    ended.ended_at = Some(t(3));
    store.insert_session(&open).await.unwrap();
    store.insert_session(&ended).await.unwrap();

    assert_eq!(
        store.session(&open.suid_hash).await.unwrap(),
        Some(open.clone())
    );
    assert_eq!(
        store.session(&ended.suid_hash).await.unwrap(),
        Some(ended.clone())
    );
    assert_eq!(store.session(&"0".repeat(64)).await.unwrap(), None);

    let mut dup = session(3, &w.provider.id, &w.account, t(9));
    dup.suid_hash = open.suid_hash.clone();
    assert_conflict(store.insert_session(&dup).await, None, &[&open.suid_hash]);
    assert_eq!(store.session(&open.suid_hash).await.unwrap(), Some(open));
}

/// `session_context` reads a session, its provider and the named patient's context and proxy
/// grant in one go; revoked providers and ended sessions are still read.
pub async fn session_context(store: &dyn Store) {
    let w = world(store, 1).await;
    let child = patient(2, &w.practice.ods);
    let stranger = patient(3, &w.practice.ods);
    store.insert_patient(&child).await.unwrap();
    store.insert_patient(&stranger).await.unwrap();
    store
        .grant_proxy(&w.patient.id, &child.id, t(1))
        .await
        .unwrap();
    store
        .set_practice_service(&w.practice.ods, "messaging", Some(false))
        .await
        .unwrap();
    store
        .set_patient_service(&child.id, "appointments", Some(true))
        .await
        .unwrap();
    store
        .set_patient_service(&child.id, "medication", Some(false))
        .await
        .unwrap();
    let s = session(1, &w.provider.id, &w.account, t(1_234));
    store.insert_session(&s).await.unwrap();

    let read = async |patient: Option<&str>| {
        store
            .session_context(&s.suid_hash, patient, Prefetch::Nothing)
            .await
            .unwrap()
            .expect("the session exists")
    };
    let bare = read(None).await;
    assert_eq!(bare.session, s);
    assert_eq!(bare.provider, w.provider);
    assert_eq!(bare.patient, None);
    assert!(!bare.proxy_grant);
    assert_eq!(bare.appointments, None, "nothing was asked for");

    // Every named patient's context is what `patient_context` reads.
    let named = read(Some(&child.id)).await;
    assert_eq!(named.session, s);
    assert!(named.proxy_grant, "the online user acts for the child");
    let ctx = named.patient.expect("the child exists");
    assert_patient(&ctx.patient, &child);
    let want = store.patient_context(&child.id).await.unwrap().unwrap();
    assert_eq!(ctx.practice, want.practice);
    assert_eq!(ctx.practice_switches, want.practice_switches);
    assert_eq!(ctx.patient_switches, want.patient_switches);
    assert_eq!(ctx.patient_switches.len(), 2);

    let own = read(Some(&w.patient.id)).await;
    assert_patient(&own.patient.expect("the user exists").patient, &w.patient);
    assert!(!own.proxy_grant, "nobody holds a grant for themselves");

    let other = read(Some(&stranger.id)).await;
    assert!(other.patient.is_some());
    assert!(!other.proxy_grant, "no grant for a stranger");

    let missing = read(Some("nobody")).await;
    assert_eq!(missing.patient, None);
    assert!(!missing.proxy_grant);

    assert_eq!(
        store
            .session_context(&"0".repeat(64), Some(&child.id), Prefetch::Nothing)
            .await
            .unwrap(),
        None
    );
    store.revoke_provider(&w.provider.id, t(5)).await.unwrap();
    let after = read(None).await;
    assert_eq!(after.provider.revoked_at, Some(t(5)));
    assert_eq!(after.session.ended_at, Some(t(5)));
}

/// With `Prefetch::Appointments`, `session_context` also reads the named patient's live
/// appointments, exactly as `patient_appointments` does; nothing for a missing patient.
pub async fn session_context_prefetches_appointments(store: &dyn Store) {
    let (w, slots, other) = appointment_world(store).await;
    let s = session(1, &w.provider.id, &w.account, t(0));
    store.insert_session(&s).await.unwrap();
    let later = appointment(1, &slots, 3, &w.patient.id);
    let earlier = appointment(2, &slots, 1, &w.patient.id);
    let cancelled = appointment(3, &slots, 2, &w.patient.id);
    let elsewhere = appointment(4, &slots, 4, &other.id);
    for a in [&later, &earlier, &cancelled, &elsewhere] {
        assert_eq!(book(store, a, 10, t(0)).await.unwrap(), BookOutcome::Booked);
    }
    assert!(cancel(store, &cancelled, t(1)).await.unwrap());

    let read = async |patient: &str, prefetch: Prefetch| {
        store
            .session_context(&s.suid_hash, Some(patient), prefetch)
            .await
            .unwrap()
            .expect("the session exists")
    };
    let with = read(&w.patient.id, Prefetch::Appointments).await;
    let want = store.patient_appointments(&w.patient.id).await.unwrap();
    assert_eq!(
        with.appointments.as_deref(),
        Some(&want[..]),
        "the same rows as patient_appointments"
    );
    let got: Vec<&str> = want.iter().map(|(a, _)| a.id.as_str()).collect();
    assert_eq!(
        got,
        [earlier.id.as_str(), later.id.as_str()],
        "live ones, by start"
    );
    assert_eq!(want[0].1, slots, "each with its session");
    assert_patient(&with.patient.expect("exists").patient, &w.patient);

    let theirs = read(&other.id, Prefetch::Appointments).await;
    assert_eq!(theirs.appointments.map(|a| a.len()), Some(1));
    let none = read(&w.patient.id, Prefetch::Nothing).await;
    assert_eq!(none.appointments, None, "not asked for");
    let missing = read("nobody", Prefetch::Appointments).await;
    assert_eq!((missing.patient, missing.appointments), (None, None));

    let third = patient(3, &w.practice.ods);
    store.insert_patient(&third).await.unwrap();
    let empty = read(&third.id, Prefetch::Appointments).await;
    assert_eq!(
        empty.appointments,
        Some(vec![]),
        "a patient without appointments"
    );
}

/// Many `session_context` reads at once (a backend may answer them together) each get what the
/// same read alone gets: sessions, unknown suids, named, missing and impossible patients, with
/// and without prefetched appointments, all mixed.
pub async fn concurrent_session_contexts(store: &dyn Store) {
    let (w, slots, other) = appointment_world(store).await;
    let a = appointment(1, &slots, 2, &other.id);
    assert_eq!(
        book(store, &a, 10, t(0)).await.unwrap(),
        BookOutcome::Booked
    );
    store
        .grant_proxy(&w.patient.id, &other.id, t(0))
        .await
        .unwrap();
    let sessions: Vec<SessionRecord> = (0..4)
        .map(|n| session(n, &w.provider.id, &w.account, t(i64::from(n))))
        .collect();
    for s in &sessions {
        store.insert_session(s).await.unwrap();
    }

    let unknown = "0".repeat(64);
    let suids = sessions
        .iter()
        .map(|s| s.suid_hash.as_str())
        .chain([unknown.as_str()]);
    let patients = [
        None,
        Some(w.patient.id.as_str()),
        Some(other.id.as_str()),
        Some("nobody"),
        Some("4\0"),
    ];
    let mut reads = Vec::new();
    for suid in suids {
        for patient in patients {
            for prefetch in [Prefetch::Nothing, Prefetch::Appointments] {
                reads.push((suid, patient, prefetch));
            }
        }
    }
    let together = futures_util::future::join_all(
        reads
            .iter()
            .map(|&(suid, patient, prefetch)| store.session_context(suid, patient, prefetch)),
    )
    .await;
    for (&(suid, patient, prefetch), got) in reads.iter().zip(together) {
        let alone = store
            .session_context(suid, patient, prefetch)
            .await
            .unwrap();
        let got = got.unwrap();
        assert_eq!(got, alone, "{suid:.8} {patient:?} {prefetch:?}");
        let known = suid != unknown;
        assert_eq!(got.is_some(), known);
        if let Some(context) = got {
            let theirs = patient == Some(other.id.as_str());
            assert_eq!(context.proxy_grant, theirs);
            let booked = context.appointments.map(|all| all.len());
            let want = match (prefetch, patient) {
                (Prefetch::Appointments, Some(p)) if p == other.id => Some(1),
                (Prefetch::Appointments, Some(p)) if p == w.patient.id => Some(0),
                _ => None,
            };
            assert_eq!(booked, want, "{patient:?} {prefetch:?}");
        }
    }
}

/// `touch_session` moves `last_seen_at` and, when given, the selected patient.
pub async fn touch_session(store: &dyn Store) {
    let w = world(store, 1).await;
    let other = patient(2, &w.practice.ods);
    store.insert_patient(&other).await.unwrap();
    let s = session(1, &w.provider.id, &w.account, t(0));
    let bystander = session(2, &w.provider.id, &w.account, t(0));
    store.insert_session(&s).await.unwrap();
    store.insert_session(&bystander).await.unwrap();

    store
        .touch_session(&s.suid_hash, None, t(5_001))
        .await
        .unwrap();
    let got = store.session(&s.suid_hash).await.unwrap().expect("session");
    assert_eq!(got.last_seen_at, t(5_001));
    assert_eq!(got.selected_patient_id, s.selected_patient_id);
    assert_eq!(got.created_at, s.created_at);

    store
        .touch_session(&s.suid_hash, Some(&other.id), t(6_002))
        .await
        .unwrap();
    let got = store.session(&s.suid_hash).await.unwrap().expect("session");
    assert_eq!(
        got,
        SessionRecord {
            selected_patient_id: other.id.clone(),
            last_seen_at: t(6_002),
            ..s.clone()
        }
    );

    store
        .touch_session(&s.suid_hash, Some(&w.patient.id), t(7_003))
        .await
        .unwrap();
    let got = store.session(&s.suid_hash).await.unwrap().expect("session");
    assert_eq!(got.selected_patient_id, w.patient.id);
    assert_eq!(got.last_seen_at, t(7_003));

    assert_eq!(
        store.session(&bystander.suid_hash).await.unwrap(),
        Some(bystander)
    );
    store
        .touch_session(&"0".repeat(64), None, t(8_000))
        .await
        .expect("unknown: no-op");
}

/// `end_session` is true only for a session that was open.
pub async fn end_session(store: &dyn Store) {
    let w = world(store, 1).await;
    let s = session(1, &w.provider.id, &w.account, t(0));
    let bystander = session(2, &w.provider.id, &w.account, t(0));
    store.insert_session(&s).await.unwrap();
    store.insert_session(&bystander).await.unwrap();

    assert!(store.end_session(&s.suid_hash, t(1_111)).await.unwrap());
    let got = store.session(&s.suid_hash).await.unwrap().expect("session");
    assert_eq!(got.ended_at, Some(t(1_111)));
    assert_eq!(got.last_seen_at, s.last_seen_at);

    assert!(
        !store.end_session(&s.suid_hash, t(2_222)).await.unwrap(),
        "already ended"
    );
    let got = store.session(&s.suid_hash).await.unwrap().expect("session");
    assert_eq!(got.ended_at, Some(t(1_111)), "the first end stands");
    assert!(
        !store.end_session(&"0".repeat(64), t(2_222)).await.unwrap(),
        "unknown"
    );
    assert_eq!(
        store.session(&bystander.suid_hash).await.unwrap(),
        Some(bystander)
    );
}

/// `purge_sessions` deletes exactly the sessions ended or last seen strictly before the cut.
pub async fn purge_sessions(store: &dyn Store) {
    let w = world(store, 1).await;
    let cut = t(10_000);
    let at = |n: u32, last_seen: i64, ended: Option<i64>| SessionRecord {
        last_seen_at: t(last_seen),
        ended_at: ended.map(t),
        ..session(n, &w.provider.id, &w.account, t(0))
    };
    let active = at(1, 20_000, None);
    let idle = at(2, 9_999, None);
    let ended_early = at(3, 15_000, Some(9_000));
    let ended_late = at(4, 15_000, Some(15_000));
    let seen_at_cut = at(5, 10_000, None);
    let ended_at_cut = at(6, 10_000, Some(10_000));
    let both = at(7, 5_000, Some(6_000));
    let all = [
        &active,
        &idle,
        &ended_early,
        &ended_late,
        &seen_at_cut,
        &ended_at_cut,
        &both,
    ];
    for s in all {
        store.insert_session(s).await.unwrap();
    }

    assert_eq!(store.purge_sessions(cut).await.unwrap(), 3);
    for gone in [&idle, &ended_early, &both] {
        assert_eq!(store.session(&gone.suid_hash).await.unwrap(), None);
    }
    for kept in [&active, &ended_late, &seen_at_cut, &ended_at_cut] {
        assert_eq!(
            store.session(&kept.suid_hash).await.unwrap(),
            Some(kept.clone())
        );
    }
    assert_eq!(store.purge_sessions(cut).await.unwrap(), 0);
    assert_eq!(store.purge_sessions(t(0)).await.unwrap(), 0);
    assert_eq!(store.purge_sessions(t(30_000)).await.unwrap(), 4);
}

/// `count_live_sessions` counts the sessions not ended, seen after the first cut and created
/// after the second, both strictly.
pub async fn count_live_sessions(store: &dyn Store) {
    let w = world(store, 1).await;
    assert_eq!(store.count_live_sessions(t(0), t(0)).await.unwrap(), 0);
    let at = |n: u32, created: i64, last_seen: i64, ended: Option<i64>| SessionRecord {
        last_seen_at: t(last_seen),
        ended_at: ended.map(t),
        ..session(n, &w.provider.id, &w.account, t(created))
    };
    for s in [
        at(1, 5_000, 20_000, None),         // live
        at(2, 6_000, 15_001, None),         // live
        at(3, 5_000, 15_000, None),         // seen exactly at the cut: idle
        at(4, 5_000, 9_000, None),          // idle
        at(5, 5_000, 20_000, Some(20_000)), // ended
        at(6, 1_000, 20_000, None),         // created exactly at the cut: too old
        at(7, 500, 20_000, None),           // too old
    ] {
        store.insert_session(&s).await.unwrap();
    }
    assert_eq!(
        store
            .count_live_sessions(t(15_000), t(1_000))
            .await
            .unwrap(),
        2
    );
    assert_eq!(store.count_live_sessions(t(0), t(0)).await.unwrap(), 6);
    assert_eq!(store.count_live_sessions(t(0), t(500)).await.unwrap(), 5);
    assert_eq!(store.count_live_sessions(t(0), t(1_000)).await.unwrap(), 4);
    assert_eq!(store.count_live_sessions(t(20_000), t(0)).await.unwrap(), 0);
}

/// 32 concurrent `insert_session` calls all succeed and all read back, also concurrently.
pub async fn concurrent_session_inserts(store: &dyn Store) {
    let w = world(store, 1).await;
    let sessions: Vec<SessionRecord> = (0..32)
        .map(|n| session(n, &w.provider.id, &w.account, t(i64::from(n))))
        .collect();

    let inserts = sessions.iter().map(|s| store.insert_session(s));
    for (n, result) in futures_util::future::join_all(inserts)
        .await
        .into_iter()
        .enumerate()
    {
        result.unwrap_or_else(|e| panic!("insert {n}: {e}"));
    }

    let reads = sessions.iter().map(|s| store.session(&s.suid_hash));
    let got = futures_util::future::join_all(reads).await;
    for (s, got) in sessions.iter().zip(got) {
        assert_eq!(got.expect("read").as_ref(), Some(s));
    }
}

/// What every request reads again and again (the provider by its certificate, the named
/// patient's context) follows each change at once, however often it was read before: a
/// backend that keeps copies must drop them on every write that touches these rows.
pub async fn hot_reads_follow_every_change(store: &dyn Store) {
    let w = world(store, 1).await;
    let s = session(1, &w.provider.id, &w.account, t(1));
    store.insert_session(&s).await.unwrap();
    let context = async || {
        // Twice: the second read may come from a copy.
        store.patient_context(&w.patient.id).await.unwrap();
        let read = store
            .session_context(&s.suid_hash, Some(&w.patient.id), Prefetch::Nothing)
            .await
            .unwrap()
            .expect("the session exists");
        let direct = store.patient_context(&w.patient.id).await.unwrap();
        assert_eq!(
            read.patient, direct,
            "session_context and patient_context agree"
        );
        direct.expect("the patient exists")
    };
    let by_fingerprint = async || {
        store
            .provider_by_fingerprint(&w.provider.fingerprint)
            .await
            .unwrap();
        store
            .provider_by_fingerprint(&w.provider.fingerprint)
            .await
            .unwrap()
            .expect("the provider exists")
    };

    let before = context().await;
    assert_eq!(before.practice_switches, vec![]);
    store
        .set_practice_service(&w.practice.ods, "messaging", Some(false))
        .await
        .unwrap();
    let switched = context().await;
    assert_eq!(switched.practice_switches.len(), 1, "a practice switch");
    store
        .set_patient_service(&w.patient.id, "appointments", Some(false))
        .await
        .unwrap();
    assert_eq!(
        context().await.patient_switches.len(),
        1,
        "a patient switch"
    );

    let mut settings = before.practice.settings.clone();
    settings.minimum_age = settings.minimum_age.saturating_add(1);
    assert!(
        store
            .update_practice_settings(&w.practice.ods, &settings)
            .await
            .unwrap()
    );
    assert_eq!(context().await.practice.settings, settings, "the settings");

    let unknown = "f".repeat(64);
    assert_eq!(store.provider_by_fingerprint(&unknown).await.unwrap(), None);
    assert_eq!(store.provider_by_fingerprint(&unknown).await.unwrap(), None);
    let newcomer = Provider {
        id: "00000000000000ff".into(),
        name: "newcomer".into(),
        fingerprint: unknown.clone(),
        ..w.provider.clone()
    };
    store.insert_provider(&newcomer).await.unwrap();
    assert_eq!(
        store.provider_by_fingerprint(&unknown).await.unwrap(),
        Some(newcomer),
        "a provider registered after a miss"
    );

    assert_eq!(by_fingerprint().await.revoked_at, None);
    store.revoke_provider(&w.provider.id, t(5)).await.unwrap();
    assert_eq!(by_fingerprint().await.revoked_at, Some(t(5)), "revocation");
}

/// The session read of every request (the session with its provider, the proxy grant, the
/// prefetched appointments) follows each change at once, however often it was read before:
/// activity and a newly selected patient, a grant and its withdrawal, a booking and its
/// cancellation, logoff, the account's end, the provider's revocation and the purge.
pub async fn session_reads_follow_every_change(store: &dyn Store) {
    let (w, slots, child) = appointment_world(store).await;
    let s = session(1, &w.provider.id, &w.account, t(1));
    store.insert_session(&s).await.unwrap();
    let read = async |suid_hash: &str, patient: &str| {
        // Twice: the second read may come from copies.
        let first = store
            .session_context(suid_hash, Some(patient), Prefetch::Appointments)
            .await
            .unwrap();
        let second = store
            .session_context(suid_hash, Some(patient), Prefetch::Appointments)
            .await
            .unwrap();
        assert_eq!(first, second, "a second read gets what the first did");
        second.expect("the session exists")
    };
    let booked = |c: &pfs_core::model::SessionContext| -> Vec<String> {
        let rows = c.appointments.as_deref().unwrap_or_default();
        rows.iter().map(|(a, _)| a.id.clone()).collect()
    };

    assert_eq!(read(&s.suid_hash, &w.patient.id).await.session, s);
    store
        .touch_session(&s.suid_hash, Some(&child.id), t(7))
        .await
        .unwrap();
    let touched = read(&s.suid_hash, &w.patient.id).await.session;
    assert_eq!(
        (touched.last_seen_at, touched.selected_patient_id.as_str()),
        (t(7), child.id.as_str()),
        "activity and the selected patient"
    );

    assert!(!read(&s.suid_hash, &child.id).await.proxy_grant);
    store
        .grant_proxy(&w.patient.id, &child.id, t(2))
        .await
        .unwrap();
    assert!(read(&s.suid_hash, &child.id).await.proxy_grant, "a grant");
    assert!(store.has_proxy(&w.patient.id, &child.id).await.unwrap());
    assert!(store.revoke_proxy(&w.patient.id, &child.id).await.unwrap());
    assert!(
        !read(&s.suid_hash, &child.id).await.proxy_grant,
        "a withdrawn grant"
    );
    assert!(!store.has_proxy(&w.patient.id, &child.id).await.unwrap());

    assert_eq!(booked(&read(&s.suid_hash, &w.patient.id).await), [""; 0]);
    let a = appointment(1, &slots, 2, &w.patient.id);
    assert_eq!(
        book(store, &a, 10, t(0)).await.unwrap(),
        BookOutcome::Booked
    );
    assert_eq!(
        booked(&read(&s.suid_hash, &w.patient.id).await),
        [a.id.as_str()],
        "a booking"
    );
    assert_eq!(
        store
            .patient_appointments(&w.patient.id)
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(cancel(store, &a, t(3)).await.unwrap());
    assert_eq!(
        booked(&read(&s.suid_hash, &w.patient.id).await),
        [""; 0],
        "a cancellation"
    );
    assert_eq!(
        store.patient_appointments(&w.patient.id).await.unwrap(),
        vec![]
    );

    assert!(store.end_session(&s.suid_hash, t(8)).await.unwrap());
    assert_eq!(
        read(&s.suid_hash, &w.patient.id).await.session.ended_at,
        Some(t(8)),
        "logoff"
    );

    let by_account = session(2, &w.provider.id, &w.account, t(9));
    store.insert_session(&by_account).await.unwrap();
    assert_eq!(
        read(&by_account.suid_hash, &w.patient.id)
            .await
            .session
            .ended_at,
        None
    );
    store.end_account(&w.account.id, t(10)).await.unwrap();
    assert_eq!(
        read(&by_account.suid_hash, &w.patient.id)
            .await
            .session
            .ended_at,
        Some(t(10)),
        "the account's end"
    );

    let by_provider = session(3, &w.provider.id, &w.account, t(11));
    store.insert_session(&by_provider).await.unwrap();
    assert_eq!(
        read(&by_provider.suid_hash, &w.patient.id)
            .await
            .provider
            .revoked_at,
        None
    );
    store.revoke_provider(&w.provider.id, t(12)).await.unwrap();
    let revoked = read(&by_provider.suid_hash, &w.patient.id).await;
    assert_eq!(
        (revoked.provider.revoked_at, revoked.session.ended_at),
        (Some(t(12)), Some(t(12))),
        "the provider's revocation"
    );

    store.purge_sessions(t(1_000)).await.unwrap();
    assert_eq!(
        store
            .session_context(&by_provider.suid_hash, None, Prefetch::Nothing)
            .await
            .unwrap(),
        None,
        "the purge"
    );
}
