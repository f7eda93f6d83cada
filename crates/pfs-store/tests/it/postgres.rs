//! The PostgreSQL backend: every suite case, each in a fresh schema of the database named by
//! `PFS_TEST_POSTGRES_URL`, plus PostgreSQL-specific checks. The tests that need the database
//! are ignored unless run with `--include-ignored` (or `--ignored`), and then fail when the
//! variable is unset.

use std::time::Duration;

use pfs_core::model::{PracticeSettings, RecordAccess};
use pfs_core::store::*;

use crate::fixtures::{account, patient, practice, provider, t};
use pfs_store::pg_testing::{TestSchema, required_test_url};
use pfs_store::{PostgresOptions, PostgresStore, postgres, suite};
use sqlx_core::connection::Connection;
use sqlx_core::executor::Executor;
use sqlx_postgres::PgConnection;

/// A store on a fresh schema of the test database; panics when `PFS_TEST_POSTGRES_URL` is unset.
async fn fresh(opts: PostgresOptions) -> (TestSchema, PostgresStore) {
    let schema = TestSchema::create(&required_test_url()).await;
    let store = postgres::connect(schema.url(), opts)
        .await
        .expect("connect");
    (schema, store)
}

/// One test per suite case, each in its own schema.
macro_rules! postgres_cases {
    ($($case:ident),* $(,)?) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        #[ignore = "needs PostgreSQL: set PFS_TEST_POSTGRES_URL and run with --include-ignored"]
        async fn $case() {
            let (_schema, store) = fresh(PostgresOptions::default()).await;
            suite::$case(&store).await;
            store.close().await;
        }
    )*};
}

pfs_store::store_suite_cases!(postgres_cases);

