//! The conformance suite every [`Store`] backend must pass.
//!
//! Each case is a plain async function taking a fresh, empty store; it panics on the first
//! failed assertion. A backend's integration tests run every case named by
//! [`store_suite_cases!`](crate::store_suite_cases), each against its own new database, so a
//! case added here reaches every backend. The durability pair [`durable_write`] /
//! [`durable_check`] is run by each backend around closing and re-opening its database.
//!
//! Instants used here have millisecond precision: backends store milliseconds.

use chrono::{DateTime, NaiveDate, Utc};
use pfs_core::model::{
    Appointment, AppointmentSession, BookOutcome, LinkThrottle, LinkageKeyRecord, OnlineAccount,
    Patient, Practice, PracticeSettings, Prefetch, Provider, ProviderLink, RecordAccess,
    ServiceSwitch, SessionRecord,
};
use pfs_core::{Store, StoreError, StoreResult};

/// Calls `$callback! { case, case, ... }` with the name of every case of [`crate::suite`]
/// (not the durability pair), for a backend's tests to turn into one test per case.
///
/// ```ignore
/// macro_rules! sqlite_cases {
///     ($($case:ident),* $(,)?) => {$(
///         #[tokio::test]
///         async fn $case() {
///             let db = fresh_store().await;
///             pfs_store::suite::$case(&db).await;
///         }
///     )*};
/// }
/// pfs_store::store_suite_cases!(sqlite_cases);
/// ```
#[macro_export]
macro_rules! store_suite_cases {
    ($callback:ident) => {
        $callback! {
            ping,
            providers_round_trip,
            provider_conflicts,
            error_texts_name_the_key,
            revoke_provider_ends_its_sessions,
            practices_round_trip,
            patients_round_trip,
            patient_conflicts_and_unknown_practice,
            accounts_round_trip,
            account_conflicts,
            end_account_ends_its_sessions,
            linkage_key_is_replaced,
            provider_link_upsert,
            link_throttle_put_get_clear,
            proxy_grants,
            practice_service_switches,
            patient_service_switches,
            patient_context,
            sessions_round_trip,
            session_context,
            session_context_prefetches_appointments,
            concurrent_session_contexts,
            touch_session,
            end_session,
            purge_sessions,
            concurrent_session_inserts,
            appointment_sessions_round_trip,
            book_appointment_round_trip,
            booking_a_taken_slot,
            cancelled_slot_can_be_booked_again,
            booking_limit_counts_live_future_appointments,
            practice_appointments_range,
            record_accesses_round_trip,
            concurrent_bookings_of_one_slot,
        }
    };
}

// --- fixtures ----------------------------------------------------------------------------------

/// 2025-03-01T10:00:00.123Z plus `offset_ms`.
fn t(offset_ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(1_740_823_200_123 + offset_ms).expect("in range")
}

fn provider(n: u32, created_at: DateTime<Utc>) -> Provider {
    Provider {
        id: format!("{n:016x}"),
        name: format!("Provider {n}"),
        fingerprint: format!("f{n:063x}"),
        trusted_identity: n % 2 == 1,
        created_at,
        revoked_at: None,
    }
}

fn practice(n: u32) -> Practice {
    Practice {
        ods: format!("X{n:05}"),
        name: format!("Practice {n}"),
        address: format!("{n} High Street, Leeds LS1 1AA"),
        settings: PracticeSettings::default(),
    }
}

fn patient(n: u32, ods: &str) -> Patient {
    Patient {
        id: format!("{}", 1_000_000 + n),
        ods: ods.to_owned(),
        nhs_number: format!("{}", 9_000_000_000u64 + u64::from(n)),
        title: Some("Ms".into()),
        first_name: format!("Ada{n}"),
        last_name: format!("Example{n}"),
        date_of_birth: NaiveDate::from_ymd_opt(1980, 2, 29).expect("date"),
        gender: "Female".into(),
        address: format!("{n} Low Road, Leeds LS2 2BB"),
    }
}

fn account(n: u32, patient_id: &str) -> OnlineAccount {
    OnlineAccount {
        id: format!("{}", 500_000_000 + n),
        patient_id: patient_id.to_owned(),
        email: Some(format!("ada{n}@example.org")),
        mobile: None,
        created_at: t(0),
        ended_at: None,
    }
}

fn session(n: u32, provider_id: &str, account: &OnlineAccount, at: DateTime<Utc>) -> SessionRecord {
    SessionRecord {
        suid_hash: format!("5{n:063x}"),
        provider_id: provider_id.to_owned(),
        account_id: account.id.clone(),
        online_user_id: account.patient_id.clone(),
        selected_patient_id: account.patient_id.clone(),
        created_at: at,
        last_seen_at: at,
        ended_at: None,
    }
}

/// One provider, practice, patient and account, all numbered `n`.
struct World {
    provider: Provider,
    practice: Practice,
    patient: Patient,
    account: OnlineAccount,
}

const MINUTE: i64 = 60_000;
const DAY: i64 = 24 * 60 * MINUTE;

