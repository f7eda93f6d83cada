//! Medication: ListRepeatMedication, ListAcuteMedication, RequestMedication,
//! GetPrescriptionRequests and AmendPrescriptionRequest, over real mutual TLS, through the SDK
//! and as raw XML, on both stores.
//!
//! Each test gives a demo patient courses of its own through the admin API (the demo seed gives
//! them others; tests look only at their own ids), and the practice acts through it too.

use chrono::{Duration, NaiveDate, Timelike};
use pfs_client::{ExposeSecret, Session};
use pfs_core::model::CourseType;
use pfs_core::uktime::to_wall_clock;
use pfs_testkit::TestServer;
use pfs_wire::{Medication, YesNo};
use serde_json::json;

use crate::appointments::{User, all_accesses as accesses, set_settings};
use crate::session::{DECLARATION, XMLNS, error_body, expect_pfs, new_uuid, ok_body};
use crate::stores::{Backend, start_on};

const ODS: &str = "Y99001";

/// The practice prescribes a course for `patient_id` through the admin API (six issues
/// authorised, started today); returns its id. `n` only keeps the call sites readable.
pub(crate) async fn add_course(
    t: &TestServer,
    patient_id: &str,
    _n: u32,
    drug: &str,
    course_type: CourseType,
    requestable: bool,
) -> String {
    let (status, v) = t
        .admin(
            "POST",
            &format!("/api/patients/{patient_id}/courses"),
            Some(json!({
                "drug": drug,
                "details": "One to be taken each day - 28 tablet",
                "courseType": course_type.as_str(),
                "requestable": requestable,
                "maxIssues": 6,
            })),
        )
        .await
        .unwrap();
    assert_eq!(status, 201, "{v}");
    v["id"].as_str().unwrap().to_owned()
}

/// A practice action on a course or request through the admin API (`path` under `/api`).
pub(crate) async fn practice(t: &TestServer, method: &str, path: &str, body: serde_json::Value) {
    let (status, v) = t
        .admin(method, &format!("/api{path}"), Some(body))
        .await
        .unwrap();
    assert_eq!(status, 200, "{path}: {v}");
}

fn find<'a>(list: &'a [Medication], id: &str) -> &'a Medication {
    list.iter()
        .find(|m| m.drug_id == id)
        .unwrap_or_else(|| panic!("course {id} is not listed"))
}

fn repeat(id: &str) -> (&str, CourseType) {
    (id, CourseType::Repeat)
}

/// How many requests the selected patient has (all of them, from long ago).
async fn request_count(t: &TestServer, s: &Session) -> usize {
    let long_ago = to_wall_clock(t.clock_now() - Duration::days(3650));
    s.get_prescription_requests(Some(long_ago), None)
        .await
        .unwrap()
        .requests
        .len()
}

