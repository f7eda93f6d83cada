//! The practice side of medication over the admin API: courses (prescribe, change, stop,
//! re-authorise, list), prescription requests (pending, per patient, issue, reject), the
//! medication practice settings, and the demo practice's medication.

use pfs_testkit::TestServer;
use pfs_wire::{
    CourseType, GetPrescriptionRequests, ListRepeatMedication, MedicationItem, RequestMedication,
    RequestStatus,
};
use serde_json::{Value, json};

const DEMO_ODS: &str = "Y99001";

#[track_caller]
fn status(r: (u16, Value), expected: u16) -> Value {
    assert_eq!(r.0, expected, "{}", r.1);
    r.1
}

#[track_caller]
fn api_error(r: (u16, Value), expected: u16, kind: &str) -> Value {
    let body = status(r, expected);
    assert_eq!(body["error"], kind, "{body}");
    assert!(!body["message"].as_str().unwrap_or("").is_empty(), "{body}");
    body
}

async fn courses(t: &TestServer, patient: &str) -> Vec<Value> {
    let v = status(
        t.admin("GET", &format!("/api/patients/{patient}/courses"), None)
            .await
            .unwrap(),
        200,
    );
    v.as_array().unwrap().clone()
}

async fn requests(t: &TestServer, patient: &str) -> Vec<Value> {
    let v = status(
        t.admin(
            "GET",
            &format!("/api/patients/{patient}/prescription-requests"),
            None,
        )
        .await
        .unwrap(),
        200,
    );
    v.as_array().unwrap().clone()
}

async fn add_course(t: &TestServer, patient: &str, body: Value) -> Value {
    status(
        t.admin(
            "POST",
            &format!("/api/patients/{patient}/courses"),
            Some(body),
        )
        .await
        .unwrap(),
        201,
    )
}

fn amlodipine() -> Value {
    json!({
        "drug": "Amlodipine 10mg tablets",
        "details": "One to be taken each day - 28 tablet",
        "courseType": "Repeat",
        "maxIssues": 6,
    })
}

/// The course with this id in a listing.
#[track_caller]
fn find<'a>(list: &'a [Value], id: &Value) -> &'a Value {
    list.iter()
        .find(|c| &c["id"] == id)
        .unwrap_or_else(|| panic!("{id} not in {list:?}"))
}

/// Logs on as the demo account with this last name, fetches the repeat list and orders the
/// given course; answers the request id.
async fn order(t: &TestServer, last_name: &str, course_id: &str) -> String {
    let s = t.login(last_name).await.unwrap();
    let listed = s
        .request(&ListRepeatMedication {
            header: s.header(),
            scope: s.scope(),
        })
        .await
        .unwrap();
    assert!(
        listed.medications.iter().any(|m| m.drug_id == course_id),
        "the course is listed to the patient"
    );
    let reply = s
        .request(&RequestMedication {
            header: s.header(),
            scope: s.scope(),
            notes: Some("Please".into()),
            medications: vec![MedicationItem {
                drug_id: course_id.into(),
                course_type: CourseType::Repeat,
            }],
        })
        .await
        .unwrap();
    reply.request_id.expect("a request id")
}

#[tokio::test]
async fn every_medication_route_needs_the_token() {
    let t = TestServer::start().await.unwrap();
    let routes: &[(&str, String)] = &[
        ("GET", "/api/patients/1/courses".into()),
        ("POST", "/api/patients/1/courses".into()),
        ("PATCH", "/api/courses/1".into()),
        ("POST", "/api/courses/1/stop".into()),
        ("POST", "/api/courses/1/reauthorise".into()),
        (
            "GET",
            format!("/api/practices/{DEMO_ODS}/prescription-requests"),
        ),
        ("GET", "/api/patients/1/prescription-requests".into()),
        ("POST", "/api/prescription-requests/1/issue".into()),
        ("POST", "/api/prescription-requests/1/reject".into()),
    ];
    for (method, path) in routes {
        let r = t
            .admin_with_token(method, path, Some(json!({})), "wrong")
            .await
            .unwrap();
        assert_eq!(r.0, 401, "{method} {path}: {}", r.1);
        assert_eq!(r.1["error"], "unauthorized");
    }
}