/// Appointment session `n` of practice `ods`: 12 slots of 10 minutes from `start`.
fn appt_session(n: u32, ods: &str, start: DateTime<Utc>) -> AppointmentSession {
    AppointmentSession {
        id: format!("{}", 700_000 + n),
        ods: ods.to_owned(),
        session_type: format!("Morning surgery {n}"),
        staff_details: "Dr A Jones (Female)".into(),
        location: "Main site".into(),
        slot_type: if n.is_multiple_of(2) {
            "Telephone"
        } else {
            "Routine"
        }
        .into(),
        start,
        slot_minutes: 10,
        slot_count: 12,
    }
}

/// Appointment `n`: slot number `slot` of `session`, for `patient_id`.
fn appointment(n: u32, session: &AppointmentSession, slot: u32, patient_id: &str) -> Appointment {
    let len = i64::from(session.slot_minutes) * MINUTE;
    let start = session.start + chrono::Duration::milliseconds(i64::from(slot) * len);
    Appointment {
        id: format!("{}", 800_000 + n),
        session_id: session.id.clone(),
        patient_id: patient_id.to_owned(),
        start,
        end: start + chrono::Duration::milliseconds(len),
        notes: (n % 2 == 1).then(|| format!("Reason {n}")),
        booked_by: patient_id.to_owned(),
        booked_at: t(i64::from(n)),
        cancelled_at: None,
    }
}

fn record_access(patient_id: &str, at: DateTime<Utc>, what: &str) -> RecordAccess {
    RecordAccess {
        patient_id: patient_id.to_owned(),
        at,
        accessed_by: "Ada Example (Example App)".into(),
        organisation: "Practice 1".into(),
        access_type: what.to_owned(),
        method: "Online".into(),
    }
}

/// The [`World`] numbered `n`, not stored.
fn world_data(n: u32) -> World {
    let practice = practice(n);
    let patient = patient(n, &practice.ods);
    let account = account(n, &patient.id);
    World {
        provider: provider(n, t(0)),
        practice,
        patient,
        account,
    }
}

/// Stores the [`World`] numbered `n`.
async fn world(store: &dyn Store, n: u32) -> World {
    let w = world_data(n);
    store.insert_provider(&w.provider).await.expect("provider");
    store.insert_practice(&w.practice).await.expect("practice");
    store.insert_patient(&w.patient).await.expect("patient");
    store.insert_account(&w.account).await.expect("account");
    w
}

/// The access log entry a store call about `a` writes.
fn logged(a: &Appointment, what: &str) -> RecordAccess {
    RecordAccess {
        patient_id: a.patient_id.clone(),
        at: a.booked_at,
        accessed_by: format!("{what} by {}", a.booked_by),
        organisation: "Practice".into(),
        access_type: format!("{what} appointment {}", a.id),
        method: "Online".into(),
    }
}

/// Books `a` as its patient would (the access-log entry says "Booked").
async fn book(
    store: &dyn Store,
    a: &Appointment,
    max_future: u32,
    now: DateTime<Utc>,
) -> StoreResult<BookOutcome> {
    store
        .book_appointment(a, max_future, now, &logged(a, "Booked"))
        .await
}

/// Cancels `a` as its patient would (the access-log entry says "Cancelled").
async fn cancel(store: &dyn Store, a: &Appointment, at: DateTime<Utc>) -> StoreResult<bool> {
    store
        .cancel_appointment(&a.id, at, &logged(a, "Cancelled"))
        .await
}

/// A patient's live appointments, checking that each came with its own session.
async fn live_appointments(store: &dyn Store, patient_id: &str) -> Vec<Appointment> {
    let rows = store.patient_appointments(patient_id).await.unwrap();
    rows.into_iter()
        .map(|(a, s)| {
            assert_eq!(
                a.session_id, s.id,
                "appointment {} came with its session",
                a.id
            );
            a
        })
        .collect()
}

/// Field-by-field, because `Patient`'s `Debug` hides everything but the ids.
fn assert_patient(got: &Patient, want: &Patient) {
    assert_eq!(got.id, want.id, "id");
    assert_eq!(got.ods, want.ods, "ods of {}", want.id);
    assert_eq!(got.nhs_number, want.nhs_number, "nhs_number of {}", want.id);
    assert_eq!(got.title, want.title, "title of {}", want.id);
    assert_eq!(got.first_name, want.first_name, "first_name of {}", want.id);
    assert_eq!(got.last_name, want.last_name, "last_name of {}", want.id);
    assert_eq!(
        got.date_of_birth, want.date_of_birth,
        "date_of_birth of {}",
        want.id
    );
    assert_eq!(got.gender, want.gender, "gender of {}", want.id);
    assert_eq!(got.address, want.address, "address of {}", want.id);
    assert!(got == want, "patient {} differs", want.id);
}