async fn order_list_history_cancel(backend: Backend) {
    let (_db, t) = start_on(backend, |_| {}).await;
    set_settings(
        &t,
        json!({"medicationRequestConfirmation": "Please allow 2 working days."}),
    )
    .await;
    let user = User::new(&t, "Patel").await;
    let s = user.session().await;
    let me = s.online_user_id().to_owned();
    let a = add_course(
        &t,
        &me,
        1,
        "Aamlodipine 5mg tablets",
        CourseType::Repeat,
        true,
    )
    .await;
    let b = add_course(
        &t,
        &me,
        2,
        "Aasalbutamol inhaler",
        CourseType::Repeat,
        false,
    )
    .await;
    let c = add_course(
        &t,
        &me,
        3,
        "Aamoxicillin 500mg capsules",
        CourseType::Acute,
        true,
    )
    .await;

    // Ordering before fetching the list is refused, and nothing is stored.
    let before = request_count(&t, &s).await;
    let e = expect_pfs(s.request_medication(&[repeat(&a)], None).await, "9013", &[]);
    assert!(e.to_string().contains("view your medication list"), "{e}");
    assert_eq!(request_count(&t, &s).await, before);

    let repeats = s.list_repeat_medication().await.unwrap().medications;
    assert_eq!(find(&repeats, &a).requestable, YesNo(true));
    assert_eq!(find(&repeats, &b).requestable, YesNo(false));
    assert!(repeats.iter().all(|m| m.course_type == CourseType::Repeat));
    assert!(repeats.iter().all(|m| m.drug_id != c));
    // By drug name: ours start with "Aa", before the demo courses.
    assert_eq!(repeats[0].drug_id, a);
    let acutes = s.list_acute_medication().await.unwrap().medications;
    assert!(acutes.iter().all(|m| m.course_type == CourseType::Acute));
    // The practice takes no acute requests by default.
    assert_eq!(find(&acutes, &c).requestable, YesNo(false));

    let reply = s
        .request_medication(&[repeat(&a)], Some("  Running low  "))
        .await
        .unwrap();
    assert_eq!(
        reply.message.as_deref(),
        Some("Please allow 2 working days.")
    );
    let request_id = reply.request_id.unwrap();
    assert_eq!(reply.scope.unwrap().patient_id, me);

    // Now outstanding: listed as not requestable, and refused as already requested.
    let repeats = s.list_repeat_medication().await.unwrap().medications;
    assert_eq!(find(&repeats, &a).requestable, YesNo(false));
    expect_pfs(s.request_medication(&[repeat(&a)], None).await, "9017", &[]);

    let history = s.get_prescription_requests(None, None).await.unwrap();
    let mine = history
        .requests
        .iter()
        .find(|r| r.request_id == request_id)
        .unwrap();
    assert_eq!(mine.status, pfs_wire::RequestStatus::Requested);
    assert_eq!(mine.notes.as_deref(), Some("Running low"));
    assert_eq!(mine.medications.len(), 1);
    assert_eq!(mine.medications[0].drug, "Aamlodipine 5mg tablets");
    assert_eq!(history.requests[0].request_id, request_id, "newest first");

    // Cancel; cancelling twice is refused; the course can be ordered again.
    let cancelled = s.cancel_prescription_request(&request_id).await.unwrap();
    assert_eq!(cancelled.status, pfs_wire::RequestStatus::Cancelled);
    assert_eq!(cancelled.request_id, request_id);
    expect_pfs(
        s.cancel_prescription_request(&request_id).await,
        "9020",
        &[],
    );
    let again = s.request_medication(&[repeat(&a)], None).await.unwrap();
    assert_ne!(again.request_id.as_deref(), Some(request_id.as_str()));

    // Every list read, order and cancellation is in the patient's access log.
    let log: Vec<String> = accesses(&t, &me)
        .await
        .into_iter()
        .map(|a| a.access_type)
        .collect();
    for kind in [
        "Prescribed medication",
        "Viewed medication",
        "Requested medication",
        "Cancelled medication request",
    ] {
        assert!(log.iter().any(|k| k == kind), "{kind} missing from {log:?}");
    }
    assert_eq!(
        log.iter().filter(|k| *k == "Viewed medication").count(),
        3,
        "one entry per list read"
    );
}