/// Reads spread over several shared connections give the same answers as over one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: set PFS_TEST_POSTGRES_URL and run with --include-ignored"]
async fn several_read_connections() {
    let opts = PostgresOptions {
        read_connections: 3,
        ..PostgresOptions::default()
    };
    let (_schema, store) = fresh(opts).await;
    suite::concurrent_session_contexts(&store).await;
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: set PFS_TEST_POSTGRES_URL and run with --include-ignored"]
async fn data_survives_close_and_reconnect() {
    let (schema, store) = fresh(PostgresOptions::default()).await;
    suite::durable_write(&store).await;
    store.close().await;
    for _ in 0..2 {
        let store = postgres::connect(schema.url(), PostgresOptions::default())
            .await
            .expect("reconnect");
        suite::durable_check(&store).await;
        store.close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: set PFS_TEST_POSTGRES_URL and run with --include-ignored"]
async fn migrate_is_idempotent() {
    let (schema, store) = fresh(PostgresOptions::default()).await;
    store.insert_practice(&practice("X00001")).await.unwrap();
    postgres::migrate(schema.url(), None)
        .await
        .expect("migrate again");
    postgres::migrate(schema.url(), None)
        .await
        .expect("and again");
    assert_eq!(store.list_practices().await.unwrap().len(), 1);
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: set PFS_TEST_POSTGRES_URL and run with --include-ignored"]
async fn closed_store_is_unavailable() {
    let (_schema, store) = fresh(PostgresOptions::default()).await;
    store.close().await;
    assert!(matches!(
        store.ping().await,
        Err(StoreError::Unavailable(_))
    ));
    assert!(matches!(
        store.insert_practice(&practice("X00001")).await,
        Err(StoreError::Unavailable(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: set PFS_TEST_POSTGRES_URL and run with --include-ignored"]
async fn slow_statements_time_out_as_unavailable() {
    let (schema, store) = fresh(PostgresOptions {
        statement_timeout: Duration::from_millis(200),
        ..PostgresOptions::default()
    })
    .await;
    store.insert_practice(&practice("X00001")).await.unwrap();
    // Another connection holds the row lock; the update waits, then is cancelled.
    let mut other = PgConnection::connect(schema.url()).await.unwrap();
    other.execute("BEGIN").await.unwrap();
    other
        .execute("UPDATE practices SET name = 'held' WHERE ods = 'X00001'")
        .await
        .unwrap();
    let started = std::time::Instant::now();
    match store
        .update_practice_settings("X00001", &PracticeSettings::default())
        .await
    {
        Err(StoreError::Unavailable(text)) => assert!(text.contains("timed out"), "{text}"),
        other => panic!("expected Unavailable, got {other:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(3));
    other.execute("ROLLBACK").await.unwrap();
    assert!(
        store
            .update_practice_settings("X00001", &PracticeSettings::default())
            .await
            .unwrap()
    );
    store.close().await;
}

/// The access log has no foreign key (migration 0015). A namespace's deletion waits for an
/// entry being written for one of its patients and deletes it with the patient; an entry
/// written afterwards finds no patient and is dropped. No entry outlives its patient.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: set PFS_TEST_POSTGRES_URL and run with --include-ignored"]
async fn namespace_deletion_waits_for_access_log_writers() {
    let (schema, store) = fresh(PostgresOptions::default()).await;
    let ods_of = |n: u32| format!("R{n:05}");
    let ns = store
        .create_namespace("race", t(0), &practice("R00001"), ods_of, 10)
        .await
        .unwrap();
    let mine = patient("race-patient", &ns.ods);
    store.insert_patient(&mine).await.unwrap();
    let entry = RecordAccess {
        patient_id: mine.id.clone(),
        at: t(1),
        accessed_by: "Provider".into(),
        organisation: "Practice".into(),
        access_type: "Viewed record".into(),
        method: "Online".into(),
    };

    // A writer that has checked the patient and not yet committed.
    let mut writer = PgConnection::connect(schema.url()).await.unwrap();
    writer.execute("BEGIN").await.unwrap();
    writer
        .execute(
            "INSERT INTO record_accesses
                 (patient_id, at_ms, accessed_by, organisation, access_type, method)
             SELECT 'race-patient', 1, 'Provider', 'Practice', 'Viewed record', 'Online'
             WHERE EXISTS (SELECT 1 FROM patients WHERE id = 'race-patient')",
        )
        .await
        .unwrap();
    let store = std::sync::Arc::new(store);
    let deleting = tokio::spawn({
        let store = store.clone();
        async move { store.delete_namespace("race").await }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!deleting.is_finished(), "the deletion waits for the writer");
    writer.execute("COMMIT").await.unwrap();
    deleting.await.unwrap().unwrap();

    assert_eq!(store.patient(&mine.id).await.unwrap(), None);
    store
        .insert_record_accesses(std::slice::from_ref(&entry))
        .await
        .unwrap();
    assert!(matches!(
        store.insert_record_access(&entry).await,
        Err(StoreError::NotFound(_))
    ));
    let (left,): (i64,) = sqlx_core::query_as::query_as(
        "SELECT count(*) FROM record_accesses WHERE patient_id = 'race-patient'",
    )
    .fetch_one(&mut writer)
    .await
    .unwrap();
    assert_eq!(left, 0, "no entry outlives its patient");
    store.close().await;
}

#[tokio::test]
async fn unreachable_database_is_unavailable() {
    // Nothing listens on port 1.
    let err = postgres::connect(
        "postgres://pfs:secret-password@127.0.0.1:1/pfs",
        PostgresOptions {
            acquire_timeout: Duration::from_millis(300),
            ..PostgresOptions::default()
        },
    )
    .await
    .expect_err("nothing listens there");
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    assert!(!err.to_string().contains("secret-password"));
}

/// An order waits for a course change under way (another connection holding the patient's
/// list version row, as a course change does until it commits), then checks the version the
/// change left: `ListChanged` if it committed, stored if it rolled back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: set PFS_TEST_POSTGRES_URL and run with --include-ignored"]
async fn an_order_waits_for_a_course_change_under_way() {
    use pfs_core::model::{
        CourseType, MedicationCourse, OrderOutcome, PrescriptionItem, PrescriptionRequest,
        PrescriptionStatus, RecordAccess,
    };

    let (schema, store) = fresh(PostgresOptions::default()).await;
    store.insert_practice(&practice("X00001")).await.unwrap();
    store
        .insert_patient(&patient("1000001", "X00001"))
        .await
        .unwrap();
    let course = MedicationCourse {
        id: "600001".into(),
        patient_id: "1000001".into(),
        drug: "Amlodipine 5mg tablets".into(),
        details: "One daily - 28 tablet".into(),
        course_type: CourseType::Repeat,
        requestable: true,
        online_visible: true,
        started_on: chrono::NaiveDate::from_ymd_opt(2024, 1, 1).unwrap(),
        stopped_on: None,
        last_issued_at: None,
        issue_count: 0,
        max_issues: None,
    };
    let prescribed = RecordAccess {
        patient_id: "1000001".into(),
        at: t(0),
        accessed_by: "Practice staff".into(),
        organisation: "Practice".into(),
        access_type: "Prescribed medication".into(),
        method: "Practice".into(),
    };
    store.insert_course(&course, &prescribed).await.unwrap();
    let version = store
        .medication_list("1000001", None)
        .await
        .unwrap()
        .version;
    let request = |id: &str| PrescriptionRequest {
        id: id.into(),
        patient_id: "1000001".into(),
        requested_by: "1000001".into(),
        requested_at: t(0),
        notes: None,
        status: PrescriptionStatus::Requested,
        status_at: t(0),
        practice_comment: None,
        items: vec![PrescriptionItem {
            course_id: course.id.clone(),
            drug: course.drug.clone(),
            course_type: course.course_type,
        }],
    };
    let log = RecordAccess {
        patient_id: "1000001".into(),
        at: t(0),
        accessed_by: "Ada".into(),
        organisation: "Riverside Surgery".into(),
        access_type: "Requested medication".into(),
        method: "Online".into(),
    };
    let bump = "INSERT INTO medication_versions (patient_id, version) VALUES ('1000001', 1)
                ON CONFLICT (patient_id) DO UPDATE SET version = medication_versions.version + 1";

    let mut other = PgConnection::connect(schema.url()).await.unwrap();
    for (id, end, want) in [
        ("900001", "COMMIT", OrderOutcome::ListChanged),
        ("900002", "ROLLBACK", OrderOutcome::Stored),
    ] {
        let checked = store
            .medication_list("1000001", None)
            .await
            .unwrap()
            .version;
        other.execute("BEGIN").await.unwrap();
        other.execute(bump).await.unwrap();
        let ordering = tokio::spawn({
            let (store, request, log) = (store.clone(), request(id), log.clone());
            async move { store.request_medication(&request, checked, &log).await }
        });
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(
            !ordering.is_finished(),
            "the order waits for the course change"
        );
        other.execute(end).await.unwrap();
        assert_eq!(ordering.await.unwrap().unwrap(), want, "after {end}");
    }
    let list = store.medication_list("1000001", None).await.unwrap();
    assert_eq!(list.version, version + 1);
    assert_eq!(list.courses[0].1.as_deref(), Some("900002"));
    store.close().await;
}

/// A write that sent a large file closes its connection instead of pooling it (the driver keeps
/// its buffers at the largest size they reached); small writes keep theirs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: set PFS_TEST_POSTGRES_URL and run with --include-ignored"]
async fn large_file_writes_do_not_keep_their_connection() {
    use chrono::{NaiveDate, Utc};
    use pfs_core::model::{BinaryKind, NewBinaryData, Patient, Practice, PracticeSettings};
    let (_schema, store) = fresh(PostgresOptions::default()).await;
    store
        .insert_practice(&Practice {
            ods: "Y00001".into(),
            name: "Practice".into(),
            address: "1 Street".into(),
            settings: PracticeSettings::default(),
        })
        .await
        .unwrap();
    store
        .insert_patient(&Patient {
            id: "1000001".into(),
            ods: "Y00001".into(),
            nhs_number: "9990000018".into(),
            title: None,
            first_name: "A".into(),
            last_name: "B".into(),
            date_of_birth: NaiveDate::from_ymd_opt(1980, 1, 1).unwrap(),
            gender: "Female".into(),
            address: "1 Street".into(),
        })
        .await
        .unwrap();
    let file = |id: &str, bytes: usize| NewBinaryData {
        id: id.into(),
        patient_id: "1000001".into(),
        kind: BinaryKind::Document,
        file_name: "scan.pdf".into(),
        file_type: "pdf".into(),
        pages: vec![vec![7; bytes]],
        uploading: false,
        created_at: Utc::now(),
    };
    store
        .insert_binary_data(&file("100000000001", 1000))
        .await
        .unwrap();
    assert_eq!(store.open_write_connections(), 1);
    store
        .insert_binary_data(&file("100000000002", 1024 * 1024))
        .await
        .unwrap();
    assert_eq!(store.open_write_connections(), 0);
    assert_eq!(
        store.binary_data_page("100000000002", 1).await.unwrap(),
        Some(vec![7; 1024 * 1024])
    );
    store.close().await;
}

/// A bulk insert that at least doubles the patients table refreshes its statistics, so that
/// statements prepared for a small table are planned again for a large one (`patient.rs`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: set PFS_TEST_POSTGRES_URL and run with --include-ignored"]
async fn bulk_inserts_refresh_the_patient_statistics() {
    use pfs_core::admin::{seeded_patient, seeded_practice};
    let (schema, store) = fresh(PostgresOptions::default()).await;
    let practice = seeded_practice(7, 1);
    store.insert_practice(&practice).await.unwrap();
    let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 26).unwrap();
    let estimate = async || -> f32 {
        let mut c = PgConnection::connect(schema.url()).await.unwrap();
        let row: (f32,) = sqlx_core::query_as::query_as(
            "SELECT reltuples FROM pg_class WHERE oid = 'patients'::regclass",
        )
        .fetch_one(&mut c)
        .await
        .unwrap();
        row.0
    };
    let batch = |from: u32, n: u32| -> Vec<_> {
        (from..from + n)
            .map(|i| seeded_patient(7, 1, i, today))
            .collect()
    };
    // A few hundred: too few to bother.
    store.insert_patients(&batch(0, 500)).await.unwrap();
    assert!(estimate().await < 500.0);
    // Past a thousand since the last look: refreshed.
    store.insert_patients(&batch(500, 1_000)).await.unwrap();
    assert_eq!(estimate().await, 1_500.0);
    // Another 1,000 does not double 1,500: left as it was; 600 more does.
    store.insert_patients(&batch(1_500, 1_000)).await.unwrap();
    assert_eq!(estimate().await, 1_500.0);
    store.insert_patients(&batch(2_500, 600)).await.unwrap();
    assert_eq!(estimate().await, 3_100.0);
    store.close().await;
}

/// Each instance keeps copies of patients' appointments, used while the patient's appointments
/// token (migration 0017) is the copy's. Appointment sessions have no store call that changes
/// them, but their rows are part of what a patient's appointments read returns: a change made
/// in the database (by an operator, or a later feature) moves the tokens of every patient
/// booked in the session, and the next read sees it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: set PFS_TEST_POSTGRES_URL and run with --include-ignored"]
async fn a_changed_appointment_session_is_seen_by_the_next_read() {
    use pfs_core::model::{Appointment, AppointmentSession, BookOutcome, Prefetch, SessionRecord};

    let (schema, store) = fresh(PostgresOptions::default()).await;
    let (prov, mine) = (provider("prov-1"), patient("patient-1", "X00001"));
    let acct = account("account-1", &mine.id);
    store.insert_provider(&prov).await.unwrap();
    store.insert_practice(&practice("X00001")).await.unwrap();
    store.insert_patient(&mine).await.unwrap();
    store.insert_account(&acct).await.unwrap();
    let suid_hash = format!("5{:063x}", 1);
    let record = SessionRecord {
        suid_hash: suid_hash.clone(),
        provider_id: prov.id.clone(),
        account_id: acct.id.clone(),
        online_user_id: mine.id.clone(),
        selected_patient_id: mine.id.clone(),
        created_at: t(0),
        last_seen_at: t(0),
        ended_at: None,
    };
    store.insert_session(&record).await.unwrap();
    let day = t(86_400_000);
    let surgery = AppointmentSession {
        id: "700001".into(),
        ods: "X00001".into(),
        session_type: "Morning surgery".into(),
        staff_details: "Dr A Jones (Female)".into(),
        location: "Main site".into(),
        slot_type: "Routine".into(),
        start: day,
        slot_minutes: 10,
        slot_count: 12,
    };
    store.insert_appointment_session(&surgery).await.unwrap();
    let booking = Appointment {
        id: "800001".into(),
        session_id: surgery.id.clone(),
        patient_id: mine.id.clone(),
        start: day,
        end: day + chrono::Duration::minutes(10),
        notes: None,
        booked_by: mine.id.clone(),
        booked_at: t(1),
        cancelled_at: None,
    };
    let logged = RecordAccess {
        patient_id: mine.id.clone(),
        at: t(1),
        accessed_by: "Patient".into(),
        organisation: "Practice".into(),
        access_type: "Booked appointment".into(),
        method: "Online".into(),
    };
    assert_eq!(
        store
            .book_appointment(&booking, 10, t(1), &logged)
            .await
            .unwrap(),
        BookOutcome::Booked
    );
    let location = async || {
        let context = store
            .session_context(&suid_hash, Some(&mine.id), Prefetch::Appointments)
            .await
            .unwrap()
            .expect("the session exists");
        let appointments = context.appointments.expect("appointments read");
        let [(appointment, session)] = appointments.as_slice() else {
            panic!("one appointment: {appointments:?}");
        };
        assert_eq!(appointment.id, booking.id);
        session.location.clone()
    };
    // The first read keeps a copy; the second may use it.
    assert_eq!(location().await, "Main site");
    assert_eq!(location().await, "Main site");

    let mut other = PgConnection::connect(schema.url()).await.unwrap();
    other
        .execute("UPDATE appointment_sessions SET location = 'Branch surgery' WHERE id = '700001'")
        .await
        .unwrap();
    assert_eq!(location().await, "Branch surgery");
    assert_eq!(location().await, "Branch surgery");
    store.close().await;
}
