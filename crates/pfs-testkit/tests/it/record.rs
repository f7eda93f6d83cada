//! The record messages over real mutual TLS on both stores: the demo record as a real client
//! reads it, access levels and proxy narrowing, hidden items, documents (multi-page, still
//! uploading, too large, another patient's), test-result windows, record text kept byte for
//! byte, the access log, and the practice side's refusals.

use chrono::{Duration, NaiveDate, NaiveDateTime, NaiveTime};
use pfs_client::ExposeSecret;
use pfs_core::uktime::{to_wall_clock, uk_date};
use pfs_testkit::TestServer;
use pfs_wire::codes;
use serde_json::{Value, json};

use crate::appointments::{User, set_settings};
use crate::session::{error_body, expect_pfs, new_uuid, ok_body};
use crate::stores::{Backend, start_on};

const ODS: &str = "Y99001";

/// The three windows the NHS App asks for, oldest first: days −179…−120, −119…−60 and
/// −59…today, each from 00:00:00 to 23:59:59.
fn app_windows(t: &TestServer) -> [(NaiveDateTime, NaiveDateTime); 3] {
    let today = uk_date(t.clock_now());
    let day = |n: i64| today - Duration::days(n);
    let end_of = |d: NaiveDate| d.and_hms_opt(23, 59, 59).unwrap();
    [
        (day(179).and_time(NaiveTime::MIN), end_of(day(120))),
        (day(119).and_time(NaiveTime::MIN), end_of(day(60))),
        (day(59).and_time(NaiveTime::MIN), end_of(today)),
    ]
}

async fn admin_ok(t: &TestServer, method: &str, path: &str, body: Option<Value>) -> Value {
    let (status, v) = t.admin(method, path, body).await.unwrap();
    assert!(
        (200..300).contains(&status),
        "{method} {path}: {status} {v}"
    );
    v
}

async fn set_grant(
    t: &TestServer,
    patient: &str,
    grantee: &str,
    level: &str,
    docs: bool,
    tests: bool,
) {
    admin_ok(
        t,
        "PUT",
        &format!("/api/patients/{patient}/record-access/{grantee}"),
        Some(json!({"level": level, "documents": docs, "testResults": tests})),
    )
    .await;
}

/// Uploads a document (first page) for `patient`; its `DocumentView`.
async fn upload(t: &TestServer, patient: &str, query: &str, page: &[u8]) -> Value {
    let (status, v) = t
        .admin_post_bytes(
            &format!("/api/patients/{patient}/documents?{query}"),
            "application/octet-stream",
            page.to_vec(),
        )
        .await
        .unwrap();
    assert_eq!(status, 201, "{v}");
    v
}

/// Every document item of a record reply: (details, binaryDataId).
fn documents(r: &pfs_wire::RequestPatientRecordReply) -> Vec<(String, String)> {
    r.events
        .iter()
        .flat_map(|e| &e.items)
        .filter_map(|i| Some((i.details.clone(), i.binary_data_id.clone()?)))
        .collect()
}

/// What a real client parses from a document's details: `<TYPE>: <name>.<ext>[ - comments]`.
fn parse_document(details: &str) -> (String, String, String) {
    let (kind, rest) = details.split_once(": ").expect("TYPE: prefix");
    let name = rest.split(" - ").next().unwrap();
    let ext = name.rsplit_once('.').expect("an extension").1;
    (kind.to_owned(), name.to_owned(), ext.to_owned())
}