async fn refused_orders_store_nothing(backend: Backend) {
    let (_db, t) = start_on(backend, |_| {}).await;
    set_settings(&t, json!({"maxMedicationsPerRequest": 2})).await;
    let user = User::new(&t, "Patel").await;
    let s = user.session().await;
    let me = s.online_user_id().to_owned();
    let a = add_course(
        &t,
        &me,
        1,
        "Atenolol 25mg tablets",
        CourseType::Repeat,
        true,
    )
    .await;
    let b = add_course(
        &t,
        &me,
        2,
        "Bisoprolol 5mg tablets",
        CourseType::Repeat,
        true,
    )
    .await;
    let c = add_course(
        &t,
        &me,
        3,
        "Cetirizine 10mg tablets",
        CourseType::Repeat,
        true,
    )
    .await;
    let n = add_course(
        &t,
        &me,
        4,
        "Naproxen 250mg tablets",
        CourseType::Repeat,
        false,
    )
    .await;
    let acute = add_course(
        &t,
        &me,
        5,
        "Trimethoprim 200mg tablets",
        CourseType::Acute,
        true,
    )
    .await;
    s.list_repeat_medication().await.unwrap();
    let requests = request_count(&t, &s).await;
    let log = accesses(&t, &me).await.len();

    // A good course with an unknown one: refused whole.
    expect_pfs(
        s.request_medication(&[repeat(&a), repeat("99999999")], None)
            .await,
        "9015",
        &[],
    );
    // A course with the wrong type is unknown too; so is another patient's.
    expect_pfs(
        s.request_medication(&[(a.as_str(), CourseType::Acute)], None)
            .await,
        "9015",
        &[],
    );
    let other = t
        .patient_id(&t.account("Example").nhs_number)
        .await
        .unwrap();
    let theirs = add_course(&t, &other, 9, "Their course", CourseType::Repeat, true).await;
    // (The list changed for them, not for us.)
    expect_pfs(
        s.request_medication(&[repeat(&theirs)], None).await,
        "9015",
        &[],
    );
    // Not requestable, for every reason.
    let e = expect_pfs(s.request_medication(&[repeat(&n)], None).await, "9016", &[]);
    assert!(e.to_string().contains("no longer available"), "{e}");
    expect_pfs(
        s.request_medication(&[(acute.as_str(), CourseType::Acute)], None)
            .await,
        "9016",
        &[],
    );
    // More than the practice's maximum.
    expect_pfs(
        s.request_medication(&[repeat(&a), repeat(&b), repeat(&c)], None)
            .await,
        "9018",
        &[],
    );
    // Notes: 500 characters (not bytes) is the default maximum.
    let over = "é".repeat(501);
    expect_pfs(
        s.request_medication(&[repeat(&a)], Some(&over)).await,
        "9011",
        &[],
    );
    assert_eq!(request_count(&t, &s).await, requests, "nothing was stored");
    assert_eq!(accesses(&t, &me).await.len(), log, "nothing was logged");

    let at_limit = "é".repeat(500);
    s.request_medication(&[repeat(&a), repeat(&b)], Some(&at_limit))
        .await
        .unwrap();
    assert_eq!(request_count(&t, &s).await, requests + 1);
    // Outstanding wins over not requestable: the practice makes `a` unrequestable too.
    practice(
        &t,
        "PATCH",
        &format!("/courses/{a}"),
        json!({"requestable": false}),
    )
    .await;
    s.list_repeat_medication().await.unwrap();
    expect_pfs(s.request_medication(&[repeat(&a)], None).await, "9017", &[]);
    // Acute requests once the practice takes them.
    set_settings(&t, json!({"acuteRequestsAllowed": true})).await;
    let acutes = s.list_acute_medication().await.unwrap().medications;
    assert_eq!(find(&acutes, &acute).requestable, YesNo(true));
    s.request_medication(&[(acute.as_str(), CourseType::Acute)], None)
        .await
        .unwrap();
}

