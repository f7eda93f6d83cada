//! Fault injection: rules added through the admin API make the PFS endpoint slow, fail or lose
//! replies, as seen from the SDK and from raw TLS, on both stores; scoping, seeded randomness,
//! every-Nth, count limits and the rate trigger; listing, removing and clearing; and a rule
//! added on one PostgreSQL instance applied by its sibling.
//!
//! Latencies are checked from below only: a test never bounds how long something may take.

use std::time::{Duration, Instant};

use chrono::NaiveDateTime;
use pfs_client::{Error, ExposeSecret, Session};
use pfs_core::uktime::to_wall_clock;
use pfs_testkit::TestServer;
use pfs_wire::Element;
use serde_json::{Value, json};

use crate::appointments::User;
use crate::session::{DECLARATION, XMLNS, new_uuid};
use crate::stores::{Backend, start_on};
use crate::transport::{HttpReply, raw_post};

const ODS: &str = "Y99001";

on_both_stores!(
    every_action_through_the_sdk,
    every_action_over_raw_tls,
    drop_before_handling_books_nothing_and_after_handling_books,
    rules_scoped_to_one_patient_leave_others_alone,
    seeded_probability_reproduces_its_hits,
    every_nth_count_and_rate,
    rules_are_listed_counted_removed_and_cleared,
    bad_rules_are_refused,
);

async fn add_rule(t: &TestServer, rule: Value) -> Value {
    let (status, v) = t.admin("POST", "/api/faults", Some(rule)).await.unwrap();
    assert_eq!(status, 201, "{v}");
    assert!(v["id"].as_u64().is_some(), "{v}");
    v
}

async fn get_rule(t: &TestServer, id: &Value) -> Value {
    let (status, v) = t
        .admin("GET", &format!("/api/faults/{id}"), None)
        .await
        .unwrap();
    assert_eq!(status, 200, "{v}");
    v
}

async fn clear(t: &TestServer) {
    let (status, v) = t.admin("DELETE", "/api/faults", None).await.unwrap();
    assert_eq!(status, 200, "{v}");
}

async fn health_rules(t: &TestServer) -> u64 {
    let (status, v) = t.admin("GET", "/health", None).await.unwrap();
    assert_eq!(status, 200, "{v}");
    v["faultRules"].as_u64().unwrap()
}

/// A rule hitting the next `ViewAppointments` once with `action`.
fn once_on_view(action: Value) -> Value {
    json!({
        "match": {"messageType": "ViewAppointments"},
        "trigger": {"count": 1},
        "action": action,
    })
}

fn view_xml(uuid: &str, s: &Session) -> String {
    let me = s.online_user_id();
    format!(
        r#"{DECLARATION}<ViewAppointments {XMLNS} uuid="{uuid}" apiVersion="1" unitId="{ODS}" patientId="{me}" onlineUserId="{me}" futureAppointments="Y" />"#
    )
}

/// What an SDK error must look like.
type Expect = fn(&Error) -> bool;