#[tokio::test]
async fn the_demo_patients_have_courses_and_history() {
    let t = TestServer::start().await.unwrap();
    let mut dependants = Vec::new();
    for a in &t.accounts {
        dependants.extend(a.proxy_for.iter().cloned());
    }
    assert!(!dependants.is_empty(), "the demo has dependants");
    let today = pfs_core::uktime::uk_date(t.clock_now());
    let holders: Vec<String> = t.accounts.iter().map(|a| a.nhs_number.clone()).collect();
    for (nhs, holder) in holders
        .iter()
        .map(|n| (n, true))
        .chain(dependants.iter().map(|n| (n, false)))
    {
        let id = t.patient_id(nhs).await.unwrap();
        let list = courses(&t, &id).await;
        let repeat = |requestable: bool| {
            list.iter()
                .filter(|c| c["courseType"] == "Repeat" && c["requestable"] == requestable)
                .count()
        };
        assert!(repeat(true) >= 2, "{id}: two orderable repeats: {list:?}");
        assert!(repeat(false) >= 1, "{id}: an unorderable repeat");
        assert!(
            list.iter().any(|c| c["courseType"] == "Acute"),
            "{id}: an acute course"
        );
        for c in &list {
            assert_eq!(c["current"], true, "{c}");
            assert!(c["outstandingRequestId"].is_null(), "{c}");
            if c["courseType"] == "Repeat" && c["requestable"] == true {
                assert_eq!(c["requestableNow"], true, "{c}");
            }
            let started: chrono::NaiveDate = c["startedOn"].as_str().unwrap().parse().unwrap();
            assert!(started < today, "{c}");
        }
        let history = requests(&t, &id).await;
        if holder {
            assert_eq!(history.len(), 2, "{id}: {history:?}");
            for wanted in ["Issued", "Rejected"] {
                let r = history
                    .iter()
                    .find(|r| r["status"] == wanted)
                    .unwrap_or_else(|| panic!("{id}: no {wanted} request"));
                assert!(!r["practiceComment"].as_str().unwrap().is_empty(), "{r}");
                assert_eq!(r["items"].as_array().unwrap().len(), 1, "{r}");
            }
        }
    }
    let pending = status(
        t.admin(
            "GET",
            &format!("/api/practices/{DEMO_ODS}/prescription-requests"),
            None,
        )
        .await
        .unwrap(),
        200,
    );
    assert_eq!(pending, json!([]));

    // The seed is not repeated on a restart.
    let jones = t.patient_id(&t.account("Jones").nhs_number).await.unwrap();
    let before = courses(&t, &jones).await.len();
    let t = t.restart().await.unwrap();
    assert_eq!(courses(&t, &jones).await.len(), before);
    assert_eq!(requests(&t, &jones).await.len(), 2);
}