async fn practice_changes_need_a_fresh_list(backend: Backend) {
    let (_db, t) = start_on(backend, |_| {}).await;
    let user = User::new(&t, "Patel").await;
    let s = user.session().await;
    let me = s.online_user_id().to_owned();
    let a = add_course(
        &t,
        &me,
        1,
        "Atorvastatin 20mg tablets",
        CourseType::Repeat,
        true,
    )
    .await;
    let b = add_course(
        &t,
        &me,
        2,
        "Bendroflumethiazide 2.5mg",
        CourseType::Repeat,
        true,
    )
    .await;
    s.list_repeat_medication().await.unwrap();

    // The practice stops b: ordering a is refused until the list is fetched again.
    practice(&t, "POST", &format!("/courses/{b}/stop"), json!({})).await;
    let e = expect_pfs(s.request_medication(&[repeat(&a)], None).await, "9014", &[]);
    assert!(e.to_string().contains("view your medication list"), "{e}");
    let repeats = s.list_repeat_medication().await.unwrap().medications;
    assert!(
        repeats.iter().all(|m| m.drug_id != b),
        "a stopped course is not listed"
    );
    expect_pfs(s.request_medication(&[repeat(&b)], None).await, "9015", &[]);
    let id = s
        .request_medication(&[repeat(&a)], None)
        .await
        .unwrap()
        .request_id
        .unwrap();

    // Another session's fetch does not count for this one.
    let other = user.session().await;
    expect_pfs(
        other.request_medication(&[repeat(&a)], None).await,
        "9013",
        &[],
    );

    // Once issued the request cannot change, and issuing changed the course (one more issue).
    let comment = json!({"comment": "Sent to your pharmacy"});
    practice(
        &t,
        "POST",
        &format!("/prescription-requests/{id}/issue"),
        comment,
    )
    .await;
    expect_pfs(s.cancel_prescription_request(&id).await, "9020", &[]);
    expect_pfs(
        s.amend_prescription_request(&id, &[repeat(&a)], None).await,
        "9020",
        &[],
    );
    let history = s.get_prescription_requests(None, None).await.unwrap();
    let issued = history
        .requests
        .iter()
        .find(|r| r.request_id == id)
        .unwrap();
    assert_eq!(issued.status, pfs_wire::RequestStatus::Issued);
    assert_eq!(
        issued.practice_comment.as_deref(),
        Some("Sent to your pharmacy")
    );
    expect_pfs(s.request_medication(&[repeat(&a)], None).await, "9014", &[]);
    let course = t.server.pfs.store().course(&a).await.unwrap().unwrap();
    assert_eq!(course.issue_count, 1);
    // Every practice action is in the patient's access log, as the practice's.
    let log = accesses(&t, &me).await;
    for kind in ["Stopped medication", "Issued prescription"] {
        assert!(
            log.iter()
                .any(|e| e.access_type == kind && e.method == "Practice"),
            "{kind} missing"
        );
    }

    // With all its issues used, a course is not requestable until re-authorised.
    practice(
        &t,
        "PATCH",
        &format!("/courses/{a}"),
        json!({"maxIssues": 1}),
    )
    .await;
    let repeats = s.list_repeat_medication().await.unwrap().medications;
    assert_eq!(find(&repeats, &a).requestable, YesNo(false));
    expect_pfs(s.request_medication(&[repeat(&a)], None).await, "9016", &[]);
    practice(&t, "POST", &format!("/courses/{a}/reauthorise"), json!({})).await;
    s.list_repeat_medication().await.unwrap();
    s.request_medication(&[repeat(&a)], None).await.unwrap();
}

async fn thirty_two_sessions_order_one_course(backend: Backend) {
    let (_db, t) = start_on(backend, |_| {}).await;
    let user = User::new(&t, "Patel").await;
    let first = user.session().await;
    let me = first.online_user_id().to_owned();
    let a = add_course(
        &t,
        &me,
        1,
        "Amitriptyline 10mg tablets",
        CourseType::Repeat,
        true,
    )
    .await;
    let mut sessions = vec![first];
    for _ in 1..32 {
        sessions.push(user.session().await);
    }
    for s in &sessions {
        s.list_repeat_medication().await.unwrap();
    }
    let order = [repeat(&a)];
    let results =
        futures_util::future::join_all(sessions.iter().map(|s| s.request_medication(&order, None)))
            .await;
    let ok = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(ok, 1, "{results:?}");
    for r in results.into_iter().filter(|r| r.is_err()) {
        expect_pfs(r, "9017", &[]);
    }
    let outstanding = t
        .server
        .pfs
        .store()
        .medication_list(&me, None)
        .await
        .unwrap()
        .courses
        .into_iter()
        .filter(|(c, pending)| c.id == a && pending.is_some())
        .count();
    assert_eq!(outstanding, 1);
}