async fn every_action_through_the_sdk(backend: Backend) {
    let (_db, t) = start_on(backend, |_| {}).await;
    let s = t.login("Example").await.unwrap();
    s.view_appointments(true).await.expect("served normally");

    // Each action once; the next request is served normally again.
    let cases: Vec<(Value, Expect)> = vec![
        (
            json!({"kind": "error", "errorCode": "9010", "userFriendlyMessage": "Try later",
                   "technicalMessage": "injected"}),
            |e| {
                matches!(e, Error::Pfs { code, user_friendly_message, technical_message, uuid }
                    if code == "9010" && user_friendly_message == "Try later"
                        && technical_message == "injected" && uuid.is_some())
            },
        ),
        (json!({"kind": "httpStatus", "status": 503}), |e| {
            matches!(e, Error::Http { status: 503 })
        }),
        (json!({"kind": "httpStatus", "status": 502}), |e| {
            matches!(e, Error::Http { status: 502 })
        }),
        (json!({"kind": "httpStatus", "status": 504}), |e| {
            matches!(e, Error::Http { status: 504 })
        }),
        (json!({"kind": "drop", "when": "beforeHandling"}), |e| {
            matches!(e, Error::Transport(_))
        }),
        (json!({"kind": "drop", "when": "afterHandling"}), |e| {
            matches!(e, Error::Transport(_))
        }),
        (json!({"kind": "malformed"}), |e| {
            matches!(e, Error::UnexpectedReply(_))
        }),
        (json!({"kind": "truncated"}), |e| {
            matches!(e, Error::UnexpectedReply(_))
        }),
        (json!({"kind": "empty"}), |e| {
            matches!(e, Error::UnexpectedReply(_))
        }),
    ];
    for (action, expected) in cases {
        let rule = add_rule(&t, once_on_view(action.clone())).await;
        let got = s.view_appointments(true).await;
        match &got {
            Err(e) if expected(e) => {}
            other => panic!("{action}: unexpected {other:?}"),
        }
        s.view_appointments(true)
            .await
            .unwrap_or_else(|e| panic!("{action}: the next request failed: {e}"));
        let after = get_rule(&t, &rule["id"]).await;
        assert_eq!(after["hits"], 1, "{after}");
        assert_eq!(after["spent"], true, "{after}");
    }

    // Latency: served normally, after the delay (fixed, then drawn from a range).
    for (action, at_least) in [
        (json!({"kind": "latency", "ms": 400}), 400),
        (json!({"kind": "latency", "minMs": 250, "maxMs": 350}), 250),
    ] {
        add_rule(&t, once_on_view(action)).await;
        let started = Instant::now();
        s.view_appointments(true)
            .await
            .expect("served after the delay");
        assert!(
            started.elapsed() >= Duration::from_millis(at_least),
            "{:?}",
            started.elapsed()
        );
    }
    t.server.shutdown().await;
}

fn parses_as_xml(body: &str) -> bool {
    Element::parse(body.as_bytes()).is_ok()
}

async fn every_action_over_raw_tls(backend: Backend) {
    let (_db, t) = start_on(backend, |_| {}).await;
    let s = t.login("Example").await.unwrap();
    let suid = s.suid().expose_secret().to_owned();
    let uuid = new_uuid();
    let body = view_xml(&uuid, &s);
    let send = || raw_post(&t, "ViewAppointments", Some(&suid), &body);
    let normal = send().await.unwrap();
    assert_eq!(normal.status, 200);
    assert!(
        normal.body.contains("<ViewAppointmentsReply"),
        "{}",
        normal.body
    );

    // error: HTTP 200, an Error with the given texts, echoing the request's uuid.
    add_rule(
        &t,
        once_on_view(json!({"kind": "error", "errorCode": "9999",
                            "userFriendlyMessage": "Busy", "technicalMessage": "fault"})),
    )
    .await;
    let r = send().await.unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/xml; charset=utf-8"));
    let el = Element::parse(r.body.as_bytes()).unwrap();
    assert_eq!(el.name, "Error");
    assert_eq!(el.get("errorCode"), Some("9999"));
    assert_eq!(el.get("userFriendlyMessage"), Some("Busy"));
    assert_eq!(el.get("technicalMessage"), Some("fault"));
    assert_eq!(el.get("uuid"), Some(uuid.as_str()), "the uuid is echoed");

    // httpStatus: that status, a short body that is not XML.
    for status in [502u16, 503, 504] {
        add_rule(
            &t,
            once_on_view(json!({"kind": "httpStatus", "status": status})),
        )
        .await;
        let r = send().await.unwrap();
        assert_eq!(r.status, status);
        assert!(r.body.len() < 100 && !parses_as_xml(&r.body), "{}", r.body);
    }

    // drop: the connection closes (without TLS close_notify, as a broken connection does)
    // with no reply, before or after handling.
    for when in ["beforeHandling", "afterHandling"] {
        add_rule(&t, once_on_view(json!({"kind": "drop", "when": when}))).await;
        let err = send().await.expect_err("no reply");
        assert_eq!(
            err.kind(),
            std::io::ErrorKind::UnexpectedEof,
            "{when}: {err}"
        );
    }

    // malformed: HTTP 200, a body that is not XML.
    add_rule(&t, once_on_view(json!({"kind": "malformed"}))).await;
    let r = send().await.unwrap();
    assert_eq!(r.status, 200);
    assert!(!r.body.is_empty() && !parses_as_xml(&r.body), "{}", r.body);

    // truncated: HTTP 200, the first half of the real reply.
    add_rule(&t, once_on_view(json!({"kind": "truncated"}))).await;
    let r: HttpReply = send().await.unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.body.len(), normal.body.len() / 2);
    assert!(normal.body.starts_with(&r.body));
    assert!(!parses_as_xml(&r.body));

    // empty: HTTP 200, no body.
    add_rule(&t, once_on_view(json!({"kind": "empty"}))).await;
    let r = send().await.unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.body, "");

    // latency: the normal reply, late.
    add_rule(&t, once_on_view(json!({"kind": "latency", "ms": 300}))).await;
    let started = Instant::now();
    let r = send().await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(r.body, normal.body);

    // Every rule is spent: normal service.
    assert_eq!(send().await.unwrap().body, normal.body);
    assert_eq!(health_rules(&t).await, 0);
    t.server.shutdown().await;
}