fn assert_patients(got: &[Patient], want: &[&Patient]) {
    let got_ids: Vec<&str> = got.iter().map(|p| p.id.as_str()).collect();
    let want_ids: Vec<&str> = want.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(got_ids, want_ids);
    for (g, w) in got.iter().zip(want) {
        assert_patient(g, w);
    }
}

/// Same for `OnlineAccount`.
fn assert_account(got: &OnlineAccount, want: &OnlineAccount) {
    assert_eq!(got.id, want.id, "id");
    assert_eq!(got.patient_id, want.patient_id, "patient_id of {}", want.id);
    assert_eq!(got.email, want.email, "email of {}", want.id);
    assert_eq!(got.mobile, want.mobile, "mobile of {}", want.id);
    assert_eq!(got.created_at, want.created_at, "created_at of {}", want.id);
    assert_eq!(got.ended_at, want.ended_at, "ended_at of {}", want.id);
}

/// Asserts a `Conflict` whose text mentions `key` (when given) and none of `values`.
fn assert_conflict(result: StoreResult<()>, key: Option<&str>, values: &[&str]) {
    let err = match result {
        Err(err @ StoreError::Conflict(_)) => err,
        other => panic!("expected Conflict, got {other:?}"),
    };
    let (text, debug) = (err.to_string(), format!("{err:?}"));
    if let Some(key) = key {
        assert!(
            text.contains(key),
            "conflict text {text:?} does not name {key:?}"
        );
    }
    for value in values {
        assert!(
            !text.contains(value) && !debug.contains(value),
            "error text {text:?} contains a value"
        );
    }
}

// --- cases -------------------------------------------------------------------------------------

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

/// Practices round-trip (settings included), list by ODS code, update settings, conflict.
pub async fn practices_round_trip(store: &dyn Store) {
    let mut b = practice(2);
    b.settings = PracticeSettings {
        minimum_age: 13,
        ..PracticeSettings::default()
    };
    let a = practice(1);
    store.insert_practice(&b).await.unwrap();
    store.insert_practice(&a).await.unwrap();

    assert_eq!(store.practice(&a.ods).await.unwrap(), Some(a.clone()));
    assert_eq!(store.practice(&b.ods).await.unwrap(), Some(b.clone()));
    assert_eq!(store.practice("Z99999").await.unwrap(), None);
    assert_eq!(
        store.list_practices().await.unwrap(),
        vec![a.clone(), b.clone()]
    );

    let settings = PracticeSettings {
        minimum_age: 18,
        booking_window_days: 28,
        max_future_appointments: 2,
        cancellation_cutoff_minutes: 120,
        booking_guidance: Some("Book routine appointments up to 4 weeks ahead.".into()),
        medication_request_confirmation: Some("Allow 2 working days.".into()),
        medication_guidance: Some("Order a week before you run out.".into()),
    };
    assert!(
        store
            .update_practice_settings(&a.ods, &settings)
            .await
            .unwrap()
    );
    assert_eq!(
        store.practice(&a.ods).await.unwrap().unwrap().settings,
        settings
    );
    assert_eq!(store.practice(&b.ods).await.unwrap(), Some(b.clone()));
    assert!(
        !store
            .update_practice_settings("Z99999", &settings)
            .await
            .unwrap()
    );

    let mut dup = practice(3);
    dup.ods = a.ods.clone();
    assert_conflict(store.insert_practice(&dup).await, None, &[&dup.name]);
    assert_eq!(store.list_practices().await.unwrap().len(), 2);
}

/// Patients round-trip (title `None` included) by id, NHS number and the id-ordered lists.
pub async fn patients_round_trip(store: &dyn Store) {
    let (x, y) = (practice(1), practice(2));
    store.insert_practice(&x).await.unwrap();
    store.insert_practice(&y).await.unwrap();
    let p3 = patient(3, &x.ods);
    let mut p1 = patient(1, &y.ods);
    p1.title = None;
    p1.gender = "Male".into();
    p1.date_of_birth = NaiveDate::from_ymd_opt(2007, 12, 31).unwrap();
    let p2 = patient(2, &x.ods);
    for p in [&p3, &p1, &p2] {
        store.insert_patient(p).await.unwrap();
    }

    assert_patient(&store.patient(&p1.id).await.unwrap().expect("p1"), &p1);
    assert_patient(&store.patient(&p3.id).await.unwrap().expect("p3"), &p3);
    let by_nhs = store.patient_by_nhs_number(&p1.nhs_number).await.unwrap();
    assert_patient(&by_nhs.expect("p1 by NHS number"), &p1);
    assert!(store.patient("42").await.unwrap().is_none());
    assert!(
        store
            .patient_by_nhs_number("9999999999")
            .await
            .unwrap()
            .is_none()
    );

    assert_patients(&store.list_patients(None).await.unwrap(), &[&p1, &p2, &p3]);
    assert_patients(
        &store.list_patients(Some(&x.ods)).await.unwrap(),
        &[&p2, &p3],
    );
    assert_patients(&store.list_patients(Some(&y.ods)).await.unwrap(), &[&p1]);
    assert!(
        store
            .list_patients(Some("Z99999"))
            .await
            .unwrap()
            .is_empty()
    );
}