#[tokio::test]
async fn courses_add_change_stop_and_reauthorise() {
    let t = TestServer::start().await.unwrap();
    let jones = t.patient_id(&t.account("Jones").nhs_number).await.unwrap();
    let today = pfs_core::uktime::uk_date(t.clock_now());

    let added = add_course(&t, &jones, amlodipine()).await;
    assert_eq!(added["patientId"], jones.as_str());
    assert_eq!(added["drug"], "Amlodipine 10mg tablets");
    assert_eq!(added["courseType"], "Repeat");
    assert_eq!(added["requestable"], true);
    assert_eq!(added["onlineVisible"], true);
    assert_eq!(added["startedOn"], today.to_string());
    assert_eq!(added["issueCount"], 0);
    assert_eq!(added["maxIssues"], 6);
    assert!(added["stoppedOn"].is_null());
    let id = added["id"].as_str().unwrap().to_owned();
    assert!(id.chars().all(|c| c.is_ascii_digit()), "{id}");
    let listed = courses(&t, &jones).await;
    let c = find(&listed, &added["id"]);
    assert_eq!(c["requestableNow"], true, "{c}");
    assert!(c["notRequestableBecause"].is_null());

    // Change: only the fields sent.
    let changed = status(
        t.admin(
            "PATCH",
            &format!("/api/courses/{id}"),
            Some(json!({"details": "Two to be taken each day - 56 tablet", "requestable": false, "maxIssues": null})),
        )
        .await
        .unwrap(),
        200,
    );
    assert_eq!(changed["drug"], "Amlodipine 10mg tablets");
    assert_eq!(changed["details"], "Two to be taken each day - 56 tablet");
    assert_eq!(changed["requestable"], false);
    assert!(changed["maxIssues"].is_null());
    let c = courses(&t, &jones).await;
    let c = find(&c, &added["id"]);
    assert_eq!(c["requestableNow"], false);
    assert!(c["notRequestableBecause"].is_string());
    let changed = status(
        t.admin(
            "PATCH",
            &format!("/api/courses/{id}"),
            Some(json!({"requestable": true, "maxIssues": 1, "onlineVisible": true})),
        )
        .await
        .unwrap(),
        200,
    );
    assert_eq!(changed["maxIssues"], 1);
    assert_eq!(changed["details"], "Two to be taken each day - 56 tablet");

    // The patient orders it; the practice issues it; its only issue is used.
    let request = order(&t, "Jones", &id).await;
    let c = courses(&t, &jones).await;
    assert_eq!(
        find(&c, &added["id"])["outstandingRequestId"],
        request.as_str()
    );
    status(
        t.admin(
            "POST",
            &format!("/api/prescription-requests/{request}/issue"),
            None,
        )
        .await
        .unwrap(),
        200,
    );
    let c = courses(&t, &jones).await;
    let c = find(&c, &added["id"]);
    assert_eq!(c["issueCount"], 1);
    assert!(c["lastIssuedAt"].is_string());
    assert_eq!(c["requestableNow"], false, "no issues left: {c}");

    // Re-authorise: the count starts again; with no body the limit stays.
    let re = status(
        t.admin("POST", &format!("/api/courses/{id}/reauthorise"), None)
            .await
            .unwrap(),
        200,
    );
    assert_eq!(re["issueCount"], 0);
    assert_eq!(re["maxIssues"], 1);
    let re = status(
        t.admin(
            "POST",
            &format!("/api/courses/{id}/reauthorise"),
            Some(json!({"maxIssues": 12})),
        )
        .await
        .unwrap(),
        200,
    );
    assert_eq!(re["maxIssues"], 12);
    let c = courses(&t, &jones).await;
    assert_eq!(find(&c, &added["id"])["requestableNow"], true);

    // Stop: gone from the patient's list, still in the practice's.
    let stopped = status(
        t.admin("POST", &format!("/api/courses/{id}/stop"), None)
            .await
            .unwrap(),
        200,
    );
    assert_eq!(stopped["stoppedOn"], today.to_string());
    let c = courses(&t, &jones).await;
    let c = find(&c, &added["id"]);
    assert_eq!(c["current"], false);
    assert_eq!(c["requestableNow"], false);
    let s = t.login("Jones").await.unwrap();
    let listed = s
        .request(&ListRepeatMedication {
            header: s.header(),
            scope: s.scope(),
        })
        .await
        .unwrap();
    assert!(!listed.medications.iter().any(|m| m.drug_id == id));
    assert!(!listed.medications.is_empty(), "the other repeats stay");

    // A stopped course cannot be changed, stopped or re-authorised again.
    for (method, path, body) in [
        (
            "PATCH",
            format!("/api/courses/{id}"),
            Some(json!({"requestable": true})),
        ),
        ("POST", format!("/api/courses/{id}/stop"), None),
        ("POST", format!("/api/courses/{id}/reauthorise"), None),
    ] {
        api_error(t.admin(method, &path, body).await.unwrap(), 409, "conflict");
    }

    // An acute course, hidden, starting later, stopped on a given day.
    let acute = add_course(
        &t,
        &jones,
        json!({"drug": "Amoxicillin 500mg capsules", "details": "One three times a day - 15 capsule",
               "courseType": "Acute", "onlineVisible": false, "startedOn": "2030-01-10"}),
    )
    .await;
    assert_eq!(acute["courseType"], "Acute");
    assert!(acute["maxIssues"].is_null());
    let aid = acute["id"].as_str().unwrap();
    api_error(
        t.admin(
            "POST",
            &format!("/api/courses/{aid}/stop"),
            Some(json!({"stoppedOn": "2030-01-09"})),
        )
        .await
        .unwrap(),
        422,
        "invalid",
    );
    let stopped = status(
        t.admin(
            "POST",
            &format!("/api/courses/{aid}/stop"),
            Some(json!({"stoppedOn": "2030-01-20"})),
        )
        .await
        .unwrap(),
        200,
    );
    assert_eq!(stopped["stoppedOn"], "2030-01-20");
}