/// The first free slot the session is offered: (session id, start, end).
async fn a_free_slot(t: &TestServer, s: &Session) -> (String, NaiveDateTime, NaiveDateTime) {
    let reply = s
        .list_slots(to_wall_clock(t.clock_now()), 56)
        .await
        .unwrap();
    let session = reply
        .sessions
        .iter()
        .find(|x| !x.slots.is_empty())
        .expect("the demo practice has free slots");
    let slot = &session.slots[0];
    (session.session_id.clone(), slot.start_date, slot.end_date)
}

async fn booked_at(s: &Session, start: NaiveDateTime) -> usize {
    s.view_appointments(true)
        .await
        .unwrap()
        .appointments
        .iter()
        .filter(|a| a.start_date == start)
        .count()
}

async fn drop_before_handling_books_nothing_and_after_handling_books(backend: Backend) {
    let (_db, t) = start_on(backend, |_| {}).await;
    let s = t.login("Example").await.unwrap();
    let (session_id, start, end) = a_free_slot(&t, &s).await;
    assert_eq!(booked_at(&s, start).await, 0);
    let book_once = |when: &str| {
        json!({
            "match": {"messageType": "BookAppointment"},
            "trigger": {"count": 1},
            "action": {"kind": "drop", "when": when},
        })
    };

    add_rule(&t, book_once("beforeHandling")).await;
    let r = s.book_appointment(&session_id, start, end, None).await;
    assert!(matches!(r, Err(Error::Transport(_))), "{r:?}");
    assert_eq!(booked_at(&s, start).await, 0, "nothing was booked");

    add_rule(&t, book_once("afterHandling")).await;
    let r = s.book_appointment(&session_id, start, end, None).await;
    assert!(matches!(r, Err(Error::Transport(_))), "{r:?}");
    assert_eq!(
        booked_at(&s, start).await,
        1,
        "the booking happened although no reply came"
    );
    // Trying again, as a naive client would, finds the slot taken.
    let again = s.book_appointment(&session_id, start, end, None).await;
    assert!(matches!(again, Err(Error::Pfs { .. })), "{again:?}");
    t.server.shutdown().await;
}

async fn rules_scoped_to_one_patient_leave_others_alone(backend: Backend) {
    let (_db, t) = start_on(backend, |_| {}).await;
    let ada = t.login("Example").await.unwrap();
    let ada_id = ada.online_user_id().to_owned();
    let ben_id = t
        .patient_id(&t.account("Example").proxy_for[0])
        .await
        .unwrap();
    let other = User::new(&t, "Jones").await.session().await;
    let error = json!({"kind": "error", "errorCode": "9010"});

    // Scoped to Ada: her own requests fail, acting for Ben and other users do not.
    let rule = add_rule(
        &t,
        json!({"match": {"patientId": ada_id}, "action": error.clone()}),
    )
    .await;
    for _ in 0..3 {
        let r = ada.view_appointments(true).await;
        assert!(matches!(&r, Err(e) if e.code() == Some("9010")), "{r:?}");
        other
            .view_appointments(true)
            .await
            .expect("another patient");
    }
    ada.select_patient(&ben_id).await.expect("acting for Ben");
    ada.view_appointments(true)
        .await
        .expect("Ben is not scoped");
    let hits = get_rule(&t, &rule["id"]).await["hits"].as_u64().unwrap();
    assert_eq!(hits, 3, "only Ada's three requests were hit");
    ada.select_patient(&ada_id)
        .await
        .expect_err("PatientSelected names Ada too");
    clear(&t).await;

    // Scoped to a message type: other messages pass.
    add_rule(
        &t,
        json!({"match": {"messageType": "ListServiceAccesses"}, "action": error.clone()}),
    )
    .await;
    other
        .view_appointments(true)
        .await
        .expect("another message type");
    assert!(other.list_service_accesses().await.is_err());
    clear(&t).await;

    // Scoped to a practice: the demo practice is hit, another code is not.
    add_rule(
        &t,
        json!({"match": {"practice": "A99999"}, "action": error.clone()}),
    )
    .await;
    other
        .view_appointments(true)
        .await
        .expect("another practice");
    add_rule(
        &t,
        json!({"match": {"practice": ODS.to_lowercase(), "messageType": "ViewAppointments"},
               "action": error.clone()}),
    )
    .await;
    assert!(other.view_appointments(true).await.is_err());
    clear(&t).await;

    // Scoped to a provider: only that provider's certificate.
    let app = t.new_provider("Fault App", false).await.unwrap();
    add_rule(
        &t,
        json!({"match": {"provider": app.provider_id}, "action": error}),
    )
    .await;
    t.client().check_version().await.expect("the demo provider");
    let r = t.client_for(&app).check_version().await;
    assert!(matches!(&r, Err(e) if e.code() == Some("9010")), "{r:?}");
    t.server.shutdown().await;
}