async fn demo_record_reads_as_a_real_client_expects(backend: Backend) {
    let (_db, t) = start_on(backend, |_| {}).await;
    let user = User::new(&t, "Patel").await;
    let s = user.session().await;

    let overview = s.view_patient_overview().await.unwrap();
    assert!(!overview.allergies.is_empty());
    assert!(!overview.drug_sensitivities.is_empty());
    assert!(!overview.current_repeats.is_empty());
    assert!(
        !overview.drugs.is_empty(),
        "every demo patient has an acute course"
    );
    assert_eq!(overview.allergies[0].description, "Allergy");

    let record = s.request_patient_record().await.unwrap();
    assert!(record.events.len() >= 3);
    for e in &record.events {
        assert!(!e.items.is_empty());
        assert!(!e.done_by.is_empty() && !e.location.is_empty());
    }
    let dates: Vec<_> = record.events.iter().map(|e| e.date).collect();
    assert!(dates.windows(2).all(|w| w[0] >= w[1]), "newest first");
    let all_details: Vec<&str> = record
        .events
        .iter()
        .flat_map(|e| e.items.iter().map(|i| i.details.as_str()))
        .collect();
    assert!(
        !all_details
            .iter()
            .any(|d| d.contains("not for online access")),
        "the hidden note never leaves"
    );
    let docs = documents(&record);
    assert!(docs.len() >= 2);
    for (details, id) in docs {
        let (kind, _, ext) = parse_document(&details);
        assert_eq!(kind, ext.to_ascii_uppercase());
        let file = s.request_binary_data(&id).await.unwrap();
        assert_eq!(file.file_type, ext, "the extension agrees with fileType");
        let magic: &[u8] = match ext.as_str() {
            "pdf" => b"%PDF-",
            "png" => b"\x89PNG\r\n\x1a\n",
            other => panic!("unexpected demo document type {other}"),
        };
        assert!(file.pages[0].starts_with(magic));
    }

    // The three windows a real client sends, oldest first: one demo result in each.
    let mut seen = 0;
    for (start, end) in app_windows(&t) {
        let r = s.test_results(start, end).await.unwrap();
        for item in &r.items {
            assert!(item.date >= start && item.date <= end, "inside the window");
        }
        seen += r.items.len();
    }
    assert!(seen >= 3);
    let [_, _, recent] = app_windows(&t);
    let latest = s.test_results(recent.0, recent.1).await.unwrap();
    assert!(!latest.items.is_empty(), "a result in the last 60 days");
    let detail = s.test_result(&latest.items[0].id).await.unwrap();
    assert!(detail.items[0].text.contains("<table>"));
    assert!(detail.items[0].text.contains("Haemoglobin"));
    // A window with nothing in it is an empty reply.
    let old = NaiveDate::from_ymd_opt(1900, 1, 1).unwrap();
    let none = s
        .test_results(
            old.and_time(NaiveTime::MIN),
            old.and_hms_opt(23, 59, 59).unwrap(),
        )
        .await
        .unwrap();
    assert!(none.items.is_empty());

    // As raw XML: every reply echoes uuid, patientId and onlineUserId; dates end .0Z.
    let suid = s.suid().expose_secret().to_owned();
    let pid = s.online_user_id().to_owned();
    for root in ["ViewPatientOverview", "RequestPatientRecord"] {
        let uuid = new_uuid();
        let body = format!(
            r#"<{root} apiVersion="1" uuid="{uuid}" unitId="{ODS}" patientId="{pid}" onlineUserId="{pid}"/>"#
        );
        let raw = t.client().raw(root, Some(&suid), body).await.unwrap();
        let el = ok_body(&raw, &format!("{root}Reply"));
        assert_eq!(el.get("uuid"), Some(uuid.as_str()));
        assert_eq!(el.get("patientId"), Some(pid.as_str()));
        assert_eq!(el.get("onlineUserId"), Some(pid.as_str()));
        for date in raw.body.split("date=\"").skip(1) {
            let date = &date[..date.find('"').unwrap()];
            assert!(date.ends_with(".0Z") && date.len() == 22, "{date}");
        }
    }
    let uuid = new_uuid();
    let body = format!(
        r#"<TestResultsView apiVersion="1" uuid="{uuid}" unitId="{ODS}" patientId="{pid}" onlineUserId="{pid}" startDate="1900-01-01T00:00:00.0Z" endDate="1900-02-01T23:59:59.0Z"/>"#
    );
    let raw = t
        .client()
        .raw("TestResultsView", Some(&suid), body)
        .await
        .unwrap();
    let el = ok_body(&raw, "TestResultsViewReply");
    assert_eq!(el.get("uuid"), Some(uuid.as_str()));
    assert!(el.first("Item").is_none());
}

