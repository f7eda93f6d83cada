//! The sandbox's controls through the admin API, seen from the PFS endpoint over real mutual
//! TLS: snapshots and reset (both stores), and time travel (the clock offset).

use chrono::{Duration, NaiveDateTime, Timelike};
use pfs_client::pfs_wire::{CourseType, MessageTo, RecipientKind};
use pfs_client::{ExposeSecret, NewMessage};
use pfs_core::uktime::to_wall_clock;
use pfs_testkit::TestServer;
use serde_json::{Value, json};

use crate::appointments::User;
use crate::session::expect_pfs;
use crate::stores::{Backend, start_on};

const ODS: &str = "Y99001";

/// Reads as the user, as raw XML with fixed `uuid`s so that two runs can be compared byte for
/// byte; returns every reply body, in order. (Reads are logged: the access log read last
/// holds the reads before it.)
async fn scripted_reads(t: &TestServer, user: &User) -> Vec<String> {
    let s = user.session().await;
    let suid = s.suid().expose_secret().to_owned();
    let me = s.scope().patient_id;
    let mut bodies = Vec::new();
    for (n, (root, extra)) in [
        ("ViewAppointments", r#" futureAppointments="Y""#),
        ("ListRepeatMedication", ""),
        ("GetPrescriptionRequests", ""),
        ("MessagesView", ""),
        ("RequestPatientRecord", ""),
        ("ListRecordAccesses", ""),
    ]
    .into_iter()
    .enumerate()
    {
        let uuid = format!("00000000-0000-4000-8000-{n:012}");
        let body = format!(
            r#"<{root} apiVersion="1" uuid="{uuid}" unitId="{ODS}" patientId="{me}" onlineUserId="{me}"{extra}/>"#
        );
        t.server.pfs.flush_writes().await.unwrap();
        let r = t.client().raw(root, Some(&suid), body).await.unwrap();
        assert_eq!(r.status, 200);
        assert!(!r.is_error(), "{root}: {}", r.body);
        bodies.push(r.body);
    }
    s.logoff().await.unwrap();
    bodies
}

/// Writes as the user through the SDK: an appointment booked, a repeat ordered, a message sent.
async fn scripted_writes(t: &TestServer, user: &User) {
    let s = user.session().await;
    let slots = s
        .list_slots(to_wall_clock(t.clock_now()), 14)
        .await
        .unwrap();
    let session = &slots.sessions[0];
    let slot = &session.slots[0];
    s.book_appointment(&session.session_id, slot.start_date, slot.end_date, None)
        .await
        .unwrap();
    let courses = s.list_repeat_medication().await.unwrap();
    let course = courses
        .medications
        .iter()
        .find(|m| m.requestable.0)
        .expect("a requestable repeat");
    s.request_medication(&[(&course.drug_id, CourseType::Repeat)], Some("scripted"))
        .await
        .unwrap();
    let recipients = s.message_recipients().await.unwrap();
    let to = &recipients.items[0];
    let to = match to.kind {
        RecipientKind::Recipient => MessageTo::Recipient(to.id.clone()),
        RecipientKind::UnitRecipient => MessageTo::UnitRecipient(to.id.clone()),
    };
    s.message_create(&NewMessage {
        to,
        text: "A scripted question".into(),
        conversation_id: None,
        attachments: Vec::new(),
    })
    .await
    .unwrap();
    s.logoff().await.unwrap();
}

async fn admin_ok(t: &TestServer, method: &str, path: &str, body: Option<Value>) -> Value {
    let (status, v) = t.admin(method, path, body).await.unwrap();
    assert!(
        (200..300).contains(&status),
        "{method} {path}: {status} {v}"
    );
    v
}

/// After a restore, and after a reset, the same reads get exactly the replies they got at the
/// snapshot's moment: every row written since (bookings, orders, messages, sessions, access-log
/// entries) is gone, and what was there is back.
async fn restore_and_reset_give_back_byte_identical_replies(backend: Backend) {
    let (_db, t) = start_on(backend, |_| {}).await;
    let user = User::new(&t, "Jones").await;
    admin_ok(
        &t,
        "POST",
        "/api/sandbox/snapshots",
        Some(json!({"name": "linked"})),
    )
    .await;
    let at_snapshot = scripted_reads(&t, &user).await;
    scripted_writes(&t, &user).await;
    let changed = scripted_reads(&t, &user).await;
    // The booking, the order, the message and the log of it all show; the record and the
    // course list do not change.
    for n in [0, 2, 3, 5] {
        assert_ne!(at_snapshot[n], changed[n], "the writes changed reply {n}");
    }
    admin_ok(&t, "POST", "/api/sandbox/snapshots/linked/restore", None).await;
    assert_eq!(
        scripted_reads(&t, &user).await,
        at_snapshot,
        "after the restore"
    );

    // Reset: back to the first start, before the account was linked. Linked again, it reads
    // what it read at the snapshot.
    scripted_writes(&t, &user).await;
    admin_ok(&t, "POST", "/api/sandbox/reset", None).await;
    let user = User::new(&t, "Jones").await;
    assert_eq!(
        scripted_reads(&t, &user).await,
        at_snapshot,
        "after the reset"
    );

    // The list shows both snapshots, the demo seed's included.
    let list = admin_ok(&t, "GET", "/api/sandbox/snapshots", None).await;
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["demo", "linked"]);
    admin_ok(&t, "DELETE", "/api/sandbox/snapshots/linked", None).await;
    let (status, v) = t
        .admin("POST", "/api/sandbox/snapshots/linked/restore", None)
        .await
        .unwrap();
    assert_eq!(
        (status, v["error"].as_str()),
        (404, Some("not_found")),
        "{v}"
    );
}