/// Which of `n` `CheckVersion` calls a rule hits.
async fn pattern(t: &TestServer, n: usize) -> Vec<bool> {
    let client = t.client();
    let mut hits = Vec::with_capacity(n);
    for _ in 0..n {
        match client.check_version().await {
            Ok(_) => hits.push(false),
            Err(e) if e.code() == Some("9999") => hits.push(true),
            Err(e) => panic!("unexpected {e}"),
        }
    }
    hits
}

fn seeded(seed: u64) -> Value {
    json!({
        "match": {"messageType": "CheckVersion"},
        "trigger": {"probability": 0.5, "seed": seed},
        "action": {"kind": "error", "errorCode": "9999"},
    })
}

async fn seeded_probability_reproduces_its_hits(backend: Backend) {
    let (_db, t) = start_on(backend, |_| {}).await;
    const N: usize = 40;
    let rule = add_rule(&t, seeded(7)).await;
    assert_eq!(rule["trigger"]["seed"], 7);
    let first = pattern(&t, N).await;
    // The documented function of (seed, k).
    let expected: Vec<bool> = (1..=N as u64)
        .map(|k| pfs_core::fault::chance(7, k, 0.5))
        .collect();
    assert_eq!(first, expected);
    assert!(first.contains(&true) && first.contains(&false));
    let counted = get_rule(&t, &rule["id"]).await;
    assert_eq!(counted["matched"], N as u64);
    assert_eq!(
        counted["hits"],
        first.iter().filter(|h| **h).count() as u64,
        "{counted}"
    );

    // The same seed again: the same hits; another seed: others.
    clear(&t).await;
    add_rule(&t, seeded(7)).await;
    assert_eq!(pattern(&t, N).await, first);
    clear(&t).await;
    add_rule(&t, seeded(8)).await;
    assert_ne!(pattern(&t, N).await, first);

    // No seed given: one is chosen, and shown.
    clear(&t).await;
    let chosen = add_rule(
        &t,
        json!({"trigger": {"probability": 0.5}, "action": {"kind": "empty"}}),
    )
    .await;
    assert!(chosen["trigger"]["seed"].as_u64().is_some(), "{chosen}");
    t.server.shutdown().await;
}

fn on_check_version(trigger: Value) -> Value {
    json!({
        "match": {"messageType": "CheckVersion"},
        "trigger": trigger,
        "action": {"kind": "error", "errorCode": "9999"},
    })
}