async fn access_levels_and_proxy_narrowing(backend: Backend) {
    let (_db, t) = start_on(backend, |_| {}).await;
    let user = User::new(&t, "Patel").await;
    let s = user.session().await;
    let me = s.online_user_id().to_owned();
    let doc_id = documents(&s.request_patient_record().await.unwrap())[0]
        .1
        .clone();
    let [.., recent] = app_windows(&t);

    set_grant(&t, &me, &me, "None", false, false).await;
    expect_pfs(s.view_patient_overview().await, "6", &[]);
    expect_pfs(s.request_patient_record().await, "6", &[]);
    expect_pfs(s.test_results(recent.0, recent.1).await, "6", &[]);
    expect_pfs(s.request_binary_data(&doc_id).await, "6", &[]);

    set_grant(&t, &me, &me, "Summary", false, true).await;
    s.view_patient_overview().await.unwrap();
    expect_pfs(s.request_patient_record().await, "6", &[]);
    s.test_results(recent.0, recent.1).await.unwrap();

    // Coded: only items with a SNOMED CT code, and no documents without the grant.
    set_grant(&t, &me, &me, "Coded", false, false).await;
    let coded = s.request_patient_record().await.unwrap();
    let types: Vec<&str> = coded
        .events
        .iter()
        .flat_map(|e| e.items.iter().map(|i| i.item_type.as_str()))
        .collect();
    assert!(types.contains(&"Problem") && types.contains(&"Immunisation"));
    assert!(!types.contains(&"Consultation"), "free text needs Full");
    assert!(documents(&coded).is_empty());
    expect_pfs(s.request_binary_data(&doc_id).await, "6", &[]);
    expect_pfs(s.test_results(recent.0, recent.1).await, "6", &[]);

    set_grant(&t, &me, &me, "Full", true, true).await;
    let full = s.request_patient_record().await.unwrap();
    assert!(
        full.events
            .iter()
            .flat_map(|e| &e.items)
            .any(|i| i.item_type == "Consultation")
    );
    assert!(!documents(&full).is_empty());
    s.request_binary_data(&doc_id).await.unwrap();

    // Ada acts for her son Ben; the demo gives her the coded record and test results, no
    // documents. (Hana, acting for her father, keeps the default: the overview only.)
    let nowak = User::new(&t, "Nowak").await;
    let ns = nowak.session().await;
    ns.select_patient(&t.patient_id(&nowak.account.proxy_for[0]).await.unwrap())
        .await
        .unwrap();
    ns.view_patient_overview().await.unwrap();
    expect_pfs(ns.request_patient_record().await, "6", &[]);
    expect_pfs(ns.test_results(recent.0, recent.1).await, "6", &[]);
    let carer = User::new(&t, "Example").await;
    let cs = carer.session().await;
    let ben = t.patient_id(&carer.account.proxy_for[0]).await.unwrap();
    let ada = cs.online_user_id().to_owned();
    cs.select_patient(&ben).await.unwrap();
    let theirs = cs.request_patient_record().await.unwrap();
    assert!(
        theirs
            .events
            .iter()
            .flat_map(|e| &e.items)
            .all(|i| i.item_type != "Consultation")
    );
    assert!(documents(&theirs).is_empty());
    cs.test_results(recent.0, recent.1).await.unwrap();
    // Ben's documents exist, and are refused to her.
    set_grant(&t, &ben, &ben, "Full", true, true).await;
    let admin_record = admin_ok(&t, "GET", &format!("/api/patients/{ben}/record"), None).await;
    let ben_doc = admin_record
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|e| e["items"].as_array().unwrap())
        .find_map(|i| i["binaryDataId"].as_str())
        .unwrap()
        .to_owned();
    expect_pfs(cs.request_binary_data(&ben_doc).await, "6", &[]);
    // A proxy never sees more than the patient: narrowing Ben's own access narrows hers.
    set_grant(&t, &ben, &ada, "Full", true, true).await;
    cs.request_binary_data(&ben_doc).await.unwrap();
    set_grant(&t, &ben, &ben, "Summary", false, false).await;
    expect_pfs(cs.request_patient_record().await, "6", &[]);
    expect_pfs(cs.request_binary_data(&ben_doc).await, "6", &[]);
    cs.view_patient_overview().await.unwrap();
    // Another patient's file is unknown to Ada, whatever her grants.
    expect_pfs(s.request_binary_data(&ben_doc).await, "9031", &[]);
    // Clearing returns to the defaults.
    admin_ok(
        &t,
        "DELETE",
        &format!("/api/patients/{ben}/record-access/{ben}"),
        None,
    )
    .await;
    let v = admin_ok(
        &t,
        "GET",
        &format!("/api/patients/{ben}/record-access/{ben}"),
        None,
    )
    .await;
    assert_eq!(v["level"], "Full");
    assert_eq!(v["setByPractice"], false);
}