/// A session opened after a snapshot ends when it is restored: the snapshot did not hold it.
async fn a_restore_ends_sessions_the_snapshot_did_not_hold(backend: Backend) {
    let (_db, t) = start_on(backend, |_| {}).await;
    admin_ok(
        &t,
        "POST",
        "/api/sandbox/snapshots",
        Some(json!({"name": "before"})),
    )
    .await;
    let session = t.login("Example").await.unwrap();
    session.keep_alive().await.unwrap();
    admin_ok(&t, "POST", "/api/sandbox/snapshots/before/restore", None).await;
    expect_pfs(session.keep_alive().await, "3", &[]);
}

async fn snapshot_requests_that_mean_nothing_are_refused(backend: Backend) {
    let (_db, t) = start_on(backend, |_| {}).await;
    for (method, path, body, status) in [
        (
            "POST",
            "/api/sandbox/snapshots",
            json!({"name": "demo"}),
            422,
        ),
        (
            "POST",
            "/api/sandbox/snapshots",
            json!({"name": "Has Space"}),
            422,
        ),
        (
            "POST",
            "/api/sandbox/snapshots",
            json!({"name": "x".repeat(41)}),
            422,
        ),
        ("POST", "/api/sandbox/snapshots", json!({"name": ""}), 422),
        ("POST", "/api/sandbox/snapshots", json!({}), 422),
        (
            "POST",
            "/api/sandbox/snapshots",
            json!({"name": "a", "extra": 1}),
            422,
        ),
        ("DELETE", "/api/sandbox/snapshots/demo", Value::Null, 422),
        (
            "DELETE",
            "/api/sandbox/snapshots/none-such",
            Value::Null,
            404,
        ),
        (
            "POST",
            "/api/sandbox/snapshots/none-such/restore",
            Value::Null,
            404,
        ),
        (
            "POST",
            "/api/sandbox/snapshots/..%2Fpfs/restore",
            Value::Null,
            422,
        ),
    ] {
        let body = (!body.is_null()).then_some(body);
        let (got, v) = t.admin(method, path, body).await.unwrap();
        assert_eq!(got, status, "{method} {path}: {v}");
    }
    let list = admin_ok(&t, "GET", "/api/sandbox/snapshots", None).await;
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
}

async fn seed(t: &TestServer, seed: u64, practices: u32, patients: u32, batch: u32) {
    admin_ok(
        t,
        "POST",
        "/api/sandbox/seed/practices",
        Some(json!({"seed": seed, "count": practices})),
    )
    .await;
    for practice in 1..=practices {
        let mut from = 0;
        while from < patients {
            let count = batch.min(patients - from);
            let v = admin_ok(
                t,
                "POST",
                "/api/sandbox/seed/patients",
                Some(json!({"seed": seed, "practice": practice, "from": from, "count": count})),
            )
            .await;
            assert_eq!(v["written"], count);
            from += count;
        }
    }
}

async fn patients_of(t: &TestServer, ods: &str) -> Value {
    admin_ok(t, "GET", &format!("/api/patients?ods={ods}"), None).await
}