async fn every_nth_count_and_rate(backend: Backend) {
    let (_db, t) = start_on(backend, |_| {}).await;

    add_rule(&t, on_check_version(json!({"everyNth": 3}))).await;
    let hit: Vec<usize> = pattern(&t, 10)
        .await
        .iter()
        .enumerate()
        .filter(|(_, h)| **h)
        .map(|(i, _)| i + 1)
        .collect();
    assert_eq!(hit, vec![3, 6, 9]);
    clear(&t).await;

    // "Fail the next 3", then normal service.
    let rule = add_rule(&t, on_check_version(json!({"count": 3}))).await;
    assert_eq!(rule["remaining"], 3);
    assert_eq!(health_rules(&t).await, 1);
    assert_eq!(
        pattern(&t, 6).await,
        vec![true, true, true, false, false, false]
    );
    let spent = get_rule(&t, &rule["id"]).await;
    assert_eq!(
        (&spent["hits"], &spent["remaining"], &spent["spent"]),
        (&json!(3), &json!(0), &json!(true))
    );
    assert_eq!(health_rules(&t).await, 0, "a spent rule no longer applies");
    clear(&t).await;

    // Throttling at 2 per second (the server's clock is the test's): two pass, the rest are
    // hit until time moves on.
    add_rule(&t, on_check_version(json!({"ratePerSecond": 2}))).await;
    assert_eq!(pattern(&t, 5).await, vec![false, false, true, true, true]);
    t.clock.advance(chrono::Duration::milliseconds(500));
    assert_eq!(pattern(&t, 2).await, vec![false, true]);
    t.clock.advance(chrono::Duration::seconds(10));
    assert_eq!(pattern(&t, 3).await, vec![false, false, true]);
    t.server.shutdown().await;
}

async fn rules_are_listed_counted_removed_and_cleared(backend: Backend) {
    let (_db, t) = start_on(backend, |_| {}).await;
    let (_, empty) = t.admin("GET", "/api/faults", None).await.unwrap();
    assert_eq!(empty, json!([]));
    let a = add_rule(
        &t,
        json!({"match": {"messageType": "CheckVersion", "practice": "y99001"},
               "trigger": {"count": 5, "seed": 1},
               "action": {"kind": "drop", "when": "beforeHandling"}}),
    )
    .await;
    assert_eq!(
        a["match"],
        json!({"messageType": "CheckVersion", "practice": "Y99001"})
    );
    assert_eq!(a["trigger"], json!({"count": 5, "seed": 1}));
    assert_eq!(
        a["action"],
        json!({"kind": "drop", "when": "beforeHandling"})
    );
    assert_eq!(a["executes"], false);
    assert_eq!(
        (&a["hits"], &a["matched"], &a["remaining"]),
        (&json!(0), &json!(0), &json!(5))
    );
    let b = add_rule(
        &t,
        json!({"match": {"messageType": "CheckVersion"},
               "action": {"kind": "error", "errorCode": "9999"}}),
    )
    .await;
    assert_eq!(
        b["action"]["userFriendlyMessage"]
            .as_str()
            .map(str::is_empty),
        Some(false)
    );
    assert_eq!(b["remaining"], Value::Null);
    let c = add_rule(
        &t,
        json!({"action": {"kind": "truncated"}, "match": {"patientId": "1"}}),
    )
    .await;
    assert_eq!(c["executes"], true);
    assert_eq!(health_rules(&t).await, 3);

    // CheckVersion carries no unitId: the practice-scoped rule does not match it, the other does.
    let r = t.client().check_version().await;
    assert!(matches!(&r, Err(e) if e.code() == Some("9999")), "{r:?}");
    let (status, list) = t.admin("GET", "/api/faults", None).await.unwrap();
    assert_eq!(status, 200);
    let ids: Vec<&Value> = list.as_array().unwrap().iter().map(|r| &r["id"]).collect();
    assert_eq!(ids, vec![&a["id"], &b["id"], &c["id"]]);
    assert_eq!(list[0]["hits"], 0);
    assert_eq!(list[1]["hits"], 1);

    let (status, _) = t
        .admin("DELETE", &format!("/api/faults/{}", b["id"]), None)
        .await
        .unwrap();
    assert_eq!(status, 204);
    t.client().check_version().await.expect("the rule is gone");
    let (status, v) = t
        .admin("DELETE", &format!("/api/faults/{}", b["id"]), None)
        .await
        .unwrap();
    assert_eq!((status, v["error"].as_str()), (404, Some("not_found")));
    for path in ["/api/faults/999999", "/api/faults/nope"] {
        let (status, _) = t.admin("GET", path, None).await.unwrap();
        assert_eq!(status, 404, "{path}");
    }
    assert_eq!(health_rules(&t).await, 2);
    let (status, v) = t.admin("DELETE", "/api/faults", None).await.unwrap();
    assert_eq!((status, &v), (200, &json!({"removed": 2})));
    let (_, empty) = t.admin("GET", "/api/faults", None).await.unwrap();
    assert_eq!(empty, json!([]));
    assert_eq!(health_rules(&t).await, 0);
    t.server.shutdown().await;
}