async fn hidden_items_are_absent_everywhere(backend: Backend) {
    let (_db, t) = start_on(backend, |_| {}).await;
    let user = User::new(&t, "Patel").await;
    let s = user.session().await;
    let me = s.online_user_id().to_owned();
    let record = admin_ok(&t, "GET", &format!("/api/patients/{me}/record"), None).await;
    let items: Vec<Value> = record
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|e| e["items"].as_array().unwrap().clone())
        .collect();
    let find = |t: &str| items.iter().find(|i| i["type"] == t).unwrap().clone();
    let allergy = find("Allergy");
    let letter = find("Letter");
    for item in [&allergy, &letter] {
        let id = item["id"].as_str().unwrap();
        admin_ok(
            &t,
            "PUT",
            &format!("/api/patients/{me}/record/items/{id}/visibility"),
            Some(json!({"visible": false})),
        )
        .await;
    }
    let overview = s.view_patient_overview().await.unwrap();
    assert!(overview.allergies.iter().all(|a| a.id != allergy["id"]));
    let record = s.request_patient_record().await.unwrap();
    let shown: Vec<&str> = record
        .events
        .iter()
        .flat_map(|e| e.items.iter().map(|i| i.details.as_str()))
        .collect();
    assert!(!shown.contains(&allergy["details"].as_str().unwrap()));
    assert!(!shown.contains(&letter["details"].as_str().unwrap()));
    let letter_file = letter["binaryDataId"].as_str().unwrap();
    expect_pfs(s.request_binary_data(letter_file).await, "9031", &[]);

    let results = admin_ok(&t, "GET", &format!("/api/patients/{me}/test-results"), None).await;
    let result_id = results[0]["id"].as_str().unwrap().to_owned();
    admin_ok(
        &t,
        "PUT",
        &format!("/api/patients/{me}/test-results/{result_id}/visibility"),
        Some(json!({"visible": false})),
    )
    .await;
    for (start, end) in app_windows(&t) {
        let r = s.test_results(start, end).await.unwrap();
        assert!(r.items.iter().all(|i| i.id != result_id));
    }
    expect_pfs(s.test_result(&result_id).await, "9032", &[]);
    // Shown again, it comes back.
    admin_ok(
        &t,
        "PUT",
        &format!("/api/patients/{me}/test-results/{result_id}/visibility"),
        Some(json!({"visible": true})),
    )
    .await;
    s.test_result(&result_id).await.unwrap();
}

async fn documents_round_trip_page_by_page(backend: Backend) {
    let (_db, t) = start_on(backend, |_| {}).await;
    let user = User::new(&t, "Patel").await;
    let s = user.session().await;
    let me = s.online_user_id().to_owned();
    let pages: Vec<Vec<u8>> = vec![
        (0..=255).collect(),
        (0..300_000u32).map(|i| (i * 7 % 256) as u8).collect(),
        b"\x89PNG\r\n\x1a\nlast page".to_vec(),
    ];
    let doc = upload(
        &t,
        &me,
        "fileName=scan%20of%20letter.tif&kind=Letter&comments=3%20pages&doneBy=Dr%20A%20Jones&location=Riverside%20Surgery&uploading=true",
        &pages[0],
    )
    .await;
    let id = doc["binaryDataId"].as_str().unwrap().to_owned();
    assert_eq!(doc["fileType"], "tif");
    assert_eq!(doc["details"], "TIF: scan of letter.tif - 3 pages");
    // Still uploading: 45, as the record already lists it.
    expect_pfs(s.request_binary_data(&id).await, "45", &[]);
    for page in &pages[1..] {
        let (status, v) = t
            .admin_post_bytes(
                &format!("/api/documents/{id}/pages"),
                "application/octet-stream",
                page.clone(),
            )
            .await
            .unwrap();
        assert_eq!(status, 200, "{v}");
    }
    let done = admin_ok(&t, "POST", &format!("/api/documents/{id}/complete"), None).await;
    assert_eq!(done["pages"], 3);
    let file = s.request_binary_data(&id).await.unwrap();
    assert_eq!(file.file_type, "tif");
    assert_eq!(file.pages, pages, "byte-identical, page by page");
    // A complete document takes no more pages.
    let (status, _) = t
        .admin_post_bytes(
            &format!("/api/documents/{id}/pages"),
            "application/octet-stream",
            vec![1],
        )
        .await
        .unwrap();
    assert_eq!(status, 409);

    // Larger than the practice allows online: 24; within it again, served.
    set_settings(&t, json!({"maxDocumentBytes": 1000})).await;
    expect_pfs(s.request_binary_data(&id).await, "24", &[]);
    set_settings(&t, json!({"maxDocumentBytes": 10_485_760})).await;
    s.request_binary_data(&id).await.unwrap();
    expect_pfs(s.request_binary_data("123456789012").await, "9031", &[]);

    // As raw XML: the pages as base64 text, the echo.
    let suid = s.suid().expose_secret().to_owned();
    let uuid = new_uuid();
    let body = format!(
        r#"<RequestBinaryData apiVersion="1" uuid="{uuid}" unitId="{ODS}" patientId="{me}" onlineUserId="{me}" binaryDataId="{id}"/>"#
    );
    let raw = t
        .client()
        .raw("RequestBinaryData", Some(&suid), body)
        .await
        .unwrap();
    let el = ok_body(&raw, "RequestBinaryDataReply");
    assert_eq!(el.get("uuid"), Some(uuid.as_str()));
    assert_eq!(el.get("patientId"), Some(me.as_str()));
    let data = el.first("BinaryData").unwrap();
    assert_eq!(data.get("fileType"), Some("tif"));
    assert_eq!(data.all("BinaryDataPage").count(), 3);
    let body = format!(
        r#"<RequestBinaryData apiVersion="1" uuid="{uuid}" unitId="{ODS}" patientId="{me}" onlineUserId="{me}" binaryDataId="999999999999"/>"#
    );
    let raw = t
        .client()
        .raw("RequestBinaryData", Some(&suid), body)
        .await
        .unwrap();
    error_body(&raw, "9031", &[&me]);
}