#[tokio::test]
async fn course_input_is_checked() {
    let t = TestServer::start().await.unwrap();
    let jones = t.patient_id(&t.account("Jones").nhs_number).await.unwrap();
    let with = |k: &str, v: Value| {
        let mut b = amlodipine();
        b[k] = v;
        b
    };
    for (body, field) in [
        (with("drug", json!("  ")), "drug"),
        (with("details", json!("")), "details"),
        (with("drug", json!("Bad\u{1}drug")), "drug"),
        (with("details", json!("x\u{fffe}")), "details"),
        (with("drug", json!("x".repeat(201))), "drug"),
        (with("details", json!("x".repeat(501))), "details"),
        (with("courseType", json!("Weekly")), "courseType"),
        (with("maxIssues", json!(0)), "maxIssues"),
        (with("maxIssues", json!(101)), "maxIssues"),
        (with("startedOn", json!("1850-01-01")), "startedOn"),
    ] {
        let e = api_error(
            t.admin(
                "POST",
                &format!("/api/patients/{jones}/courses"),
                Some(body),
            )
            .await
            .unwrap(),
            422,
            "invalid",
        );
        assert!(e["message"].as_str().unwrap().contains(field), "{e}");
        assert!(!e["message"].as_str().unwrap().contains("xxxx"), "{e}");
    }
    // Missing fields are refused by the decoder.
    api_error(
        t.admin(
            "POST",
            &format!("/api/patients/{jones}/courses"),
            Some(json!({"drug": "X"})),
        )
        .await
        .unwrap(),
        422,
        "invalid",
    );
    // Unknown patient and course.
    api_error(
        t.admin("POST", "/api/patients/404404/courses", Some(amlodipine()))
            .await
            .unwrap(),
        404,
        "not_found",
    );
    api_error(
        t.admin("GET", "/api/patients/404404/courses", None)
            .await
            .unwrap(),
        404,
        "not_found",
    );
    for (method, path) in [
        ("PATCH", "/api/courses/404404"),
        ("POST", "/api/courses/404404/stop"),
        ("POST", "/api/courses/404404/reauthorise"),
    ] {
        api_error(
            t.admin(method, path, Some(json!({}))).await.unwrap(),
            404,
            "not_found",
        );
    }
    let id = add_course(&t, &jones, amlodipine()).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for body in [
        json!({"drug": ""}),
        json!({"details": "a\u{0}b"}),
        json!({"maxIssues": 0}),
    ] {
        api_error(
            t.admin("PATCH", &format!("/api/courses/{id}"), Some(body))
                .await
                .unwrap(),
            422,
            "invalid",
        );
    }
    api_error(
        t.admin(
            "POST",
            &format!("/api/courses/{id}/reauthorise"),
            Some(json!({"maxIssues": 500})),
        )
        .await
        .unwrap(),
        422,
        "invalid",
    );
    api_error(
        t.admin(
            "POST",
            &format!("/api/courses/{id}/stop"),
            Some(json!({"stoppedOn": "2300-01-01"})),
        )
        .await
        .unwrap(),
        422,
        "invalid",
    );
    // Nothing was changed by the refusals.
    let c = courses(&t, &jones).await;
    let c = find(&c, &json!(id));
    assert_eq!(c["drug"], "Amlodipine 10mg tablets");
    assert_eq!(c["maxIssues"], 6);
    assert!(c["stoppedOn"].is_null());
}