async fn bad_rules_are_refused(backend: Backend) {
    let (_db, t) = start_on(backend, |_| {}).await;
    for (rule, field) in [
        (
            json!({"match": {"messageType": "Nope"}, "action": {"kind": "empty"}}),
            "messageType",
        ),
        (
            json!({"match": {"patientID": "1"}, "action": {"kind": "empty"}}),
            "unknown field",
        ),
        (
            json!({"match": {"provider": "0123456789abcdef"}, "action": {"kind": "empty"}}),
            "provider",
        ),
        (
            json!({"match": {"practice": "Y9 9"}, "action": {"kind": "empty"}}),
            "practice",
        ),
        (
            json!({"trigger": {"probability": 2}, "action": {"kind": "empty"}}),
            "probability",
        ),
        (
            json!({"trigger": {"everyNth": 0}, "action": {"kind": "empty"}}),
            "everyNth",
        ),
        (
            json!({"trigger": {"count": 0}, "action": {"kind": "empty"}}),
            "count",
        ),
        (
            json!({"trigger": {"ratePerSecond": -1}, "action": {"kind": "empty"}}),
            "ratePerSecond",
        ),
        (
            json!({"action": {"kind": "httpStatus", "status": 500}}),
            "status",
        ),
        (json!({"action": {"kind": "latency"}}), "latency"),
        (
            json!({"action": {"kind": "latency", "ms": 10_000_000}}),
            "latency",
        ),
        (json!({"action": {"kind": "error"}}), "errorCode"),
        (
            json!({"action": {"kind": "error", "errorCode": "1", "technicalMessage": "\u{1}"}}),
            "technicalMessage",
        ),
        (json!({"action": {"kind": "drop"}}), "when"),
        (json!({"action": {"kind": "explode"}}), "unknown variant"),
        (json!({"match": {}}), "action"),
    ] {
        let (status, v) = t
            .admin("POST", "/api/faults", Some(rule.clone()))
            .await
            .unwrap();
        assert_eq!(status, 422, "{rule}: {v}");
        assert_eq!(v["error"], "invalid", "{rule}: {v}");
        let message = v["message"].as_str().unwrap();
        assert!(message.contains(field), "{rule}: {message}");
    }
    let (_, list) = t.admin("GET", "/api/faults", None).await.unwrap();
    assert_eq!(list, json!([]), "nothing was stored");
    t.server.shutdown().await;
}

/// A rule added through one instance is applied by another on the same database once it polls
/// (about a second), and so is its removal.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs PostgreSQL: set PFS_TEST_POSTGRES_URL and run with --include-ignored"]
async fn a_rule_added_on_one_instance_applies_on_its_sibling() {
    let (_schema, a, b) = crate::stores::two_instances().await;
    let on_b = b.client();
    on_b.check_version().await.expect("no rule yet");

    let rule = add_rule(
        &a,
        json!({"match": {"messageType": "CheckVersion"},
               "action": {"kind": "error", "errorCode": "9999"}}),
    )
    .await;
    let hit_on_b = async {
        loop {
            match on_b.check_version().await {
                Err(e) if e.code() == Some("9999") => return,
                _ => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(30), hit_on_b)
        .await
        .expect("B applies A's rule");
    let (status, _) = a
        .admin("DELETE", &format!("/api/faults/{}", rule["id"]), None)
        .await
        .unwrap();
    assert_eq!(status, 204);
    let served_on_b = async {
        while on_b.check_version().await.is_err() {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(30), served_on_b)
        .await
        .expect("B drops the removed rule");

    // A count is exact across instances: three hits in all, wherever they land.
    add_rule(
        &a,
        json!({"match": {"messageType": "CheckVersion"}, "trigger": {"count": 3},
               "action": {"kind": "error", "errorCode": "9999"}}),
    )
    .await;
    let on_a = a.client();
    let wait_for_b = async {
        while b.server.pfs.active_fault_rules() == 0 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(30), wait_for_b)
        .await
        .expect("B reads the rule");
    let mut hits = 0;
    for i in 0..10 {
        let client = if i % 2 == 0 { &on_a } else { &on_b };
        if client.check_version().await.is_err() {
            hits += 1;
        }
    }
    assert_eq!(hits, 3);
    b.server.shutdown().await;
    a.server.shutdown().await;
}