async fn record_text_comes_back_unchanged(backend: Backend) {
    let (_db, t) = start_on(backend, |_| {}).await;
    let user = User::new(&t, "Patel").await;
    let s = user.session().await;
    let me = s.online_user_id().to_owned();
    let text = "\tBP 120/80 & <normal> \"quoted\" 'single'\r\nLine two\n\u{1F600} caf\u{e9} \u{4e2d}\u{6587}  ";
    let by = "  Dr O'Brien & <Partners>";
    admin_ok(
        &t,
        "POST",
        &format!("/api/patients/{me}/record/events"),
        Some(json!({
            "at": "2099-01-01T10:00:00Z",
            "doneBy": by,
            "location": "Clinic\tRoom 2",
            "items": [{"type": "Note", "details": text}],
        })),
    )
    .await;
    let record = s.request_patient_record().await.unwrap();
    let newest = &record.events[0];
    assert_eq!(newest.done_by, by);
    assert_eq!(newest.location, "Clinic\tRoom 2");
    assert_eq!(newest.items[0].details, text);
}

async fn the_access_log_lists_reads_and_writes(backend: Backend) {
    let (_db, t) = start_on(backend, |_| {}).await;
    let user = User::new(&t, "Patel").await;
    let s = user.session().await;
    let me = s.online_user_id().to_owned();
    let [.., recent] = app_windows(&t);
    // A scripted set of reads and writes, a second apart (the test clock moves by hand).
    let tick = || t.clock.advance(Duration::seconds(1));
    tick();
    let since = to_wall_clock(t.clock_now());
    s.view_appointments(true).await.unwrap();
    tick();
    s.view_patient_overview().await.unwrap();
    tick();
    let record = s.request_patient_record().await.unwrap();
    tick();
    s.test_results(recent.0, recent.1).await.unwrap();
    tick();
    s.request_binary_data(&documents(&record)[0].1)
        .await
        .unwrap();
    tick();
    set_grant(&t, &me, &me, "Full", true, true).await;
    let log = s.list_record_accesses(Some(since), None).await.unwrap();
    let types: Vec<&str> = log
        .accesses
        .iter()
        .map(|a| a.access_type.as_str())
        .collect();
    assert_eq!(
        types,
        [
            "Changed online record access",
            "Viewed documents",
            "Viewed test results",
            "Viewed record",
            "Viewed record summary",
            "Viewed appointments",
        ],
        "exactly those, newest first"
    );
    let online = &log.accesses[1];
    assert_eq!(online.method, "Online");
    assert!(
        online.accessed_by.ends_with("via openpfs demo app"),
        "{}",
        online.accessed_by
    );
    assert_eq!(online.organisation, "Riverside Surgery");
    assert_eq!(log.accesses[0].method, "Practice");
    // Listing the log is not itself logged.
    let again = s.list_record_accesses(Some(since), None).await.unwrap();
    assert_eq!(again.accesses.len(), log.accesses.len());
    // Windows: none in 1900; a start after the end is refused.
    let old = NaiveDate::from_ymd_opt(1900, 1, 1)
        .unwrap()
        .and_time(NaiveTime::MIN);
    let none = s
        .list_record_accesses(Some(old), Some(old + Duration::days(30)))
        .await
        .unwrap();
    assert!(none.accesses.is_empty());
    expect_pfs(
        s.list_record_accesses(Some(since), Some(old)).await,
        "9033",
        &[],
    );
    expect_pfs(s.test_results(recent.1, recent.0).await, "9033", &[]);
    // A practice's change of the patient's contact details is logged with it.
    tick();
    admin_ok(
        &t,
        "PUT",
        &format!("/api/patients/{me}/demographics"),
        Some(json!({"email": "new.address@example.org"})),
    )
    .await;
    let log = s.list_record_accesses(Some(since), None).await.unwrap();
    assert_eq!(log.accesses[0].access_type, "Changed contact details");
    assert_eq!(log.accesses[0].method, "Practice");
    // The practice sees the same log.
    let practice = admin_ok(&t, "GET", &format!("/api/patients/{me}/access-log"), None).await;
    assert!(practice.as_array().unwrap().len() >= log.accesses.len());
}