/// Duplicate NHS number or id is a `Conflict` naming no values; an unknown practice is
/// `NotFound` and stores nothing.
pub async fn patient_conflicts_and_unknown_practice(store: &dyn Store) {
    let x = practice(1);
    store.insert_practice(&x).await.unwrap();
    let first = patient(1, &x.ods);
    store.insert_patient(&first).await.unwrap();

    let mut same_nhs = patient(2, &x.ods);
    same_nhs.nhs_number = first.nhs_number.clone();
    assert_conflict(
        store.insert_patient(&same_nhs).await,
        Some("nhs_number"),
        &[
            &first.nhs_number,
            &same_nhs.first_name,
            &same_nhs.last_name,
            &same_nhs.address,
        ],
    );
    assert!(store.patient(&same_nhs.id).await.unwrap().is_none());

    let mut same_id = patient(3, &x.ods);
    same_id.id = first.id.clone();
    assert_conflict(
        store.insert_patient(&same_id).await,
        None,
        &[&same_id.nhs_number, &same_id.first_name],
    );

    let orphan = patient(4, "Z99999");
    match store.insert_patient(&orphan).await {
        Err(err @ StoreError::NotFound(_)) => {
            let text = err.to_string();
            for value in [&orphan.ods, &orphan.nhs_number, &orphan.first_name] {
                assert!(
                    !text.contains(value.as_str()),
                    "error text {text:?} contains a value"
                );
            }
        }
        other => panic!("expected NotFound, got {other:?}"),
    }
    assert!(store.patient(&orphan.id).await.unwrap().is_none());
    assert!(
        store
            .patient_by_nhs_number(&orphan.nhs_number)
            .await
            .unwrap()
            .is_none()
    );
    assert_patients(&store.list_patients(None).await.unwrap(), &[&first]);
}

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

fn switch(service: &str, enabled: bool) -> ServiceSwitch {
    ServiceSwitch {
        service: service.into(),
        enabled,
    }
}

/// Practice switches are set, replaced and cleared, listed by service, per practice.
/// `patient_context` reads the patient, their practice and both sets of switches together.
pub async fn patient_context(store: &dyn Store) {
    let w = world(store, 1).await;
    store
        .set_practice_service(&w.practice.ods, "messaging", Some(false))
        .await
        .unwrap();
    store
        .set_patient_service(&w.patient.id, "appointments", Some(true))
        .await
        .unwrap();
    let ctx = store
        .patient_context(&w.patient.id)
        .await
        .unwrap()
        .expect("the patient exists");
    assert_patient(&ctx.patient, &w.patient);
    assert_eq!(ctx.practice, w.practice);
    assert_eq!(
        ctx.practice_switches,
        vec![ServiceSwitch {
            service: "messaging".into(),
            enabled: false
        }]
    );
    assert_eq!(
        ctx.patient_switches,
        vec![ServiceSwitch {
            service: "appointments".into(),
            enabled: true
        }]
    );
    assert_eq!(store.patient_context("nobody").await.unwrap(), None);
}

pub async fn practice_service_switches(store: &dyn Store) {
    let (x, y) = (practice(1), practice(2));
    store.insert_practice(&x).await.unwrap();
    store.insert_practice(&y).await.unwrap();
    assert!(store.practice_services(&x.ods).await.unwrap().is_empty());

    store
        .set_practice_service(&x.ods, "messaging", Some(true))
        .await
        .unwrap();
    store
        .set_practice_service(&x.ods, "appointments", Some(false))
        .await
        .unwrap();
    store
        .set_practice_service(&y.ods, "messaging", Some(false))
        .await
        .unwrap();
    assert_eq!(
        store.practice_services(&x.ods).await.unwrap(),
        vec![switch("appointments", false), switch("messaging", true)]
    );

    store
        .set_practice_service(&x.ods, "messaging", Some(false))
        .await
        .unwrap();
    store
        .set_practice_service(&x.ods, "appointments", None)
        .await
        .unwrap();
    store
        .set_practice_service(&x.ods, "prescriptions", None)
        .await
        .expect("clearing nothing");
    assert_eq!(
        store.practice_services(&x.ods).await.unwrap(),
        vec![switch("messaging", false)]
    );
    assert_eq!(
        store.practice_services(&y.ods).await.unwrap(),
        vec![switch("messaging", false)]
    );
    assert!(store.practice_services("Z99999").await.unwrap().is_empty());
}