/// The same seed gives the same practices and patients whatever the batches; another seed
/// gives others; seeding over an existing set is refused and writes nothing of the batch.
async fn seeding_is_deterministic_and_all_or_nothing(backend: Backend) {
    let (_db1, a) = start_on(backend, |_| {}).await;
    let (_db2, b) = start_on(backend, |_| {}).await;
    seed(&a, 42, 2, 30, 7).await;
    seed(&b, 42, 2, 30, 30).await;
    for ods in ["S04201", "S04202"] {
        let (x, y) = (patients_of(&a, ods).await, patients_of(&b, ods).await);
        assert_eq!(x.as_array().unwrap().len(), 30, "{x}");
        assert_eq!(x, y, "{ods}: batches changed what was seeded");
        for p in x.as_array().unwrap() {
            let nhs = p["nhsNumber"].as_str().unwrap();
            assert!(pfs_core::nhs::is_valid(nhs), "{nhs}");
        }
    }
    seed(&b, 7, 1, 5, 5).await;
    let other = patients_of(&b, "S00701").await;
    assert_ne!(other[0]["lastName"].as_str(), None);
    assert_ne!(
        other[0]["nhsNumber"],
        patients_of(&b, "S04201").await[0]["nhsNumber"]
    );

    // A batch that overlaps what exists is refused whole: patients 25 to 34 of practice 1.
    let (status, v) = a
        .admin(
            "POST",
            "/api/sandbox/seed/patients",
            Some(json!({"seed": 42, "practice": 1, "from": 25, "count": 10})),
        )
        .await
        .unwrap();
    assert_eq!(status, 409, "{v}");
    assert_eq!(
        patients_of(&a, "S04201").await.as_array().unwrap().len(),
        30
    );
    // Seeding the practices again is harmless.
    admin_ok(
        &a,
        "POST",
        "/api/sandbox/seed/practices",
        Some(json!({"seed": 42, "count": 2})),
    )
    .await;

    for (path, body, status) in [
        (
            "/api/sandbox/seed/practices",
            json!({"seed": 1, "count": 0}),
            422,
        ),
        (
            "/api/sandbox/seed/practices",
            json!({"seed": 1, "count": 100}),
            422,
        ),
        (
            "/api/sandbox/seed/practices",
            json!({"seed": -1, "count": 1}),
            422,
        ),
        (
            "/api/sandbox/seed/patients",
            json!({"seed": 42, "practice": 1, "from": 0, "count": 10_001}),
            422,
        ),
        (
            "/api/sandbox/seed/patients",
            json!({"seed": 42, "practice": 1, "from": 99_990, "count": 10}),
            422,
        ),
        (
            "/api/sandbox/seed/patients",
            json!({"seed": 42, "practice": 0, "from": 0, "count": 1}),
            422,
        ),
        (
            "/api/sandbox/seed/patients",
            json!({"seed": 42, "practice": 3, "from": 0, "count": 1}),
            404,
        ),
        (
            "/api/sandbox/seed/patients",
            json!({"seed": 42, "practice": 1, "count": 1}),
            422,
        ),
    ] {
        let (got, v) = a.admin("POST", path, Some(body.clone())).await.unwrap();
        assert_eq!(got, status, "{path} {body}: {v}");
    }
}

on_both_stores!(
    seeding_is_deterministic_and_all_or_nothing,
    restore_and_reset_give_back_byte_identical_replies,
    a_restore_ends_sessions_the_snapshot_did_not_hold,
    snapshot_requests_that_mean_nothing_are_refused,
);

/// A database that was not seeded with the demo has nothing to reset to, and says so.
#[tokio::test]
async fn reset_without_the_demo_seed_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let server = pfs_server::start(pfs_server::ServeOptions {
        data_dir: dir.path().join("data"),
        listen: "127.0.0.1:0".parse().unwrap(),
        admin_listen: "127.0.0.1:0".parse().unwrap(),
        seed_demo: false,
        ..pfs_server::ServeOptions::default()
    })
    .await
    .unwrap();
    match server.pfs.reset_to_demo().await {
        Err(pfs_core::admin::AdminError::NotFound(m)) => {
            assert!(m.contains("not seeded with the demo"), "{m}")
        }
        other => panic!("expected 404, got {other:?}"),
    }
    assert!(server.pfs.snapshots().await.unwrap().is_empty());
    server.shutdown().await;
}

const CLOCK: &str = "/api/sandbox/clock";

async fn move_clock(t: &TestServer, body: Value) -> Value {
    let (status, v) = t.admin("PUT", CLOCK, Some(body)).await.unwrap();
    assert_eq!(status, 200, "{v}");
    v
}

async fn offset_seconds(t: &TestServer) -> i64 {
    let (status, v) = t.admin("GET", CLOCK, None).await.unwrap();
    assert_eq!(status, 200, "{v}");
    v["offsetSeconds"].as_i64().unwrap()
}