async fn service_switches_turn_each_part_off(backend: Backend) {
    let (_db, t) = start_on(backend, |_| {}).await;
    let user = User::new(&t, "Patel").await;
    let s = user.session().await;
    let me = s.online_user_id().to_owned();
    let record = s.request_patient_record().await.unwrap();
    let doc = documents(&record)[0].1.clone();
    let [.., recent] = app_windows(&t);
    let switch = |service: &'static str, on: bool| {
        let t = &t;
        let me = me.clone();
        async move {
            let (status, v) = t
                .admin(
                    "PUT",
                    &format!("/api/patients/{me}/services/{service}"),
                    Some(json!({ "enabled": on })),
                )
                .await
                .unwrap();
            assert_eq!(status, 204, "{v}");
        }
    };
    switch("documents", false).await;
    expect_pfs(s.request_binary_data(&doc).await, "6", &[]);
    assert!(documents(&s.request_patient_record().await.unwrap()).is_empty());
    switch("medical-record", false).await;
    expect_pfs(s.view_patient_overview().await, "6", &[]);
    expect_pfs(s.request_patient_record().await, "6", &[]);
    switch("test-results", false).await;
    expect_pfs(s.test_results(recent.0, recent.1).await, "6", &[]);
    switch("record-audit", false).await;
    expect_pfs(s.list_record_accesses(None, None).await, "6", &[]);
    switch("record-audit", true).await;
    s.list_record_accesses(None, None).await.unwrap();
}

async fn the_practice_side_refuses_bad_input(backend: Backend) {
    let (_db, t) = start_on(backend, |_| {}).await;
    let user = User::new(&t, "Patel").await;
    let me = user.session().await.online_user_id().to_owned();
    let events = format!("/api/patients/{me}/record/events");
    let refusals = [
        json!({"doneBy": "Dr A", "location": "X", "items": []}),
        json!({"doneBy": "", "location": "X", "items": [{"type": "Note", "details": "x"}]}),
        json!({"doneBy": "Dr A", "location": "X", "items": [{"type": "Letter", "details": "x"}]}),
        json!({"doneBy": "Dr A", "location": "X", "items": [{"type": "Note", "details": "bell\u{7}"}]}),
        json!({"doneBy": "Dr A", "location": "X", "items": [{"type": "Problem", "details": "x", "snomedCode": "12ab"}]}),
    ];
    for body in refusals {
        let (status, v) = t.admin("POST", &events, Some(body.clone())).await.unwrap();
        assert_eq!(status, 422, "{body}: {v}");
    }
    let (status, _) = t
        .admin("POST", "/api/patients/9999999/record/events", Some(json!({"doneBy": "A", "location": "B", "items": [{"type": "Note", "details": "x"}]})))
        .await
        .unwrap();
    assert_eq!(status, 404);
    // Documents: a path, an unknown type, no bytes for a complete document.
    for query in [
        "fileName=..%2Fetc%2Fpasswd.pdf&doneBy=A&location=B",
        "fileName=run.exe&doneBy=A&location=B",
        "fileName=letter.pdf&kind=Memo&doneBy=A&location=B",
    ] {
        let (status, v) = t
            .admin_post_bytes(
                &format!("/api/patients/{me}/documents?{query}"),
                "application/octet-stream",
                b"%PDF-1.4".to_vec(),
            )
            .await
            .unwrap();
        assert_eq!(status, 422, "{query}: {v}");
    }
    let (status, _) = t
        .admin_post_bytes(
            &format!("/api/patients/{me}/documents?fileName=a.pdf&doneBy=A&location=B"),
            "application/octet-stream",
            Vec::new(),
        )
        .await
        .unwrap();
    assert_eq!(status, 422);
    let (status, _) = t
        .admin(
            "PUT",
            &format!("/api/patients/{me}/record-access/{me}"),
            Some(json!({"level": "Everything"})),
        )
        .await
        .unwrap();
    assert_eq!(status, 422);
    let (status, _) = t
        .admin(
            "PUT",
            &format!("/api/patients/{me}/record/items/000/visibility"),
            Some(json!({"visible": false})),
        )
        .await
        .unwrap();
    assert_eq!(status, 404);
    // Nothing of the refused input was stored.
    let record = admin_ok(&t, "GET", &format!("/api/patients/{me}/record"), None).await;
    let text = record.to_string();
    assert!(!text.contains("passwd") && !text.contains("run.exe") && !text.contains("bell"));
    assert_eq!(codes::TEST_RESULT_NOT_FOUND.code, "9032");
}