async fn amend_replaces_the_courses(backend: Backend) {
    let (_db, t) = start_on(backend, |_| {}).await;
    let user = User::new(&t, "Patel").await;
    let s = user.session().await;
    let me = s.online_user_id().to_owned();
    let a = add_course(
        &t,
        &me,
        1,
        "Allopurinol 100mg tablets",
        CourseType::Repeat,
        true,
    )
    .await;
    let b = add_course(
        &t,
        &me,
        2,
        "Betahistine 8mg tablets",
        CourseType::Repeat,
        true,
    )
    .await;
    let c = add_course(
        &t,
        &me,
        3,
        "Citalopram 20mg tablets",
        CourseType::Repeat,
        true,
    )
    .await;
    s.list_repeat_medication().await.unwrap();
    let first = s
        .request_medication(&[repeat(&a)], Some("First"))
        .await
        .unwrap()
        .request_id
        .unwrap();
    let second = s
        .request_medication(&[repeat(&c)], None)
        .await
        .unwrap()
        .request_id
        .unwrap();

    // Its own course stays allowed; a course another request holds is refused.
    let amended = s
        .amend_prescription_request(&first, &[repeat(&a), repeat(&b)], Some("Both please"))
        .await
        .unwrap();
    assert_eq!(amended.status, pfs_wire::RequestStatus::Requested);
    expect_pfs(
        s.amend_prescription_request(&first, &[repeat(&c)], None)
            .await,
        "9017",
        &[],
    );
    let history = s.get_prescription_requests(None, None).await.unwrap();
    let r = history
        .requests
        .iter()
        .find(|r| r.request_id == first)
        .unwrap();
    let ids: Vec<&str> = r.medications.iter().map(|m| m.drug_id.as_str()).collect();
    assert_eq!(ids, [a.as_str(), b.as_str()]);
    assert_eq!(r.notes.as_deref(), Some("Both please"));
    // b is now held by the first request.
    expect_pfs(s.request_medication(&[repeat(&b)], None).await, "9017", &[]);

    // Unknown ids and another patient's requests get one answer.
    expect_pfs(s.cancel_prescription_request("123").await, "9019", &[]);
    let ada = User::new(&t, "Example").await;
    let other = ada.session().await;
    expect_pfs(
        other.cancel_prescription_request(&second).await,
        "9019",
        &[],
    );
    expect_pfs(
        other
            .amend_prescription_request(&second, &[repeat(&c)], None)
            .await,
        "9019",
        &[],
    );
}

async fn a_carer_orders_for_the_person_they_act_for(backend: Backend) {
    let (_db, t) = start_on(backend, |_| {}).await;
    let ada = User::new(&t, "Example").await;
    let s = ada.session().await;
    let child = t.patient_id(&ada.account.proxy_for[0]).await.unwrap();
    let course = add_course(&t, &child, 1, "Aaclenil inhaler", CourseType::Repeat, true).await;

    // Acting for herself, the child's course is not hers.
    s.list_repeat_medication().await.unwrap();
    expect_pfs(
        s.request_medication(&[repeat(&course)], None).await,
        "9015",
        &[],
    );

    s.select_patient(&child).await.unwrap();
    // Selecting another patient needs a list fetched for that patient.
    expect_pfs(
        s.request_medication(&[repeat(&course)], None).await,
        "9013",
        &[],
    );
    let list = s.list_repeat_medication().await.unwrap();
    assert_eq!(list.scope.as_ref().unwrap().patient_id, child);
    let id = s
        .request_medication(&[repeat(&course)], None)
        .await
        .unwrap()
        .request_id
        .unwrap();
    let stored = t
        .server
        .pfs
        .store()
        .prescription_request(&id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.patient_id, child);
    assert_eq!(stored.requested_by, s.online_user_id());
    let log = accesses(&t, &child).await;
    assert!(log.iter().any(|e| e.access_type == "Requested medication"
        && e.accessed_by == "Mrs Ada Example via openpfs demo app"));

    // A patient the user may not act for.
    let stranger = t.patient_id(&t.account("Patel").nhs_number).await.unwrap();
    expect_pfs(s.select_patient(&stranger).await, "6", &[]);
}