#[tokio::test]
async fn travelling_past_the_idle_timeout_expires_the_session() {
    let t = TestServer::start().await.unwrap();
    let session = t.login("Example").await.unwrap();
    let before = t.clock_now();
    let v = move_clock(&t, json!({"advanceSeconds": 20 * 60 + 1})).await;
    assert_eq!(v["offsetSeconds"], 1201);
    assert_eq!(v["offset"], "+20m01s");
    assert_eq!(t.clock_now() - before, Duration::seconds(1201));
    expect_pfs(session.keep_alive().await, "3", &[]);

    // /health shows the offset while it is active, and zero once the clock is back.
    let (_, health) = t.admin("GET", "/health", None).await.unwrap();
    assert_eq!(health["clock"]["offsetSeconds"], 1201, "{health}");
    let (status, v) = t.admin("DELETE", CLOCK, None).await.unwrap();
    assert_eq!((status, &v["offsetSeconds"]), (200, &json!(0)), "{v}");
    let (_, health) = t.admin("GET", "/health", None).await.unwrap();
    assert_eq!(health["clock"]["offsetSeconds"], 0, "{health}");
    // Expiry is a matter of time, not an event: back in real time, the session was last used
    // less than 20 minutes ago, so it lives again.
    session.keep_alive().await.unwrap();
}

#[tokio::test]
async fn travelling_towards_an_appointment_makes_cancelling_too_late() {
    let t = TestServer::start().await.unwrap();
    let user = User::new(&t, "Jones").await;
    // A one-slot session three hours from now (whole minutes, UK wall clock).
    let now = to_wall_clock(t.clock_now());
    let start: NaiveDateTime = (now + Duration::hours(3)).with_second(0).unwrap();
    let (status, v) = t
        .admin(
            "POST",
            "/api/practices/Y99001/sessions",
            Some(json!({
                "sessionType": "Time travel surgery",
                "staffDetails": "Dr T Tester (Female)",
                "location": "Test room",
                "slotType": "Routine",
                "start": start.format("%Y-%m-%dT%H:%M").to_string(),
                "slotMinutes": 10,
                "slotCount": 1,
            })),
        )
        .await
        .unwrap();
    assert_eq!(status, 201, "{v}");
    let session_id = v["id"].as_str().unwrap().to_owned();
    let s = user.session().await;
    s.book_appointment(&session_id, start, start + Duration::minutes(10), None)
        .await
        .unwrap();
    let appt = s.view_appointments(true).await.unwrap().appointments[0]
        .appt_id
        .clone();

    // Two and a half hours on, the appointment is inside the one-hour cut-off.
    move_clock(&t, json!({"offsetSeconds": 150 * 60})).await;
    let s = user.session().await;
    expect_pfs(s.cancel_appointment(&appt).await, "40", &[]);
    // Back in real time, the same cancellation goes through.
    move_clock(&t, json!({"offsetSeconds": 0})).await;
    let s = user.session().await;
    s.cancel_appointment(&appt).await.unwrap();
    assert!(
        s.view_appointments(true)
            .await
            .unwrap()
            .appointments
            .is_empty()
    );
}

#[tokio::test]
async fn travelling_past_a_linkage_keys_expiry_makes_it_509() {
    let t = TestServer::start().await.unwrap();
    let ada = t.account("Example").clone();
    let client = t.client();
    // Demo linkage keys last 14 days; `now` puts the clock a day past that.
    let later = t.clock_now() + Duration::days(15);
    let v = move_clock(&t, json!({"now": later.to_rfc3339()})).await;
    assert!(
        (v["offsetSeconds"].as_i64().unwrap() - 15 * 86_400).abs() <= 2,
        "{v}"
    );
    expect_pfs(
        client.link_account(TestServer::register(&ada)).await,
        "509",
        &[],
    );
    t.admin("DELETE", CLOCK, None).await.unwrap();
    t.link(&client, &ada).await.unwrap();
}

#[tokio::test]
async fn clock_moves_that_mean_nothing_are_refused_and_change_nothing() {
    let t = TestServer::start().await.unwrap();
    move_clock(&t, json!({"offsetSeconds": -3600})).await;
    for bad in [
        json!({}),
        json!({"offsetSeconds": 60, "advanceSeconds": 60}),
        json!({"offsetSeconds": 3651 * 86_400}),
        json!({"advanceSeconds": -3650 * 86_400}),
        json!({"offsetSeconds": i64::MAX}),
        json!({"now": "next tuesday"}),
        json!({"offset": 60}),
        json!({"offsetSeconds": "60"}),
    ] {
        let (status, v) = t.admin("PUT", CLOCK, Some(bad.clone())).await.unwrap();
        assert_eq!(status, 422, "{bad} gave {v}");
        assert_eq!(v["error"], "invalid", "{v}");
        assert_eq!(offset_seconds(&t).await, -3600, "{bad} moved the clock");
    }
    // Ten years either way is the limit, inclusive.
    move_clock(&t, json!({"offsetSeconds": -3650 * 86_400})).await;
    assert_eq!(offset_seconds(&t).await, -3650 * 86_400);
    // The clock routes take the admin token like every other route.
    let (status, _) = t
        .admin_with_token("DELETE", CLOCK, None, "not-the-token")
        .await
        .unwrap();
    assert_eq!(status, 401);
    assert_eq!(offset_seconds(&t).await, -3650 * 86_400);
}