async fn reads_are_logged_behind_the_reply_within_two_seconds(backend: Backend) {
    let (_db, t) = start_on(backend, |_| {}).await;
    let user = User::new(&t, "Patel").await;
    let s = user.session().await;
    let me = s.online_user_id().to_owned();
    let since = t.clock_now();
    s.view_patient_overview().await.unwrap();
    // Without anyone flushing: the entry is committed within the write-behind linger.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    loop {
        let found = t
            .server
            .pfs
            .store()
            .record_accesses(&me, since, since + Duration::days(1))
            .await
            .unwrap()
            .iter()
            .any(|a| a.access_type == "Viewed record summary");
        if found {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not logged within 2 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// The items a record reply shows, event by event: (doneBy, [(type, details, binaryDataId)]).
type Shown = Vec<(String, Vec<(String, String, Option<String>)>)>;

fn shown(r: &pfs_wire::RequestPatientRecordReply) -> Shown {
    r.events
        .iter()
        .map(|e| {
            let items = e.items.iter().map(|i| {
                (
                    i.item_type.clone(),
                    i.details.clone(),
                    i.binary_data_id.clone(),
                )
            });
            (e.done_by.clone(), items.collect())
        })
        .collect()
}

/// What a reply must show now, worked out from the practice's view of the whole record (the
/// admin API) with the rule of `pfs_core::record`: visible items, coded ones only unless
/// `full`, documents only with `documents`, events with nothing to show left out.
async fn expected(t: &TestServer, patient: &str, full: bool, documents: bool) -> Shown {
    let record = admin_ok(t, "GET", &format!("/api/patients/{patient}/record"), None).await;
    let events: Vec<pfs_core::model::RecordEvent> = serde_json::from_value(record).unwrap();
    events
        .into_iter()
        .filter_map(|e| {
            let items: Vec<_> = e
                .items
                .iter()
                .filter(|i| {
                    i.visible
                        && (full || i.snomed_code.is_some())
                        && (documents || !pfs_core::record::is_document(i))
                })
                .map(|i| {
                    (
                        i.item_type.clone(),
                        i.details.clone(),
                        i.binary_data_id.clone(),
                    )
                })
                .collect();
            (!items.is_empty()).then_some((e.done_by, items))
        })
        .collect()
}

/// Reads the record on each session twice (a second read comes from the record cache) and
/// checks every read against what the database holds now (through `t`'s admin API).
pub(crate) async fn reads_match(
    t: &TestServer,
    sessions: &[&pfs_client::Session],
    full: bool,
    documents: bool,
    what: &str,
) -> Shown {
    let patient = sessions[0].online_user_id();
    let want = expected(t, patient, full, documents).await;
    for s in sessions {
        for n in 0..2 {
            let got = shown(&s.request_patient_record().await.unwrap());
            assert_eq!(got, want, "{what}, read {n}");
        }
    }
    want
}

/// Adds an event with one item through the admin API; its id.
pub(crate) async fn add_event(t: &TestServer, patient: &str, at: &str, details: &str) -> String {
    let event = admin_ok(
        t,
        "POST",
        &format!("/api/patients/{patient}/record/events"),
        Some(json!({
            "at": at,
            "doneBy": "Dr Cache",
            "location": "Riverside Surgery",
            "items": [{"type": "Note", "details": details}],
        })),
    )
    .await;
    event["id"].as_str().unwrap().to_owned()
}

/// Shows or hides an item through the admin API.
pub(crate) async fn set_visible(t: &TestServer, patient: &str, item: &str, visible: bool) {
    admin_ok(
        t,
        "PUT",
        &format!("/api/patients/{patient}/record/items/{item}/visibility"),
        Some(json!({"visible": visible})),
    )
    .await;
}

/// The record cache never serves a record that changed: after each kind of change the
/// practice can make (a new event, an item added to an event, an item hidden and shown again,
/// a document uploaded, the level and documents grant, the documents switch, a sandbox
/// restore) the next read shows it; and every read is logged, cached or not.
async fn the_record_is_never_served_stale(backend: Backend) {
    let (_db, t) = start_on(backend, |_| {}).await;
    let user = User::new(&t, "Patel").await;
    let s = user.session().await;
    let me = s.online_user_id().to_owned();
    t.clock.advance(Duration::seconds(1));
    let since = to_wall_clock(t.clock_now());
    set_grant(&t, &me, &me, "Full", true, true).await;
    let check = async |full: bool, documents: bool, what: &str| {
        reads_match(&t, &[&s], full, documents, what).await
    };
    let at_start = check(true, true, "at the start").await;
    let mut reads = 2;

    let event_id = add_event(&t, &me, "2099-01-01T10:00:00Z", "first note").await;
    assert_ne!(check(true, true, "a new event").await, at_start);
    let item = admin_ok(
        &t,
        "POST",
        &format!("/api/patients/{me}/record/events/{event_id}/items"),
        Some(json!({"type": "Problem", "details": "coded problem", "snomedCode": "38341003"})),
    )
    .await;
    check(true, true, "an item added to the event").await;
    let item_id = item["id"].as_str().unwrap();
    for visible in [false, true] {
        set_visible(&t, &me, item_id, visible).await;
        check(true, true, &format!("the item made visible: {visible}")).await;
    }
    upload(
        &t,
        &me,
        "fileName=cache-check.pdf&doneBy=Dr%20Cache&location=Riverside%20Surgery",
        b"%PDF-1.4 cache check",
    )
    .await;
    check(true, true, "a document uploaded").await;
    reads += 2 * 5;

    // What the grants and switches decide is read afresh each time.
    for (level, docs) in [
        ("Coded", false),
        ("Coded", true),
        ("Full", false),
        ("Full", true),
    ] {
        set_grant(&t, &me, &me, level, docs, true).await;
        check(level == "Full", docs, &format!("{level}, documents {docs}")).await;
        reads += 2;
    }
    for on in [false, true] {
        admin_ok(
            &t,
            "PUT",
            &format!("/api/patients/{me}/services/documents"),
            Some(json!({"enabled": on})),
        )
        .await;
        check(true, on, &format!("the documents switch on: {on}")).await;
        reads += 2;
    }

    // Every read was logged, from the cache or not.
    let log = s.list_record_accesses(Some(since), None).await.unwrap();
    let logged = log
        .accesses
        .iter()
        .filter(|a| a.access_type == "Viewed record")
        .count();
    assert_eq!(logged, reads);

    // A snapshot, a change, a restore: the record as it was, not the later one kept.
    admin_ok(
        &t,
        "POST",
        "/api/sandbox/snapshots",
        Some(json!({"name": "cache"})),
    )
    .await;
    let at_snapshot = check(true, true, "at the snapshot").await;
    add_event(&t, &me, "2099-02-01T10:00:00Z", "after the snapshot").await;
    assert_ne!(check(true, true, "after the snapshot").await, at_snapshot);
    admin_ok(&t, "POST", "/api/sandbox/snapshots/cache/restore", None).await;
    assert_eq!(check(true, true, "restored").await, at_snapshot);
}

on_both_stores!(
    demo_record_reads_as_a_real_client_expects,
    access_levels_and_proxy_narrowing,
    hidden_items_are_absent_everywhere,
    documents_round_trip_page_by_page,
    record_text_comes_back_unchanged,
    the_access_log_lists_reads_and_writes,
    service_switches_turn_each_part_off,
    the_practice_side_refuses_bad_input,
    reads_are_logged_behind_the_reply_within_two_seconds,
    the_record_is_never_served_stale,
);
