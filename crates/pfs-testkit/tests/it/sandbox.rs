//! The sandbox's controls through the admin API: time travel (the clock offset), seen from the
//! PFS endpoint over real mutual TLS.

use chrono::{Duration, NaiveDateTime, Timelike};
use pfs_core::uktime::to_wall_clock;
use pfs_testkit::TestServer;
use serde_json::{Value, json};

use crate::appointments::User;
use crate::session::expect_pfs;

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