#[tokio::test]
async fn requests_are_issued_or_rejected_once() {
    let t = TestServer::start().await.unwrap();
    let jones = t.patient_id(&t.account("Jones").nhs_number).await.unwrap();
    let first = add_course(&t, &jones, amlodipine()).await;
    let first_id = first["id"].as_str().unwrap().to_owned();
    let request = order(&t, "Jones", &first_id).await;

    let pending = status(
        t.admin(
            "GET",
            // Lower-case ODS codes are accepted.
            "/api/practices/y99001/prescription-requests",
            None,
        )
        .await
        .unwrap(),
        200,
    );
    let pending = pending.as_array().unwrap();
    assert_eq!(pending.len(), 1, "{pending:?}");
    assert_eq!(pending[0]["id"], request.as_str());
    assert_eq!(pending[0]["status"], "Requested");
    assert_eq!(pending[0]["patientId"], jones.as_str());
    assert_eq!(pending[0]["notes"], "Please");
    assert_eq!(pending[0]["items"][0]["courseId"], first_id.as_str());
    assert_eq!(pending[0]["items"][0]["drug"], "Amlodipine 10mg tablets");

    // A bad comment is refused and nothing changes.
    api_error(
        t.admin(
            "POST",
            &format!("/api/prescription-requests/{request}/issue"),
            Some(json!({"comment": "bad\u{7}"})),
        )
        .await
        .unwrap(),
        422,
        "invalid",
    );
    api_error(
        t.admin(
            "POST",
            &format!("/api/prescription-requests/{request}/issue"),
            Some(json!({"comment": "x".repeat(1001)})),
        )
        .await
        .unwrap(),
        422,
        "invalid",
    );
    let issued = status(
        t.admin(
            "POST",
            &format!("/api/prescription-requests/{request}/issue"),
            Some(json!({"comment": "  Ready to collect on Friday.  "})),
        )
        .await
        .unwrap(),
        200,
    );
    assert_eq!(issued["status"], "Issued");
    assert_eq!(issued["practiceComment"], "Ready to collect on Friday.");
    for action in ["issue", "reject"] {
        let e = api_error(
            t.admin(
                "POST",
                &format!("/api/prescription-requests/{request}/{action}"),
                None,
            )
            .await
            .unwrap(),
            409,
            "conflict",
        );
        assert!(e["message"].as_str().unwrap().contains("Issued"), "{e}");
    }
    api_error(
        t.admin("POST", "/api/prescription-requests/404404/issue", None)
            .await
            .unwrap(),
        404,
        "not_found",
    );
    api_error(
        t.admin("POST", "/api/prescription-requests/404404/reject", None)
            .await
            .unwrap(),
        404,
        "not_found",
    );

    // The patient sees the status and the comment.
    let s = t.login("Jones").await.unwrap();
    let history = s
        .request(&GetPrescriptionRequests {
            header: s.header(),
            scope: s.scope(),
            start_date: None,
            end_date: None,
        })
        .await
        .unwrap();
    let seen = history
        .requests
        .iter()
        .find(|r| r.request_id == request)
        .expect("the request is in the patient's history");
    assert_eq!(seen.status, RequestStatus::Issued);
    assert_eq!(
        seen.practice_comment.as_deref(),
        Some("Ready to collect on Friday.")
    );

    // Reject the next one, without a comment (a minute later, so that the history's order
    // does not depend on the ids).
    t.clock.advance(chrono::Duration::minutes(1));
    let again = order(&t, "Jones", &first_id).await;
    let rejected = status(
        t.admin(
            "POST",
            &format!("/api/prescription-requests/{again}/reject"),
            Some(json!({})),
        )
        .await
        .unwrap(),
        200,
    );
    assert_eq!(rejected["status"], "Rejected");
    assert!(rejected["practiceComment"].is_null());
    api_error(
        t.admin(
            "POST",
            &format!("/api/prescription-requests/{again}/issue"),
            None,
        )
        .await
        .unwrap(),
        409,
        "conflict",
    );
    let c = courses(&t, &jones).await;
    let c = find(&c, &first["id"]);
    assert_eq!(c["issueCount"], 1, "a rejection issues nothing");
    assert!(c["outstandingRequestId"].is_null());

    // The patient's history through the admin API: newest first, with the statuses.
    let all = requests(&t, &jones).await;
    let mine: Vec<&Value> = all
        .iter()
        .filter(|r| r["id"] == again.as_str() || r["id"] == request.as_str())
        .collect();
    assert_eq!(mine.len(), 2);
    assert_eq!(mine[0]["status"], "Rejected");
    assert_eq!(mine[1]["status"], "Issued");
    assert_eq!(mine[1]["practiceComment"], "Ready to collect on Friday.");
    let none = status(
        t.admin(
            "GET",
            &format!("/api/patients/{jones}/prescription-requests?from=2001-01-01&to=2001-02-01"),
            None,
        )
        .await
        .unwrap(),
        200,
    );
    assert_eq!(none, json!([]));
    api_error(
        t.admin(
            "GET",
            &format!("/api/patients/{jones}/prescription-requests?from=2001-02-01&to=2001-01-01"),
            None,
        )
        .await
        .unwrap(),
        422,
        "invalid",
    );
    api_error(
        t.admin("GET", "/api/patients/404404/prescription-requests", None)
            .await
            .unwrap(),
        404,
        "not_found",
    );
    api_error(
        t.admin("GET", "/api/practices/NOPE1/prescription-requests", None)
            .await
            .unwrap(),
        404,
        "not_found",
    );
    let pending = status(
        t.admin(
            "GET",
            &format!("/api/practices/{DEMO_ODS}/prescription-requests"),
            None,
        )
        .await
        .unwrap(),
        200,
    );
    assert_eq!(pending, json!([]));

    // Both actions are in the patient's access log as the practice's.
    t.server.pfs.flush_writes().await.unwrap();
    let log = t
        .server
        .pfs
        .store()
        .record_accesses(
            &jones,
            t.clock_now() - chrono::Duration::minutes(5),
            t.clock_now() + chrono::Duration::minutes(5),
        )
        .await
        .unwrap();
    for access_type in ["Issued prescription", "Rejected prescription request"] {
        let entry = log
            .iter()
            .find(|e| e.access_type == access_type)
            .unwrap_or_else(|| panic!("no {access_type} entry"));
        assert_eq!(entry.method, "Practice");
        assert_eq!(entry.accessed_by, "Riverside Surgery");
    }
}