/// Re-reads of a list the session has seen are logged behind their replies; a server that
/// stops commits what it has queued, so every read is in the log after a restart.
async fn list_rereads_are_logged_through_a_restart(backend: Backend) {
    // Entries wait a minute for company: only the flush at shutdown can commit them in time.
    let (_db, t) = start_on(backend, |o| {
        o.core.write_behind_linger = chrono::Duration::seconds(60)
    })
    .await;
    let user = User::new(&t, "Patel").await;
    let s = user.session().await;
    let me = s.online_user_id().to_owned();
    let viewed = |log: Vec<pfs_core::model::RecordAccess>| {
        log.iter()
            .filter(|a| a.access_type == "Viewed medication")
            .count()
    };
    let before = viewed(accesses(&t, &me).await);
    for _ in 0..5 {
        s.list_repeat_medication().await.unwrap();
        s.list_acute_medication().await.unwrap();
    }
    let t = t.restart().await.unwrap();
    assert_eq!(viewed(accesses(&t, &me).await), before + 10);
}

on_both_stores!(
    list_rereads_are_logged_through_a_restart,
    order_list_history_cancel,
    refused_orders_store_nothing,
    practice_changes_need_a_fresh_list,
    thirty_two_sessions_order_one_course,
    amend_replaces_the_courses,
    a_carer_orders_for_the_person_they_act_for,
);

#[tokio::test]
async fn the_service_switch_turns_every_message_off() {
    let t = TestServer::start().await.unwrap();
    let user = User::new(&t, "Patel").await;
    let s = user.session().await;
    let me = s.online_user_id().to_owned();
    let a = add_course(
        &t,
        &me,
        1,
        "Atenolol 25mg tablets",
        CourseType::Repeat,
        true,
    )
    .await;
    s.list_repeat_medication().await.unwrap();
    let (status, v) = t
        .admin(
            "PUT",
            &format!("/api/patients/{me}/services/repeat-prescriptions"),
            Some(json!({"enabled": false})),
        )
        .await
        .unwrap();
    assert_eq!(status, 204, "{v}");
    expect_pfs(s.list_repeat_medication().await, "6", &[]);
    expect_pfs(s.list_acute_medication().await, "6", &[]);
    expect_pfs(s.request_medication(&[repeat(&a)], None).await, "6", &[]);
    expect_pfs(s.get_prescription_requests(None, None).await, "6", &[]);
    expect_pfs(s.cancel_prescription_request("1").await, "6", &[]);
}

#[tokio::test]
async fn history_defaults_to_the_last_180_days() {
    let t = TestServer::start().await.unwrap();
    let user = User::new(&t, "Patel").await;
    let s = user.session().await;
    let me = s.online_user_id().to_owned();
    let a = add_course(
        &t,
        &me,
        1,
        "Atenolol 25mg tablets",
        CourseType::Repeat,
        true,
    )
    .await;
    s.list_repeat_medication().await.unwrap();
    let ordered_at = to_wall_clock(t.clock_now());
    let id = s
        .request_medication(&[repeat(&a)], None)
        .await
        .unwrap()
        .request_id
        .unwrap();
    t.clock.advance(Duration::days(181));
    let s = user.session().await;
    let listed =
        |r: &pfs_wire::GetPrescriptionRequestsReply| r.requests.iter().any(|x| x.request_id == id);
    assert!(!listed(
        &s.get_prescription_requests(None, None).await.unwrap()
    ));
    let window = s
        .get_prescription_requests(
            Some(ordered_at - Duration::days(1)),
            Some(ordered_at + Duration::days(1)),
        )
        .await
        .unwrap();
    assert!(listed(&window));
    let date = window
        .requests
        .iter()
        .find(|x| x.request_id == id)
        .unwrap()
        .date_requested;
    assert_eq!(date, ordered_at.with_nanosecond(0).unwrap());
    // A window ending before it starts is empty, not an error.
    let empty = s
        .get_prescription_requests(Some(ordered_at), Some(ordered_at - Duration::days(1)))
        .await
        .unwrap();
    assert!(empty.requests.is_empty());
}

