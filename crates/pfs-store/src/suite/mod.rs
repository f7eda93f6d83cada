//! The conformance suite every [`Store`] backend must pass.
//!
//! Each case is a plain async function taking a fresh, empty store; it panics on the first
//! failed assertion. A backend's integration tests run every case named by
//! [`store_suite_cases!`](crate::store_suite_cases), each against its own new database, so a
//! case added here reaches every backend. The durability pair [`durable_write`] /
//! [`durable_check`] is run by each backend around closing and re-opening its database.
//!
//! Instants used here have millisecond precision: backends store milliseconds.
//!
//! The cases live in one file per store area (`suite/<area>.rs`: provider, practice, patient,
//! account, proxy, service, session, appointment, medication, access_log, fault) and are re-exported
//! here, so each is `pfs_store::suite::<case>`; the shared fixtures and assertion helpers are in
//! this file.
//! A test (`tests/it/suite_complete.rs`) fails when a `pub async fn` of `suite/` is missing
//! from [`store_suite_cases!`](crate::store_suite_cases) or the list names a case that does
//! not exist.

use chrono::{DateTime, NaiveDate, Utc};
use pfs_core::model::{
    Appointment, AppointmentSession, BookOutcome, OnlineAccount, Patient, Practice,
    PracticeSettings, Provider, RecordAccess, ServiceSwitch, SessionRecord,
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
            link_attempts_back_off,
            concurrent_link_attempts,
            purge_link_throttles,
            proxy_grants,
            practice_service_switches,
            patient_service_switches,
            patient_context,
            sessions_round_trip,
            session_context,
            session_context_prefetches_appointments,
            concurrent_session_contexts,
            hot_reads_follow_every_change,
            session_reads_follow_every_change,
            touch_session,
            end_session,
            purge_sessions,
            count_live_sessions,
            concurrent_session_inserts,
            appointment_sessions_round_trip,
            book_appointment_round_trip,
            booking_a_taken_slot,
            cancelled_slot_can_be_booked_again,
            booking_limit_counts_live_future_appointments,
            practice_appointments_range,
            record_accesses_round_trip,
            concurrent_bookings_of_one_slot,
            medication_courses_round_trip,
            medication_list_version_moves_with_course_changes,
            medication_list_order_and_views,
            medication_order_list_changed,
            medication_order_already_requested,
            concurrent_medication_orders_of_one_course,
            amend_prescription_request_cases,
            settle_prescription_request_cases,
            prescription_requests_window_and_pending,
            purge_sessions_removes_medication_views,
            session_context_prefetches_the_medication_list,
            medication_reads_follow_every_change,
            contact_details_round_trip,
            demographics_changes_round_trip,
            settle_demographics_change_cases,
            pharmacies_round_trip,
            pharmacies_near_order,
            nominated_pharmacy_cases,
            unlink_applications_cases,
            message_recipients_round_trip,
            messages_round_trip,
            message_ids_are_all_or_nothing,
            messages_token_moves_with_every_messages_write,
            practice_inbox_order,
            record_accesses_in_groups,
            binary_data_round_trip,
            binary_data_upload,
            record_events_round_trip,
            record_token_moves_with_every_record_write,
            test_results_round_trip,
            record_grants_round_trip,
            snapshots_round_trip,
            snapshot_names_are_checked_by_the_store,
            snapshots_leave_fault_rules_alone,
            namespaces_round_trip,
            namespace_deletion_follows_every_reference,
            fault_rules_round_trip,
            fault_rule_counters,
            concurrent_fault_hits,
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

const SECOND: i64 = 1_000;
const MINUTE: i64 = 60 * SECOND;
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

fn switch(service: &str, enabled: bool) -> ServiceSwitch {
    ServiceSwitch {
        service: service.into(),
        enabled,
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

// --- cases -------------------------------------------------------------------------------------

mod access_log;
mod account;
mod account_info;
mod appointment;
mod binary_data;
mod demographics;
mod fault;
mod medication;
mod messaging;
mod namespace;
mod patient;
mod pharmacy;
mod practice;
mod provider;
mod proxy;
mod record;
mod sandbox;
mod service;
mod session;

pub use access_log::*;
pub use account::*;
pub use account_info::*;
pub use appointment::*;
pub use binary_data::*;
pub use demographics::*;
pub use fault::*;
pub use medication::*;
pub use messaging::*;
pub use namespace::*;
pub use patient::*;
pub use pharmacy::*;
pub use practice::*;
pub use provider::*;
pub use proxy::*;
pub use record::*;
pub use sandbox::*;
pub use service::*;
pub use session::*;

// --- durability --------------------------------------------------------------------------------

mod durability;

pub use durability::{durable_check, durable_write};