/// Patient switches are set, replaced and cleared, listed by service, per patient.
pub async fn patient_service_switches(store: &dyn Store) {
    let w = world(store, 1).await;
    let other = patient(2, &w.practice.ods);
    store.insert_patient(&other).await.unwrap();
    let me = w.patient.id.as_str();
    assert!(store.patient_services(me).await.unwrap().is_empty());

    store
        .set_patient_service(me, "records", Some(false))
        .await
        .unwrap();
    store
        .set_patient_service(me, "appointments", Some(true))
        .await
        .unwrap();
    store
        .set_patient_service(&other.id, "records", Some(true))
        .await
        .unwrap();
    assert_eq!(
        store.patient_services(me).await.unwrap(),
        vec![switch("appointments", true), switch("records", false)]
    );

    store
        .set_patient_service(me, "records", Some(true))
        .await
        .unwrap();
    store
        .set_patient_service(me, "appointments", None)
        .await
        .unwrap();
    store
        .set_patient_service(me, "messaging", None)
        .await
        .expect("clearing nothing");
    assert_eq!(
        store.patient_services(me).await.unwrap(),
        vec![switch("records", true)]
    );
    assert_eq!(
        store.patient_services(&other.id).await.unwrap(),
        vec![switch("records", true)]
    );
    // Patient switches are separate from the practice's.
    assert!(
        store
            .practice_services(&w.practice.ods)
            .await
            .unwrap()
            .is_empty()
    );
}

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

// --- appointments ------------------------------------------------------------------------------

/// World 1 plus a stored session starting a day after `t(0)` and a second patient.
async fn appointment_world(store: &dyn Store) -> (World, AppointmentSession, Patient) {
    let w = world(store, 1).await;
    let session = appt_session(1, &w.practice.ods, t(DAY));
    store
        .insert_appointment_session(&session)
        .await
        .expect("session");
    let p2 = patient(2, &w.practice.ods);
    store.insert_patient(&p2).await.expect("patient 2");
    (w, session, p2)
}

fn ids(appointments: &[Appointment]) -> Vec<&str> {
    appointments.iter().map(|a| a.id.as_str()).collect()
}