#[tokio::test]
async fn medication_settings_round_trip_and_are_checked() {
    let t = TestServer::start().await.unwrap();
    let practices = status(t.admin("GET", "/api/practices", None).await.unwrap(), 200);
    let demo = practices
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["ods"] == DEMO_ODS)
        .unwrap()
        .clone();
    assert_eq!(demo["settings"]["acuteRequestsAllowed"], false);
    assert_eq!(demo["settings"]["maxMedicationsPerRequest"], 10);
    assert_eq!(demo["settings"]["maxMedicationNotes"], 500);

    let mut settings = demo["settings"].clone();
    settings["acuteRequestsAllowed"] = json!(true);
    settings["maxMedicationsPerRequest"] = json!(3);
    settings["maxMedicationNotes"] = json!(2000);
    let updated = status(
        t.admin(
            "PUT",
            &format!("/api/practices/{DEMO_ODS}/settings"),
            Some(settings.clone()),
        )
        .await
        .unwrap(),
        200,
    );
    assert_eq!(updated["settings"], settings);
    let practices = status(t.admin("GET", "/api/practices", None).await.unwrap(), 200);
    let stored = practices
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["ods"] == DEMO_ODS)
        .unwrap();
    assert_eq!(stored["settings"], settings);

    // With acute requests allowed, a demo acute course is orderable now.
    let jones = t.patient_id(&t.account("Jones").nhs_number).await.unwrap();
    let c = courses(&t, &jones).await;
    let acute = c.iter().find(|c| c["courseType"] == "Acute").unwrap();
    assert_eq!(acute["requestableNow"], true, "{acute}");

    for (key, value) in [
        ("maxMedicationsPerRequest", 0),
        ("maxMedicationsPerRequest", 101),
        ("maxMedicationNotes", 0),
        ("maxMedicationNotes", 2001),
    ] {
        let mut bad = settings.clone();
        bad[key] = json!(value);
        let e = api_error(
            t.admin(
                "PUT",
                &format!("/api/practices/{DEMO_ODS}/settings"),
                Some(bad),
            )
            .await
            .unwrap(),
            422,
            "invalid",
        );
        assert!(e["message"].as_str().unwrap().contains(key), "{e}");
    }
    let e = api_error(
        t.admin(
            "POST",
            "/api/practices",
            Some(json!({"ods": "Z12345", "name": "N", "address": "A",
                        "settings": {"maxMedicationNotes": 0}})),
        )
        .await
        .unwrap(),
        422,
        "invalid",
    );
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("maxMedicationNotes")
    );
}