#[tokio::test]
async fn every_message_as_raw_xml() {
    let t = TestServer::start().await.unwrap();
    let user = User::new(&t, "Patel").await;
    let s = user.session().await;
    let suid = s.suid().expose_secret().to_owned();
    let pid = s.online_user_id().to_owned();
    let a = add_course(
        &t,
        &pid,
        1,
        "Aaspirin 75mg & more",
        CourseType::Repeat,
        true,
    )
    .await;
    let client = t.client();
    let common = |root: &str, uuid: &str| {
        format!(
            r#"<{root} {XMLNS} onlineUserId="{pid}" patientId="{pid}" unitId="{ODS}" uuid="{uuid}" apiVersion="1""#
        )
    };
    let echoes = |el: &pfs_wire::Element, uuid: &str| {
        assert_eq!(el.get("uuid"), Some(uuid));
        assert_eq!(el.get("patientId"), Some(pid.as_str()));
        assert_eq!(el.get("onlineUserId"), Some(pid.as_str()));
    };

    // An order before the list: an Error that echoes the uuid.
    let uuid = new_uuid();
    let order = |uuid: &str| {
        format!(
            r#"{DECLARATION}{}><Medication type="repeat" drugId="{a}"/></RequestMedication>"#,
            common("RequestMedication", uuid)
        )
    };
    let r = client
        .raw("RequestMedication", Some(&suid), order(&uuid))
        .await
        .unwrap();
    let el = error_body(&r, "9013", &[]);
    assert_eq!(el.get("uuid"), Some(uuid.as_str()));

    for root in ["ListRepeatMedication", "ListAcuteMedication"] {
        let uuid = new_uuid();
        let r = client
            .raw(root, Some(&suid), format!("{}/>", common(root, &uuid)))
            .await
            .unwrap();
        let el = ok_body(&r, &format!("{root}Reply"));
        echoes(&el, &uuid);
        if root == "ListRepeatMedication" {
            let expected = format!(
                r#"<Medication drugId="{a}" type="Repeat" drug="Aaspirin 75mg &amp; more" details="One to be taken each day - 28 tablet" requestable="y"/>"#
            );
            assert!(r.body.contains(&expected), "{}", r.body);
        }
    }

    let uuid = new_uuid();
    let r = client
        .raw("RequestMedication", Some(&suid), order(&uuid))
        .await
        .unwrap();
    let el = ok_body(&r, "RequestMedicationReply");
    echoes(&el, &uuid);
    let request_id = el.get("requestId").unwrap().to_owned();

    let uuid = new_uuid();
    let r = client
        .raw(
            "GetPrescriptionRequests",
            Some(&suid),
            format!("{}/>", common("GetPrescriptionRequests", &uuid)),
        )
        .await
        .unwrap();
    let el = ok_body(&r, "GetPrescriptionRequestsReply");
    echoes(&el, &uuid);
    let request = el
        .all("PrescriptionRequest")
        .find(|p| p.get("requestId") == Some(request_id.as_str()))
        .unwrap();
    for attr in ["dateRequested", "statusDate"] {
        let v = request.get(attr).unwrap();
        assert!(
            NaiveDate::parse_from_str(&v[..10], "%Y-%m-%d").is_ok()
                && v.ends_with(".0Z")
                && v.len() == 22,
            "{attr}={v}"
        );
    }
    assert_eq!(request.get("status"), Some("Requested"));

    let uuid = new_uuid();
    let body = format!(
        r#"{} action="Cancel" requestId="{request_id}"/>"#,
        common("AmendPrescriptionRequest", &uuid)
    );
    let r = client
        .raw("AmendPrescriptionRequest", Some(&suid), body.clone())
        .await
        .unwrap();
    let el = ok_body(&r, "AmendPrescriptionRequestReply");
    echoes(&el, &uuid);
    assert_eq!(el.get("status"), Some("Cancelled"));
    let r = client
        .raw("AmendPrescriptionRequest", Some(&suid), body)
        .await
        .unwrap();
    let el = error_body(&r, "9020", &[]);
    assert_eq!(el.get("uuid"), Some(uuid.as_str()));
}