/// Sessions round-trip, range query `[from, to)` by start then id, conflict, unknown practice.
pub async fn appointment_sessions_round_trip(store: &dyn Store) {
    let w = world(store, 1).await;
    let ods = &w.practice.ods;
    let other = practice(2);
    store.insert_practice(&other).await.unwrap();

    let s1 = appt_session(1, ods, t(2 * DAY));
    let s2 = appt_session(2, ods, t(DAY));
    let s3 = appt_session(3, ods, t(3 * DAY));
    let s4 = appt_session(4, ods, t(DAY)); // same start as s2, later id
    let elsewhere = appt_session(5, &other.ods, t(DAY));
    for s in [&s4, &s1, &s3, &s2, &elsewhere] {
        store.insert_appointment_session(s).await.unwrap();
    }

    assert_eq!(
        store.appointment_session(&s1.id).await.unwrap(),
        Some(s1.clone())
    );
    assert_eq!(
        store.appointment_session(&elsewhere.id).await.unwrap(),
        Some(elsewhere.clone())
    );
    assert_eq!(store.appointment_session("799999").await.unwrap(), None);

    // from inclusive, to exclusive.
    assert_eq!(
        store
            .appointment_sessions(ods, t(DAY), t(3 * DAY))
            .await
            .unwrap(),
        vec![s2.clone(), s4.clone(), s1.clone()]
    );
    assert_eq!(
        store
            .appointment_sessions(ods, t(DAY + 1), t(3 * DAY + 1))
            .await
            .unwrap(),
        vec![s1.clone(), s3.clone()]
    );
    assert_eq!(
        store
            .appointment_sessions(&other.ods, t(0), t(10 * DAY))
            .await
            .unwrap(),
        vec![elsewhere.clone()]
    );
    assert!(
        store
            .appointment_sessions("Z99999", t(0), t(10 * DAY))
            .await
            .unwrap()
            .is_empty()
    );

    let mut again = s1.clone();
    again.location = "Branch surgery".into();
    assert_conflict(
        store.insert_appointment_session(&again).await,
        Some("appointment_sessions.id"),
        &["Branch surgery"],
    );
    assert_eq!(
        store.appointment_session(&s1.id).await.unwrap(),
        Some(s1.clone())
    );

    let orphan = appt_session(9, "Z99999", t(DAY));
    assert!(matches!(
        store.insert_appointment_session(&orphan).await,
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(store.appointment_session(&orphan.id).await.unwrap(), None);
}

/// A booking round-trips; unknown session or patient is `NotFound`; a reused id conflicts.
pub async fn book_appointment_round_trip(store: &dyn Store) {
    let (w, session, _) = appointment_world(store).await;
    let a1 = appointment(1, &session, 3, &w.patient.id);
    let a2 = appointment(2, &session, 1, &w.patient.id); // no notes, earlier slot
    assert!(a1.notes.is_some() && a2.notes.is_none());

    assert_eq!(
        book(store, &a1, 4, t(0)).await.unwrap(),
        BookOutcome::Booked
    );
    assert_eq!(
        book(store, &a2, 4, t(0)).await.unwrap(),
        BookOutcome::Booked
    );
    assert_eq!(store.appointment(&a1.id).await.unwrap(), Some(a1.clone()));
    assert_eq!(store.appointment(&a2.id).await.unwrap(), Some(a2.clone()));
    assert_eq!(store.appointment("899999").await.unwrap(), None);
    assert_eq!(
        live_appointments(store, &w.patient.id).await,
        vec![a2.clone(), a1.clone()]
    );
    let (_, with) = &store.patient_appointments(&w.patient.id).await.unwrap()[0];
    assert_eq!(
        with, &session,
        "each appointment comes with its whole session"
    );
    assert!(live_appointments(store, "9999999").await.is_empty());

    let mut no_session = appointment(3, &session, 5, &w.patient.id);
    no_session.session_id = "799999".into();
    assert!(matches!(
        book(store, &no_session, 4, t(0)).await,
        Err(StoreError::NotFound(_))
    ));
    let no_patient = appointment(4, &session, 6, "9999999");
    assert!(matches!(
        book(store, &no_patient, 4, t(0)).await,
        Err(StoreError::NotFound(_))
    ));

    let mut same_id = appointment(1, &session, 7, &w.patient.id);
    same_id.notes = Some("Different reason".into());
    assert!(matches!(
        book(store, &same_id, 4, t(0)).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(store.appointment(&a1.id).await.unwrap(), Some(a1.clone()));
    assert_eq!(live_appointments(store, &w.patient.id).await, vec![a2, a1]);
}

/// A second booking of a live slot is `SlotTaken`, stores nothing, and keeps the first.
pub async fn booking_a_taken_slot(store: &dyn Store) {
    let (w, session, p2) = appointment_world(store).await;
    let first = appointment(1, &session, 2, &w.patient.id);
    let second = appointment(2, &session, 2, &p2.id);
    assert_eq!(
        book(store, &first, 4, t(0)).await.unwrap(),
        BookOutcome::Booked
    );
    assert_eq!(
        book(store, &second, 4, t(0)).await.unwrap(),
        BookOutcome::SlotTaken
    );
    // The same patient again, too.
    let again = appointment(3, &session, 2, &w.patient.id);
    assert_eq!(
        book(store, &again, 4, t(0)).await.unwrap(),
        BookOutcome::SlotTaken
    );
    assert_eq!(store.appointment(&second.id).await.unwrap(), None);
    assert_eq!(store.appointment(&again.id).await.unwrap(), None);
    assert!(live_appointments(store, &p2.id).await.is_empty());
    assert_eq!(
        store
            .practice_appointments(&w.practice.ods, t(0), t(2 * DAY))
            .await
            .unwrap(),
        vec![first.clone()]
    );
    // The neighbouring slot is free.
    let next = appointment(4, &session, 3, &p2.id);
    assert_eq!(
        book(store, &next, 4, t(0)).await.unwrap(),
        BookOutcome::Booked
    );
}

/// Cancelling frees the slot (once only); the cancelled appointment keeps its record.
pub async fn cancelled_slot_can_be_booked_again(store: &dyn Store) {
    let (w, session, p2) = appointment_world(store).await;
    let first = appointment(1, &session, 0, &w.patient.id);
    assert_eq!(
        book(store, &first, 4, t(0)).await.unwrap(),
        BookOutcome::Booked
    );

    assert!(cancel(store, &first, t(100)).await.unwrap());
    assert!(!cancel(store, &first, t(200)).await.unwrap());
    assert!(
        !store
            .cancel_appointment("899999", t(200), &logged(&first, "Cancelled"))
            .await
            .unwrap()
    );
    // One log entry per booking and one for the cancellation that happened.
    let log = store
        .record_accesses(&first.patient_id, t(-100 * DAY), t(100 * DAY))
        .await
        .unwrap();
    let cancelled = logged(&first, "Cancelled");
    assert_eq!(
        log.iter().filter(|e| **e == cancelled).count(),
        1,
        "{log:?}"
    );
    assert!(log.contains(&logged(&first, "Booked")), "{log:?}");
    let cancelled = Appointment {
        cancelled_at: Some(t(100)),
        ..first.clone()
    };
    assert_eq!(
        store.appointment(&first.id).await.unwrap(),
        Some(cancelled.clone())
    );
    assert!(live_appointments(store, &w.patient.id).await.is_empty());
    assert!(
        store
            .practice_appointments(&w.practice.ods, t(0), t(2 * DAY))
            .await
            .unwrap()
            .is_empty()
    );

    let rebooked = appointment(2, &session, 0, &p2.id);
    assert_eq!(
        book(store, &rebooked, 4, t(300)).await.unwrap(),
        BookOutcome::Booked
    );
    assert_eq!(
        store
            .practice_appointments(&w.practice.ods, t(0), t(2 * DAY))
            .await
            .unwrap(),
        vec![rebooked.clone()]
    );
    assert_eq!(
        live_appointments(store, &p2.id).await,
        vec![rebooked.clone()]
    );
    // Taken again now.
    let third = appointment(3, &session, 0, &w.patient.id);
    assert_eq!(
        book(store, &third, 4, t(400)).await.unwrap(),
        BookOutcome::SlotTaken
    );
    // Cancel and rebook once more: any number of cancelled appointments may share a slot.
    assert!(cancel(store, &rebooked, t(500)).await.unwrap());
    assert_eq!(
        book(store, &third, 4, t(600)).await.unwrap(),
        BookOutcome::Booked
    );
    assert_eq!(store.appointment(&first.id).await.unwrap(), Some(cancelled));
}

/// The limit counts the patient's live appointments starting after `now`: not past ones,
/// not cancelled ones, not other patients'.
pub async fn booking_limit_counts_live_future_appointments(store: &dyn Store) {
    let (w, session, p2) = appointment_world(store).await;
    let me = &w.patient.id;
    let past_session = appt_session(2, &w.practice.ods, t(-DAY));
    store
        .insert_appointment_session(&past_session)
        .await
        .unwrap();
    let now = t(0);

    let past = appointment(1, &past_session, 0, me);
    assert_eq!(
        book(store, &past, 4, t(-2 * DAY)).await.unwrap(),
        BookOutcome::Booked
    );
    // Another patient's future appointment does not count either.
    let theirs = appointment(2, &session, 0, &p2.id);
    assert_eq!(
        book(store, &theirs, 1, now).await.unwrap(),
        BookOutcome::Booked
    );

    let future = appointment(3, &session, 1, me);
    assert_eq!(
        book(store, &future, 1, now).await.unwrap(),
        BookOutcome::Booked
    );
    let over = appointment(4, &session, 2, me);
    assert_eq!(
        book(store, &over, 1, now).await.unwrap(),
        BookOutcome::LimitReached
    );
    assert_eq!(store.appointment(&over.id).await.unwrap(), None);
    assert_eq!(
        live_appointments(store, me).await,
        vec![past.clone(), future.clone()]
    );
    // Limit 0 refuses even the first.
    let p2_next = appointment(5, &session, 5, &p2.id);
    assert_eq!(
        book(store, &p2_next, 0, now).await.unwrap(),
        BookOutcome::LimitReached
    );

    // A cancelled appointment no longer counts.
    assert!(cancel(store, &future, t(1)).await.unwrap());
    assert_eq!(
        book(store, &over, 1, now).await.unwrap(),
        BookOutcome::Booked
    );
    // Once the future appointment's start has passed, it no longer counts.
    let later = appointment(6, &session, 6, me);
    assert_eq!(
        book(store, &later, 1, over.start).await.unwrap(),
        BookOutcome::Booked
    );
    assert_eq!(
        ids(&live_appointments(store, me).await),
        vec![past.id.as_str(), over.id.as_str(), later.id.as_str()]
    );
}

/// `practice_appointments`: live appointments of the practice's sessions starting in
/// `[from, to)`, by start then id.
pub async fn practice_appointments_range(store: &dyn Store) {
    let (w, s1, p2) = appointment_world(store).await;
    let ods = &w.practice.ods;
    let me = &w.patient.id;
    // A second session overlapping the first (another clinician), and another practice's.
    let s2 = appt_session(2, ods, t(DAY));
    store.insert_appointment_session(&s2).await.unwrap();
    let other = practice(3);
    store.insert_practice(&other).await.unwrap();
    let p3 = patient(3, &other.ods);
    store.insert_patient(&p3).await.unwrap();
    let elsewhere = appt_session(3, &other.ods, t(DAY));
    store.insert_appointment_session(&elsewhere).await.unwrap();

    let a_late = appointment(1, &s1, 5, me);
    let a_first = appointment(2, &s1, 0, me);
    let b_first = appointment(3, &s2, 0, &p2.id); // same start as a_first, later id
    let b_mid = appointment(4, &s2, 2, &p2.id);
    let cancelled = appointment(5, &s1, 3, &p2.id);
    let foreign = appointment(6, &elsewhere, 1, &p3.id);
    for a in [&a_late, &b_mid, &b_first, &a_first, &cancelled, &foreign] {
        assert_eq!(
            book(store, a, 10, t(0)).await.unwrap(),
            BookOutcome::Booked,
            "{}",
            a.id
        );
    }
    assert!(cancel(store, &cancelled, t(1)).await.unwrap());

    assert_eq!(
        store
            .practice_appointments(ods, t(0), t(2 * DAY))
            .await
            .unwrap(),
        vec![
            a_first.clone(),
            b_first.clone(),
            b_mid.clone(),
            a_late.clone()
        ]
    );
    // from inclusive, to exclusive.
    assert_eq!(
        ids(&store
            .practice_appointments(ods, b_mid.start, a_late.start)
            .await
            .unwrap()),
        vec![b_mid.id.as_str()]
    );
    assert_eq!(
        ids(&store
            .practice_appointments(
                ods,
                a_first.start + chrono::Duration::milliseconds(1),
                t(2 * DAY)
            )
            .await
            .unwrap()),
        vec![b_mid.id.as_str(), a_late.id.as_str()]
    );
    assert_eq!(
        store
            .practice_appointments(&other.ods, t(0), t(2 * DAY))
            .await
            .unwrap(),
        vec![foreign]
    );
    assert!(
        store
            .practice_appointments(ods, t(2 * DAY), t(3 * DAY))
            .await
            .unwrap()
            .is_empty()
    );
}

/// Record access entries round-trip, oldest first, in `[from, to)`, per patient.
pub async fn record_accesses_round_trip(store: &dyn Store) {
    let w = world(store, 1).await;
    let me = &w.patient.id;
    let p2 = patient(2, &w.practice.ods);
    store.insert_patient(&p2).await.unwrap();

    let booked = record_access(me, t(2_000), "Booked appointment");
    let viewed = record_access(me, t(1_000), "Viewed appointments");
    let cancelled = record_access(me, t(3_000), "Cancelled appointment");
    let same_time = RecordAccess {
        method: "Practice".into(),
        accessed_by: "Dr A Jones".into(),
        ..record_access(me, t(2_000), "Cancelled appointment")
    };
    let theirs = record_access(&p2.id, t(2_000), "Booked appointment");
    for a in [&booked, &viewed, &cancelled, &same_time, &theirs] {
        store.insert_record_access(a).await.unwrap();
    }

    assert_eq!(
        store.record_accesses(me, t(0), t(10_000)).await.unwrap(),
        vec![
            viewed.clone(),
            booked.clone(),
            same_time.clone(),
            cancelled.clone()
        ]
    );
    assert_eq!(
        store.record_accesses(me, t(1_000), t(3_000)).await.unwrap(),
        vec![viewed, booked, same_time]
    );
    assert_eq!(
        store
            .record_accesses(&p2.id, t(0), t(10_000))
            .await
            .unwrap(),
        vec![theirs]
    );
    assert!(
        store
            .record_accesses("9999999", t(0), t(10_000))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(matches!(
        store
            .insert_record_access(&record_access("9999999", t(0), "Booked appointment"))
            .await,
        Err(StoreError::NotFound(_))
    ));
}

/// 32 patients book one slot at once: exactly one wins, every other is told `SlotTaken`, and
/// the store holds exactly one appointment for the slot.
pub async fn concurrent_bookings_of_one_slot(store: &dyn Store) {
    let (w, session, _) = appointment_world(store).await;
    let mut patients = vec![w.patient.id.clone()];
    for n in 3..=33 {
        let p = patient(n, &w.practice.ods);
        store.insert_patient(&p).await.unwrap();
        patients.push(p.id);
    }
    assert_eq!(patients.len(), 32);
    let attempts: Vec<Appointment> = patients
        .iter()
        .zip(1..)
        .map(|(patient_id, n)| appointment(n, &session, 4, patient_id))
        .collect();

    let bookings = attempts.iter().map(|a| book(store, a, 4, t(0)));
    let outcomes: Vec<BookOutcome> = futures_util::future::join_all(bookings)
        .await
        .into_iter()
        .enumerate()
        .map(|(n, r)| r.unwrap_or_else(|e| panic!("booking {n}: {e}")))
        .collect();
    let winners: Vec<&Appointment> = attempts
        .iter()
        .zip(&outcomes)
        .filter(|(_, o)| **o == BookOutcome::Booked)
        .map(|(a, _)| a)
        .collect();
    assert_eq!(winners.len(), 1, "outcomes: {outcomes:?}");
    assert_eq!(
        outcomes
            .iter()
            .filter(|o| **o == BookOutcome::SlotTaken)
            .count(),
        31,
        "outcomes: {outcomes:?}"
    );

    let held: Vec<Appointment> = store
        .practice_appointments(&w.practice.ods, t(0), t(2 * DAY))
        .await
        .unwrap();
    assert_eq!(held, vec![winners[0].clone()]);
    for a in &attempts {
        let stored = store.appointment(&a.id).await.unwrap();
        assert_eq!(stored.is_some(), a.id == winners[0].id, "{}", a.id);
        // Only the winning booking wrote to its patient's access log.
        let log = store
            .record_accesses(&a.patient_id, t(-100 * DAY), t(100 * DAY))
            .await
            .unwrap();
        let want = if a.id == winners[0].id {
            vec![logged(a, "Booked")]
        } else {
            vec![]
        };
        assert_eq!(log, want, "access log of {}", a.patient_id);
    }
}

// --- durability --------------------------------------------------------------------------------

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
    store
        .put_link_throttle(&w.account.id, &w.provider.id, &durable_throttle())
        .await
        .unwrap();
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
    assert_eq!(
        store
            .link_throttle(&w.account.id, &w.provider.id)
            .await
            .unwrap(),
        Some(durable_throttle())
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

fn durable_throttle() -> LinkThrottle {
    LinkThrottle {
        failures: 2,
        locked_until: Some(t(14)),
    }
}

fn durable_session(w: &World) -> SessionRecord {
    SessionRecord {
        last_seen_at: t(16),
        ..session(1, &w.provider.id, &w.account, t(15))
    }
}
