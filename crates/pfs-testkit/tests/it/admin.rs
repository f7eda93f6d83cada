//! The admin API over HTTP: token, providers, practices, patients, accounts, proxies and
//! service switches, and how each change shows on the PFS side.

use pfs_client::{Error, LinkRequest, SecretString};
use pfs_testkit::{Credentials, TestServer};
use serde_json::{Value, json};

const DEMO_ODS: &str = "Y99001";

/// A valid NHS number not used by the demo data, from a nine-digit seed.
fn nhs_number(seed: u32) -> String {
    (0..)
        .find_map(|n| pfs_core::nhs::complete(&format!("{:09}", 943_100_000 + seed * 100 + n)))
        .expect("some check digit is valid")
}

/// The same ten digits with a wrong check digit.
fn wrong_check_digit(valid: &str) -> String {
    let last = valid.chars().last().unwrap().to_digit(10).unwrap();
    format!("{}{}", &valid[..9], (last + 1) % 10)
}

fn patient_json(ods: &str, nhs: &str, last_name: &str, dob: &str) -> Value {
    json!({
        "ods": ods,
        "nhsNumber": nhs,
        "title": "Ms",
        "firstName": "Test",
        "lastName": last_name,
        "dateOfBirth": dob,
        "gender": "Female",
        "address": "1 Test Street, Leeds",
    })
}

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

async fn add_patient(t: &TestServer, ods: &str, nhs: &str, last_name: &str, dob: &str) -> Value {
    status(
        t.admin(
            "POST",
            "/api/patients",
            Some(patient_json(ods, nhs, last_name, dob)),
        )
        .await
        .unwrap(),
        201,
    )
}

async fn issue(t: &TestServer, patient_id: &str) -> Value {
    status(
        t.admin(
            "POST",
            &format!("/api/patients/{patient_id}/account"),
            Some(json!({})),
        )
        .await
        .unwrap(),
        200,
    )
}

fn register(ods: &str, last_name: &str, dob: &str, account_id: &str, key: &str) -> LinkRequest {
    LinkRequest::register(
        ods,
        last_name,
        dob.parse().unwrap(),
        account_id,
        SecretString::from(key.to_owned()),
    )
}

#[track_caller]
fn expect_code<T: std::fmt::Debug>(r: Result<T, Error>, code: &str) {
    match r {
        Err(Error::Pfs { code: c, .. }) if c == code => {}
        other => panic!("expected PFS error {code}, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Health and token
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn health_needs_no_token() {
    let t = TestServer::start().await.unwrap();
    for token in ["", "wrong", t.server.admin_token.as_str()] {
        let body = status(
            t.admin_with_token("GET", "/health", None, token)
                .await
                .unwrap(),
            200,
        );
        assert_eq!(body["status"], "ok");
        assert_eq!(body["database"], "reachable");
        assert_eq!(body["panicsCaught"], 0);
        // The sandbox clock, not moved.
        assert_eq!(body["clock"]["offsetSeconds"], 0, "{body}");
        assert_eq!(body["clock"]["offset"], "+0s", "{body}");
        assert!(body["clock"]["now"].is_string(), "{body}");
        assert_eq!(body["faultRules"], 0, "{body}");
        assert_eq!(body.as_object().unwrap().len(), 5, "{body}");
    }
}

#[tokio::test]
async fn every_api_route_needs_the_token() {
    let t = TestServer::start().await.unwrap();
    let id = "1234567890";
    let routes: &[(&str, String)] = &[
        ("GET", "/api/providers".into()),
        ("POST", "/api/providers".into()),
        ("POST", "/api/providers/0123456789abcdef/revoke".into()),
        ("GET", "/api/practices".into()),
        ("POST", "/api/practices".into()),
        ("PUT", format!("/api/practices/{DEMO_ODS}/settings")),
        (
            "PUT",
            format!("/api/practices/{DEMO_ODS}/services/messaging"),
        ),
        ("GET", "/api/patients".into()),
        ("GET", format!("/api/patients?ods={DEMO_ODS}")),
        ("POST", "/api/patients".into()),
        ("POST", format!("/api/patients/{id}/account")),
        ("GET", format!("/api/patients/{id}/proxies")),
        ("POST", format!("/api/patients/{id}/proxies")),
        ("DELETE", format!("/api/patients/{id}/proxies/42")),
        ("GET", format!("/api/patients/{id}/services")),
        ("PUT", format!("/api/patients/{id}/services/messaging")),
        ("POST", "/api/accounts/123/end".into()),
        ("POST", "/api/sandbox/reset".into()),
        ("GET", "/api/sandbox/snapshots".into()),
        ("POST", "/api/sandbox/snapshots".into()),
        ("POST", "/api/sandbox/snapshots/demo/restore".into()),
        ("DELETE", "/api/sandbox/snapshots/x".into()),
        ("POST", "/api/sandbox/seed/practices".into()),
        ("POST", "/api/sandbox/seed/patients".into()),
        ("GET", "/api/sandbox/clock".into()),
        ("PUT", "/api/sandbox/clock".into()),
        ("DELETE", "/api/sandbox/clock".into()),
    ];
    let wrong = format!("{}x", t.server.admin_token);
    let prefix = &t.server.admin_token[..t.server.admin_token.len() - 1];
    for (method, path) in routes {
        for token in ["", "wrong", wrong.as_str(), prefix] {
            let body = Some(json!({"name": "x", "enabled": true}));
            let r = t.admin_with_token(method, path, body, token).await.unwrap();
            assert_eq!(r.0, 401, "{method} {path} with token {token:?}: {}", r.1);
            assert_eq!(r.1["error"], "unauthorized");
            // The message never echoes the real token.
            assert!(!r.1.to_string().contains(&t.server.admin_token), "{}", r.1);
        }
    }
    // Nothing was changed by the refused calls.
    let providers = status(t.admin("GET", "/api/providers", None).await.unwrap(), 200);
    assert_eq!(providers.as_array().unwrap().len(), 1, "{providers}");
}

// ---------------------------------------------------------------------------------------------
// Providers
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn providers_add_list_use_and_revoke() {
    let t = TestServer::start().await.unwrap();
    let body = status(
        t.admin(
            "POST",
            "/api/providers",
            Some(json!({"name": "Example Apps Ltd"})),
        )
        .await
        .unwrap(),
        201,
    );
    let id = body["id"].as_str().unwrap().to_owned();
    assert_eq!(id.len(), 16, "{id}");
    assert!(
        id.chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()),
        "{id}"
    );
    assert_eq!(body["name"], "Example Apps Ltd");
    let cert_pem = body["certPem"].as_str().unwrap().to_owned();
    let key_pem = body["keyPem"].as_str().unwrap().to_owned();
    let ca_pem = body["caPem"].as_str().unwrap().to_owned();
    assert!(cert_pem.contains("BEGIN CERTIFICATE"));
    assert!(key_pem.contains("PRIVATE KEY"));
    assert_eq!(ca_pem.trim(), t.ca_pem.trim(), "caPem is the server CA");

    // The returned certificate works.
    let creds = Credentials {
        cert_pem,
        key_pem,
        provider_id: id.clone(),
    };
    let client = t.client_for(&creds);
    assert_eq!(client.check_version().await.unwrap().current_version, "1");

    // Listed, next to the demo provider, without the key.
    let list = status(t.admin("GET", "/api/providers", None).await.unwrap(), 200);
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 2);
    let listed = list
        .iter()
        .find(|p| p["id"] == id.as_str())
        .expect("listed");
    assert_eq!(listed["name"], "Example Apps Ltd");
    assert!(listed.get("keyPem").is_none(), "{listed}");
    assert!(!listed.to_string().contains("PRIVATE KEY"));

    // Revoke: 204, then the certificate is refused with 9007.
    status(
        t.admin("POST", &format!("/api/providers/{id}/revoke"), None)
            .await
            .unwrap(),
        204,
    );
    expect_code(client.check_version().await, "9007");
    // The demo provider is unaffected.
    t.client().check_version().await.unwrap();
    // Unknown provider → 404.
    api_error(
        t.admin("POST", "/api/providers/ffffffffffffffff/revoke", None)
            .await
            .unwrap(),
        404,
        "not_found",
    );
}

#[tokio::test]
async fn providers_reject_bad_input() {
    let t = TestServer::start().await.unwrap();
    api_error(
        t.admin("POST", "/api/providers", Some(json!({"name": "  "})))
            .await
            .unwrap(),
        422,
        "invalid",
    );
    api_error(
        t.admin(
            "POST",
            "/api/providers",
            Some(json!({"name": "x", "certPem": "not a certificate"})),
        )
        .await
        .unwrap(),
        422,
        "invalid",
    );
    // A body without the required name: refused with a client error, nothing registered.
    let (code, _, _) =
        admin_raw(&t, "POST", "/api/providers", Some("application/json"), "{}").await;
    assert!((400..500).contains(&code), "{code}");
    let list = status(t.admin("GET", "/api/providers", None).await.unwrap(), 200);
    assert_eq!(list.as_array().unwrap().len(), 1);
}

/// An admin call with full control of the body and its content type; returns the status,
/// the reply's content type and its body as text.
async fn admin_raw(
    t: &TestServer,
    method: &str,
    path: &str,
    content_type: Option<&str>,
    body: &str,
) -> (u16, String, String) {
    use http_body_util::{BodyExt, Full};
    let http = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<Full<bytes::Bytes>>();
    let mut req = http::Request::builder()
        .method(method)
        .uri(format!("http://{}{path}", t.server.admin_addr))
        .header("authorization", format!("Bearer {}", t.server.admin_token));
    if let Some(ct) = content_type {
        req = req.header("content-type", ct);
    }
    let req = req
        .body(Full::new(bytes::Bytes::from(body.to_owned())))
        .unwrap();
    let res = http.request(req).await.unwrap();
    let status = res.status().as_u16();
    let ct = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    (status, ct, String::from_utf8_lossy(&bytes).into_owned())
}

#[tokio::test]
async fn malformed_admin_bodies_get_the_json_error_shape() {
    let t = TestServer::start().await.unwrap();
    for (ct, body) in [
        (Some("application/json"), "{not json"),
        (Some("application/json"), r#"{"ods": "X12345"}"#),
        (
            Some("text/plain"),
            r#"{"ods": "X12345", "name": "n", "address": "a"}"#,
        ),
        (None, r#"{"ods": "X12345", "name": "n", "address": "a"}"#),
    ] {
        let (code, reply_ct, text) = admin_raw(&t, "POST", "/api/practices", ct, body).await;
        assert!((400..500).contains(&code), "{code} {text}");
        assert!(
            reply_ct.starts_with("application/json"),
            "{reply_ct}: {text}"
        );
        let v: Value = serde_json::from_str(&text).expect("a JSON error body");
        assert!(v["error"].is_string() && v["message"].is_string(), "{v}");
    }
}

#[tokio::test]
async fn issue_account_without_a_body_is_accepted() {
    let t = TestServer::start().await.unwrap();
    let pid = t.patient_id(&t.account("Jones").nhs_number).await.unwrap();
    let path = format!("/api/patients/{pid}/account");
    // No body, no content type: accepted today.
    let (code, _, text) = admin_raw(&t, "POST", &path, None, "").await;
    assert_eq!(code, 200, "{text}");
    // No body, JSON content type (what the testkit and many HTTP clients send).
    let (code, _, text) = admin_raw(&t, "POST", &path, Some("application/json"), "").await;
    assert_eq!(code, 200, "{text}");
}

#[tokio::test]
async fn registering_an_existing_certificate_returns_no_key_and_refuses_duplicates() {
    let t = TestServer::start().await.unwrap();
    let ca = pfs_server::pki::PemPair {
        cert_pem: std::fs::read_to_string(t.server.data_dir.path("ca.pem")).unwrap(),
        key_pem: std::fs::read_to_string(t.server.data_dir.path("ca-key.pem")).unwrap(),
    };
    let pair = pfs_server::pki::new_client_cert(&ca, "own key").unwrap();
    let body = status(
        t.admin(
            "POST",
            "/api/providers",
            Some(json!({"name": "Own Key Ltd", "certPem": pair.cert_pem})),
        )
        .await
        .unwrap(),
        201,
    );
    assert!(body.get("keyPem").is_none(), "{body}");
    assert_eq!(body["certPem"], pair.cert_pem.as_str());
    assert!(
        body["caPem"]
            .as_str()
            .unwrap()
            .contains("BEGIN CERTIFICATE")
    );
    let id = body["id"].as_str().unwrap().to_owned();
    assert_eq!(id.len(), 16);

    // The provider's own key works with the registered certificate.
    let client = t.client_for(&Credentials {
        cert_pem: pair.cert_pem.clone(),
        key_pem: pair.key_pem,
        provider_id: id,
    });
    client.check_version().await.unwrap();

    // Same certificate again → 409; so is the demo provider's certificate.
    api_error(
        t.admin(
            "POST",
            "/api/providers",
            Some(json!({"name": "Copycat", "certPem": pair.cert_pem})),
        )
        .await
        .unwrap(),
        409,
        "conflict",
    );
    api_error(
        t.admin(
            "POST",
            "/api/providers",
            Some(json!({"name": "Copycat", "certPem": t.demo.cert_pem})),
        )
        .await
        .unwrap(),
        409,
        "conflict",
    );
    let list = status(t.admin("GET", "/api/providers", None).await.unwrap(), 200);
    assert_eq!(list.as_array().unwrap().len(), 2, "{list}");
}

#[tokio::test]
async fn provider_json_is_camel_case_like_the_rest_of_the_api() {
    let t = TestServer::start().await.unwrap();
    let body = status(
        t.admin(
            "POST",
            "/api/providers",
            Some(json!({"name": "Trusted", "trustedIdentity": true})),
        )
        .await
        .unwrap(),
        201,
    );
    let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
    // The request field is `trustedIdentity`; the reply should use the same spelling.
    assert_eq!(body["trustedIdentity"], true, "{keys:?}");
    assert!(body.get("createdAt").is_some(), "{keys:?}");
    assert!(body.get("trusted_identity").is_none(), "{keys:?}");
    let list = status(t.admin("GET", "/api/providers", None).await.unwrap(), 200);
    for p in list.as_array().unwrap() {
        assert!(p.get("trustedIdentity").is_some(), "{p}");
        assert!(p.get("revokedAt").is_some(), "{p}");
    }
}

// ---------------------------------------------------------------------------------------------
// Practices
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn practices_add_list_settings() {
    let t = TestServer::start().await.unwrap();
    let body = status(
        t.admin(
            "POST",
            "/api/practices",
            Some(json!({"ods": "x12345", "name": "Hillside Practice", "address": "4 Hill Road, York"})),
        )
        .await
        .unwrap(),
        201,
    );
    assert_eq!(body["ods"], "X12345", "ODS codes are stored upper case");
    assert_eq!(body["name"], "Hillside Practice");
    assert_eq!(body["settings"]["minimumAge"], 16, "default minimum age");

    // Duplicate (in either case) → 409.
    for ods in ["X12345", "x12345", " X12345 "] {
        api_error(
            t.admin(
                "POST",
                "/api/practices",
                Some(json!({"ods": ods, "name": "Again", "address": "Elsewhere"})),
            )
            .await
            .unwrap(),
            409,
            "conflict",
        );
    }
    // Invalid ODS codes → 422.
    for ods in ["", "AB", "X-12345", "ABCDEFGHIJK", "X 123"] {
        api_error(
            t.admin(
                "POST",
                "/api/practices",
                Some(json!({"ods": ods, "name": "Bad", "address": "Nowhere"})),
            )
            .await
            .unwrap(),
            422,
            "invalid",
        );
    }
    // Empty name → 422.
    api_error(
        t.admin(
            "POST",
            "/api/practices",
            Some(json!({"ods": "Z1234", "name": " ", "address": "Somewhere"})),
        )
        .await
        .unwrap(),
        422,
        "invalid",
    );

    // Listed with the demo practice.
    let list = status(t.admin("GET", "/api/practices", None).await.unwrap(), 200);
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 2, "{list:?}");
    assert!(list.iter().any(|p| p["ods"] == DEMO_ODS));
    assert!(list.iter().any(|p| p["ods"] == "X12345"));

    // Settings update → the new practice document, reflected in the list.
    let updated = status(
        t.admin(
            "PUT",
            "/api/practices/X12345/settings",
            Some(json!({"minimumAge": 13})),
        )
        .await
        .unwrap(),
        200,
    );
    assert_eq!(updated["settings"]["minimumAge"], 13);
    let list = status(t.admin("GET", "/api/practices", None).await.unwrap(), 200);
    let practice = list
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["ods"] == "X12345")
        .unwrap()
        .clone();
    assert_eq!(practice["settings"]["minimumAge"], 13);
    let demo = list
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["ods"] == DEMO_ODS)
        .unwrap()
        .clone();
    assert_eq!(
        demo["settings"]["minimumAge"], 16,
        "other practices unchanged"
    );

    // Unknown practice → 404.
    api_error(
        t.admin(
            "PUT",
            "/api/practices/NOPE1/settings",
            Some(json!({"minimumAge": 18})),
        )
        .await
        .unwrap(),
        404,
        "not_found",
    );
    api_error(
        t.admin(
            "PUT",
            "/api/practices/NOPE1/services/messaging",
            Some(json!({"enabled": false})),
        )
        .await
        .unwrap(),
        404,
        "not_found",
    );
}

#[tokio::test]
async fn minimum_age_setting_applies_to_linkage() {
    let t = TestServer::start().await.unwrap();
    // A 15-year-old at the demo practice (default minimum age 16).
    let today = chrono::Utc::now().date_naive();
    let dob = today.years_before(15).to_string();
    let nhs = nhs_number(1);
    let patient = add_patient(&t, DEMO_ODS, &nhs, "Young", &dob).await;
    let pid = patient["id"].as_str().unwrap();
    let issued = issue(&t, pid).await;
    let account = issued["accountId"].as_str().unwrap();
    let key = issued["linkageKey"].as_str().unwrap();
    let client = t.client();
    expect_code(
        client
            .link_account(register(DEMO_ODS, "Young", &dob, account, key))
            .await,
        "553",
    );
    // Lowering the minimum age lets the same key link.
    status(
        t.admin(
            "PUT",
            &format!("/api/practices/{DEMO_ODS}/settings"),
            Some(json!({"minimumAge": 13})),
        )
        .await
        .unwrap(),
        200,
    );
    let reply = client
        .link_account(register(DEMO_ODS, "Young", &dob, account, key))
        .await
        .unwrap();
    assert!(reply.passphrase.is_some());
}

trait YearsAgo {
    fn years_before(self, years: i32) -> chrono::NaiveDate;
}

impl YearsAgo for chrono::NaiveDate {
    /// The date `years` before this one (29 February becomes 28 February).
    fn years_before(self, years: i32) -> chrono::NaiveDate {
        use chrono::Datelike;
        let year = self.year() - years;
        self.with_year(year)
            .or_else(|| chrono::NaiveDate::from_ymd_opt(year, self.month(), 28))
            .expect("a valid date")
    }
}

// ---------------------------------------------------------------------------------------------
// Patients
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn patients_add_validate_and_list() {
    let t = TestServer::start().await.unwrap();
    status(
        t.admin(
            "POST",
            "/api/practices",
            Some(json!({"ods": "X12345", "name": "Hillside", "address": "York"})),
        )
        .await
        .unwrap(),
        201,
    );
    let nhs = nhs_number(2);
    let body = add_patient(&t, "X12345", &nhs, "Newcombe", "1970-05-06").await;
    let id = body["id"].as_str().unwrap().to_owned();
    assert!(
        !id.is_empty() && id.chars().all(|c| c.is_ascii_digit()),
        "{id}"
    );
    assert_eq!(body["nhsNumber"], nhs.as_str());
    assert_eq!(body["ods"], "X12345");
    assert_eq!(body["lastName"], "Newcombe");
    assert_eq!(body["dateOfBirth"], "1970-05-06");

    // Wrong check digit, wrong length, letters → 422.
    for bad in [
        wrong_check_digit(&nhs_number(3)),
        "12345".to_owned(),
        "99900000AB".to_owned(),
    ] {
        api_error(
            t.admin(
                "POST",
                "/api/patients",
                Some(patient_json("X12345", &bad, "Bad", "1970-01-01")),
            )
            .await
            .unwrap(),
            422,
            "invalid",
        );
    }
    // A date of birth in the future → 422.
    api_error(
        t.admin(
            "POST",
            "/api/patients",
            Some(patient_json(
                "X12345",
                &nhs_number(4),
                "Future",
                "2999-01-01",
            )),
        )
        .await
        .unwrap(),
        422,
        "invalid",
    );
    // Duplicate NHS number (also with spaces, at another practice) → 409.
    let spaced = format!("{} {} {}", &nhs[..3], &nhs[3..6], &nhs[6..]);
    for (ods, number) in [("X12345", nhs.clone()), (DEMO_ODS, spaced)] {
        api_error(
            t.admin(
                "POST",
                "/api/patients",
                Some(patient_json(ods, &number, "Twin", "1970-05-06")),
            )
            .await
            .unwrap(),
            409,
            "conflict",
        );
    }
    // Unknown practice → 404.
    api_error(
        t.admin(
            "POST",
            "/api/patients",
            Some(patient_json("NOPE1", &nhs_number(5), "Lost", "1970-01-01")),
        )
        .await
        .unwrap(),
        404,
        "not_found",
    );

    // Listing: all, and filtered by practice.
    let all = status(t.admin("GET", "/api/patients", None).await.unwrap(), 200);
    let all = all.as_array().unwrap();
    assert_eq!(all.len(), 10, "nine demo patients and the new one");
    let hillside = status(
        t.admin("GET", "/api/patients?ods=X12345", None)
            .await
            .unwrap(),
        200,
    );
    let hillside = hillside.as_array().unwrap();
    assert_eq!(hillside.len(), 1);
    assert_eq!(hillside[0]["id"], id.as_str());
    let demo = status(
        t.admin("GET", &format!("/api/patients?ods={DEMO_ODS}"), None)
            .await
            .unwrap(),
        200,
    );
    let demo = demo.as_array().unwrap();
    assert_eq!(demo.len(), 9);
    assert!(demo.iter().all(|p| p["ods"] == DEMO_ODS));
}

// ---------------------------------------------------------------------------------------------
// Accounts
// ---------------------------------------------------------------------------------------------

fn is_linkage_key(key: &str) -> bool {
    let groups: Vec<&str> = key.split('-').collect();
    groups.len() == 3
        && groups.iter().all(|g| {
            g.len() == 5
                && g.chars()
                    .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase())
        })
}

#[tokio::test]
async fn accounts_issue_link_reissue_and_end() {
    let t = TestServer::start().await.unwrap();
    let nhs = nhs_number(6);
    let dob = "1985-05-29";
    let patient = add_patient(&t, DEMO_ODS, &nhs, "Linker", dob).await;
    let pid = patient["id"].as_str().unwrap().to_owned();

    let first = issue(&t, &pid).await;
    let account_id = first["accountId"].as_str().unwrap().to_owned();
    assert!(
        !account_id.is_empty() && account_id.chars().all(|c| c.is_ascii_digit()),
        "{first}"
    );
    assert_eq!(first["patientId"], pid.as_str());
    assert_eq!(first["ods"], DEMO_ODS);
    let key1 = first["linkageKey"].as_str().unwrap().to_owned();
    assert!(is_linkage_key(&key1), "{key1}");
    let expires: chrono::DateTime<chrono::Utc> =
        first["expiresAt"].as_str().unwrap().parse().unwrap();
    assert!(expires > t.clock_now(), "{expires}");

    // The key links over PFS, and the passphrase logs on.
    let client = t.client();
    let reply = client
        .link_account(register(DEMO_ODS, "Linker", dob, &account_id, &key1))
        .await
        .unwrap();
    assert_eq!(reply.account_id.as_deref(), Some(account_id.as_str()));
    let passphrase = reply.passphrase.unwrap();
    let session = client
        .authenticate(DEMO_ODS, &account_id, &passphrase)
        .await
        .unwrap();
    assert_eq!(session.online_user_id(), pid);

    // Issuing again: same account, new key; the old key stops working.
    let second = issue(&t, &pid).await;
    assert_eq!(second["accountId"], account_id.as_str());
    let key2 = second["linkageKey"].as_str().unwrap().to_owned();
    assert!(is_linkage_key(&key2));
    assert_ne!(key1, key2);
    expect_code(
        client
            .link_account(register(DEMO_ODS, "Linker", dob, &account_id, &key1))
            .await,
        "8",
    );
    let relinked = client
        .link_account(register(DEMO_ODS, "Linker", dob, &account_id, &key2))
        .await
        .unwrap();
    let passphrase = relinked.passphrase.unwrap();

    // End the account: 204; it can no longer log on, and its open session ends.
    status(
        t.admin("POST", &format!("/api/accounts/{account_id}/end"), None)
            .await
            .unwrap(),
        204,
    );
    expect_code(
        client
            .authenticate(DEMO_ODS, &account_id, &passphrase)
            .await
            .map(|_| ()),
        "9",
    );
    expect_code(session.keep_alive().await, "3");
    // Unknown account → 404; unknown patient → 404.
    api_error(
        t.admin("POST", "/api/accounts/999999999999/end", None)
            .await
            .unwrap(),
        404,
        "not_found",
    );
    api_error(
        t.admin(
            "POST",
            "/api/patients/999999999999/account",
            Some(json!({})),
        )
        .await
        .unwrap(),
        404,
        "not_found",
    );
}

#[tokio::test]
async fn issuing_for_an_ended_account_is_a_client_error() {
    let t = TestServer::start().await.unwrap();
    let pid = t.patient_id(&t.account("Jones").nhs_number).await.unwrap();
    let issued = issue(&t, &pid).await;
    let account_id = issued["accountId"].as_str().unwrap();
    status(
        t.admin("POST", &format!("/api/accounts/{account_id}/end"), None)
            .await
            .unwrap(),
        204,
    );
    let (code, body) = t
        .admin(
            "POST",
            &format!("/api/patients/{pid}/account"),
            Some(json!({})),
        )
        .await
        .unwrap();
    assert!(
        (400..500).contains(&code),
        "an ended account is the caller's problem, not a server fault: {code} {body}"
    );
}

#[tokio::test]
async fn practice_routes_accept_lower_case_ods() {
    let t = TestServer::start().await.unwrap();
    status(
        t.admin(
            "PUT",
            "/api/practices/y99001/settings",
            Some(json!({"minimumAge": 14})),
        )
        .await
        .unwrap(),
        200,
    );
    status(
        t.admin(
            "PUT",
            "/api/practices/y99001/services/messaging",
            Some(json!({"enabled": false})),
        )
        .await
        .unwrap(),
        204,
    );
    let list = status(
        t.admin("GET", "/api/patients?ods=y99001", None)
            .await
            .unwrap(),
        200,
    );
    assert_eq!(list.as_array().unwrap().len(), 9, "{list}");
}

#[tokio::test]
async fn issue_account_accepts_contact_details() {
    let t = TestServer::start().await.unwrap();
    let patient = add_patient(&t, DEMO_ODS, &nhs_number(7), "Contact", "1990-03-03").await;
    let pid = patient["id"].as_str().unwrap();
    let issued = status(
        t.admin(
            "POST",
            &format!("/api/patients/{pid}/account"),
            Some(json!({"email": "c@example.org", "mobile": "07700900123"})),
        )
        .await
        .unwrap(),
        200,
    );
    assert!(is_linkage_key(issued["linkageKey"].as_str().unwrap()));
}

// ---------------------------------------------------------------------------------------------
// Proxies
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn proxies_grant_list_revoke() {
    let t = TestServer::start().await.unwrap();
    let jones = t.account("Jones").clone();
    let patel = t.account("Patel").clone();
    let grantee = t.patient_id(&jones.nhs_number).await.unwrap();
    let patient = t.patient_id(&patel.nhs_number).await.unwrap();
    let path = format!("/api/patients/{grantee}/proxies");

    let list = status(t.admin("GET", &path, None).await.unwrap(), 200);
    assert_eq!(list, json!([]));

    status(
        t.admin("POST", &path, Some(json!({"patientId": patient})))
            .await
            .unwrap(),
        204,
    );
    let list = status(t.admin("GET", &path, None).await.unwrap(), 200);
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["id"], patient.as_str());
    assert_eq!(list[0]["lastName"], "Patel");

    // The grant shows in the grantee's AuthenticateReply.
    let session = t.login("Jones").await.unwrap();
    let reply = session.reply();
    assert!(
        reply.people.iter().any(|p| p.patient_id == patient),
        "the proxy is a root-level Person"
    );
    assert!(reply.registration.iter().any(|r| r.patient_id == patient));
    let selected = session.select_patient(&patient).await.unwrap();
    assert_eq!(selected.person.patient_id, patient);
    session.logoff().await.unwrap();

    // Self → 422; unknown patient or grantee → 404.
    api_error(
        t.admin("POST", &path, Some(json!({"patientId": grantee})))
            .await
            .unwrap(),
        422,
        "invalid",
    );
    api_error(
        t.admin("POST", &path, Some(json!({"patientId": "999999999999"})))
            .await
            .unwrap(),
        404,
        "not_found",
    );
    api_error(
        t.admin(
            "POST",
            "/api/patients/999999999999/proxies",
            Some(json!({"patientId": patient})),
        )
        .await
        .unwrap(),
        404,
        "not_found",
    );

    // Revoke → 204, again → 404.
    let revoke = format!("{path}/{patient}");
    status(t.admin("DELETE", &revoke, None).await.unwrap(), 204);
    api_error(
        t.admin("DELETE", &revoke, None).await.unwrap(),
        404,
        "not_found",
    );
    let list = status(t.admin("GET", &path, None).await.unwrap(), 200);
    assert_eq!(list, json!([]));

    // A new login no longer lists the patient, and selecting it is refused.
    let session = t.login("Jones").await.unwrap();
    assert!(
        !session
            .reply()
            .people
            .iter()
            .any(|p| p.patient_id == patient)
    );
    expect_code(session.select_patient(&patient).await, "6");
}

// ---------------------------------------------------------------------------------------------
// Services
// ---------------------------------------------------------------------------------------------

fn enabled(services: &Value, key: &str) -> bool {
    services
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["service"] == key)
        .unwrap_or_else(|| panic!("service {key} listed: {services}"))["enabled"]
        .as_bool()
        .unwrap()
}

#[tokio::test]
async fn services_switches_for_practice_and_patient() {
    let t = TestServer::start().await.unwrap();
    let hughes = t.account("Hughes").clone();
    let pid = t.patient_id(&hughes.nhs_number).await.unwrap();
    let services_path = format!("/api/patients/{pid}/services");

    let services = status(t.admin("GET", &services_path, None).await.unwrap(), 200);
    assert!(enabled(&services, "messaging"), "on by default");
    assert!(enabled(&services, "appointments"));
    let messaging = services
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["service"] == "messaging")
        .unwrap();
    assert_eq!(messaging["description"], "Messaging");

    // Practice switch off.
    status(
        t.admin(
            "PUT",
            &format!("/api/practices/{DEMO_ODS}/services/messaging"),
            Some(json!({"enabled": false})),
        )
        .await
        .unwrap(),
        204,
    );
    let services = status(t.admin("GET", &services_path, None).await.unwrap(), 200);
    assert!(!enabled(&services, "messaging"));
    assert!(
        enabled(&services, "appointments"),
        "other services unchanged"
    );

    // Over PFS, Messaging is no longer "A".
    let session = t.login("Hughes").await.unwrap();
    let list = session.list_service_accesses().await.unwrap();
    let m = list
        .services
        .iter()
        .find(|s| s.description == "Messaging")
        .unwrap();
    assert_ne!(m.status, "A");

    // The patient's own switch wins over the practice's.
    status(
        t.admin(
            "PUT",
            &format!("{services_path}/messaging"),
            Some(json!({"enabled": true})),
        )
        .await
        .unwrap(),
        204,
    );
    let services = status(t.admin("GET", &services_path, None).await.unwrap(), 200);
    assert!(enabled(&services, "messaging"));
    let list = session.list_service_accesses().await.unwrap();
    assert!(
        list.services
            .iter()
            .any(|s| s.description == "Messaging" && s.status == "A")
    );

    // Clearing the patient switch falls back to the practice's (off).
    status(
        t.admin(
            "PUT",
            &format!("{services_path}/messaging"),
            Some(json!({"enabled": null})),
        )
        .await
        .unwrap(),
        204,
    );
    let services = status(t.admin("GET", &services_path, None).await.unwrap(), 200);
    assert!(!enabled(&services, "messaging"));
    // Clearing the practice switch falls back to the default (on).
    status(
        t.admin(
            "PUT",
            &format!("/api/practices/{DEMO_ODS}/services/messaging"),
            Some(json!({"enabled": null})),
        )
        .await
        .unwrap(),
        204,
    );
    let services = status(t.admin("GET", &services_path, None).await.unwrap(), 200);
    assert!(enabled(&services, "messaging"));

    // A patient switch off applies to that patient only.
    status(
        t.admin(
            "PUT",
            &format!("{services_path}/appointments"),
            Some(json!({"enabled": false})),
        )
        .await
        .unwrap(),
        204,
    );
    let services = status(t.admin("GET", &services_path, None).await.unwrap(), 200);
    assert!(!enabled(&services, "appointments"));
    let other = t.patient_id(&t.account("Jones").nhs_number).await.unwrap();
    let others = status(
        t.admin("GET", &format!("/api/patients/{other}/services"), None)
            .await
            .unwrap(),
        200,
    );
    assert!(enabled(&others, "appointments"));

    // Unknown service keys → 422; unknown patient → 404.
    for path in [
        format!("/api/practices/{DEMO_ODS}/services/teleportation"),
        format!("{services_path}/Messaging"),
    ] {
        api_error(
            t.admin("PUT", &path, Some(json!({"enabled": true})))
                .await
                .unwrap(),
            422,
            "invalid",
        );
    }
    api_error(
        t.admin(
            "PUT",
            "/api/patients/999999999999/services/messaging",
            Some(json!({"enabled": true})),
        )
        .await
        .unwrap(),
        404,
        "not_found",
    );
    api_error(
        t.admin("GET", "/api/patients/999999999999/services", None)
            .await
            .unwrap(),
        404,
        "not_found",
    );
    session.logoff().await.unwrap();
}

// ---------------------------------------------------------------------------------------------
// Text that replies carry: only characters XML allows, and errors that never echo a value
// ---------------------------------------------------------------------------------------------

/// A value with a control character; long, so that an echo in the error body would show.
fn with_control(c: char) -> String {
    format!("1 High Street{c}{}", "x".repeat(20_000))
}

/// A 422 that names `field` and repeats nothing of the value; the whole body stays small.
#[track_caller]
fn refused_naming(r: (u16, Value), field: &str) {
    let body = api_error(r, 422, "invalid");
    let message = body["message"].as_str().unwrap();
    assert!(message.contains(field), "{message}");
    assert!(!message.contains("High Street"), "{message}");
    assert!(body.to_string().len() < 500, "{body}");
}

#[tokio::test]
async fn a_control_character_in_a_practice_address_is_refused_and_nothing_is_stored() {
    let t = TestServer::start().await.unwrap();
    for c in ['\u{1}', '\0', '\u{1B}', '\u{B}', '\u{FFFE}', '\u{FFFF}'] {
        refused_naming(
            t.admin(
                "POST",
                "/api/practices",
                Some(json!({"ods": "Z9001", "name": "Bad Surgery", "address": with_control(c)})),
            )
            .await
            .unwrap(),
            "address",
        );
    }
    refused_naming(
        t.admin(
            "POST",
            "/api/practices",
            Some(json!({"ods": "Z9001", "name": "Bad\u{7}Surgery", "address": "1 Road"})),
        )
        .await
        .unwrap(),
        "name",
    );
    let list = status(t.admin("GET", "/api/practices", None).await.unwrap(), 200);
    assert!(
        list.as_array().unwrap().iter().all(|p| p["ods"] != "Z9001"),
        "{list}"
    );
    // Tab, line feed and carriage return are text XML carries (written as references).
    status(
        t.admin(
            "POST",
            "/api/practices",
            Some(json!({"ods": "Z9001", "name": "Good Surgery", "address": "1 Road\r\n\tLeeds"})),
        )
        .await
        .unwrap(),
        201,
    );
}

#[tokio::test]
async fn every_stored_text_field_refuses_control_characters() {
    let t = TestServer::start().await.unwrap();
    let bad = with_control('\u{1}');
    let settings = |field: &str| {
        let mut s = json!({"bookingWindowDays": 56});
        s[field] = json!(bad);
        s
    };
    // Practice settings, with a new practice and later.
    for field in [
        "bookingGuidance",
        "medicationRequestConfirmation",
        "medicationGuidance",
    ] {
        refused_naming(
            t.admin(
                "POST",
                "/api/practices",
                Some(json!({"ods": "Z9002", "name": "N", "address": "A", "settings": settings(field)})),
            )
            .await
            .unwrap(),
            field,
        );
        refused_naming(
            t.admin(
                "PUT",
                &format!("/api/practices/{DEMO_ODS}/settings"),
                Some(settings(field)),
            )
            .await
            .unwrap(),
            field,
        );
    }
    // Patients.
    for field in ["title", "firstName", "lastName", "gender", "address"] {
        let mut p = patient_json(DEMO_ODS, &nhs_number(40), "Clean", "1980-01-01");
        p[field] = json!(bad);
        refused_naming(
            t.admin("POST", "/api/patients", Some(p)).await.unwrap(),
            field,
        );
    }
    // Appointment sessions.
    let session = json!({
        "sessionType": "Morning surgery",
        "staffDetails": "Dr A Jones",
        "location": "Main site",
        "slotType": "Routine",
        "start": "2027-06-04T09:00",
        "slotMinutes": 10,
        "slotCount": 6,
    });
    for field in ["sessionType", "staffDetails", "location", "slotType"] {
        let mut s = session.clone();
        s[field] = json!(bad);
        refused_naming(
            t.admin(
                "POST",
                &format!("/api/practices/{DEMO_ODS}/sessions"),
                Some(s),
            )
            .await
            .unwrap(),
            field,
        );
    }
    // Contact details of an online account, and a provider's name.
    let pid = t.patient_id(&t.account("Jones").nhs_number).await.unwrap();
    for field in ["email", "mobile"] {
        refused_naming(
            t.admin(
                "POST",
                &format!("/api/patients/{pid}/account"),
                Some(json!({ field: bad })),
            )
            .await
            .unwrap(),
            field,
        );
    }
    refused_naming(
        t.admin("POST", "/api/providers", Some(json!({"name": bad})))
            .await
            .unwrap(),
        "name",
    );

    // Nothing of it was stored.
    let practices = status(t.admin("GET", "/api/practices", None).await.unwrap(), 200);
    let text = practices.to_string();
    assert!(
        !text.contains("Z9002") && !text.contains("\\u0001"),
        "{text}"
    );
    let patients = status(t.admin("GET", "/api/patients", None).await.unwrap(), 200);
    assert!(!patients.to_string().contains("\\u0001"));
    let providers = status(t.admin("GET", "/api/providers", None).await.unwrap(), 200);
    assert_eq!(providers.as_array().unwrap().len(), 1, "{providers}");
    let sessions = status(
        t.admin(
            "GET",
            &format!("/api/practices/{DEMO_ODS}/sessions?from=2027-06-01&to=2027-06-30"),
            None,
        )
        .await
        .unwrap(),
        200,
    );
    assert!(!sessions.to_string().contains("\\u0001"), "{sessions}");
}

#[tokio::test]
async fn admin_dates_stay_in_the_years_the_wire_carries() {
    let t = TestServer::start().await.unwrap();
    for dob in ["1850-01-01", "9999-12-31"] {
        refused_naming(
            t.admin(
                "POST",
                "/api/patients",
                Some(patient_json(DEMO_ODS, &nhs_number(41), "Old", dob)),
            )
            .await
            .unwrap(),
            "dateOfBirth",
        );
    }
    // A session far in the future is refused (it used to overflow date arithmetic).
    let r = t
        .admin(
            "POST",
            &format!("/api/practices/{DEMO_ODS}/sessions"),
            Some(json!({
                "sessionType": "Late", "staffDetails": "Dr B", "location": "Main site",
                "slotType": "Routine", "start": "+262142-12-31T09:00",
                "slotMinutes": 10, "slotCount": 6,
            })),
        )
        .await
        .unwrap();
    assert_eq!(r.0, 422, "{}", r.1);
    // Listing from (nearly) the last date chrono knows used to panic while adding 56 days.
    for from in ["%2B262142-12-31", "9999-01-01", "1800-01-01"] {
        refused_naming(
            t.admin(
                "GET",
                &format!("/api/practices/{DEMO_ODS}/sessions?from={from}"),
                None,
            )
            .await
            .unwrap(),
            "from",
        );
    }
    status(t.admin("GET", "/api/practices", None).await.unwrap(), 200);
}

#[tokio::test]
async fn admin_json_errors_do_not_echo_the_value() {
    let t = TestServer::start().await.unwrap();
    let huge = "v".repeat(50_000);
    for body in [
        json!({"ods": "Z9003", "name": "N", "address": "A", "settings": {"bookingWindowDays": huge}}),
        json!({"ods": 5, "name": huge, "address": "A"}),
    ] {
        let (code, _, text) = admin_raw(
            &t,
            "POST",
            "/api/practices",
            Some("application/json"),
            &body.to_string(),
        )
        .await;
        assert_eq!(code, 422, "{text:.300}");
        assert!(!text.contains("vvvvvvvvvv"), "{text:.300}");
        assert!(text.len() < 1000, "{text:.300}");
    }
    // The same for the optional body of issuing an account.
    let pid = t.patient_id(&t.account("Jones").nhs_number).await.unwrap();
    let (code, _, text) = admin_raw(
        &t,
        "POST",
        &format!("/api/patients/{pid}/account"),
        Some("application/json"),
        &json!({"email": 12345678}).to_string(),
    )
    .await;
    assert_eq!(code, 422, "{text}");
    assert!(!text.contains("12345678"), "{text}");
}

/// A value stored before validation existed (written here straight into the store) never
/// makes a reply unreadable: it goes out with U+FFFD in place of the character XML forbids.
#[tokio::test]
async fn a_bad_value_already_in_the_database_is_written_as_a_replacement_character() {
    let t = TestServer::start().await.unwrap();
    let practice = pfs_core::model::Practice {
        ods: "Z9004".into(),
        name: "Old\u{1B}[31m Surgery".into(),
        address: "1 High Street\u{1}".into(),
        settings: Default::default(),
    };
    t.server
        .pfs
        .store()
        .insert_practice(&practice)
        .await
        .unwrap();
    let nhs = nhs_number(42);
    let dob = "1980-02-14";
    let patient = add_patient(&t, "Z9004", &nhs, "Legacy", dob).await;
    let pid = patient["id"].as_str().unwrap().to_owned();
    let issued = issue(&t, &pid).await;
    let account_id = issued["accountId"].as_str().unwrap().to_owned();
    let key = issued["linkageKey"].as_str().unwrap().to_owned();
    let client = t.client();
    let linked = client
        .link_account(register("Z9004", "Legacy", dob, &account_id, &key))
        .await
        .unwrap();
    let passphrase = linked.passphrase.unwrap();
    // Through the SDK: the reply parses.
    client
        .authenticate("Z9004", &account_id, &passphrase)
        .await
        .unwrap();
    // And raw: well-formed, with the replacement character where the control characters were.
    let body = pfs_wire::Authenticate {
        header: pfs_wire::Header::new(Some("Z9004".into())),
        account_id: account_id.clone(),
        passphrase,
        provider_id: t.demo.provider_id.clone(),
        application: pfs_wire::Application {
            name: "testkit".into(),
            version: "1".into(),
            provider_id: t.demo.provider_id.clone(),
            device_type: "testkit".into(),
        },
    };
    let r = client
        .raw("Authenticate", None, pfs_wire::WireMessage::encode(&body))
        .await
        .unwrap();
    assert!(!r.is_error(), "{}", r.body);
    assert!(!r.body.contains('\u{1}') && !r.body.contains('\u{1B}'));
    let reply = <pfs_wire::AuthenticateReply as pfs_wire::WireMessage>::decode(r.body.as_bytes())
        .expect("the reply is well-formed XML");
    let site = &reply.registration[0];
    assert_eq!(site.address, "1 High Street\u{FFFD}");
    assert_eq!(site.unit_name, "Old\u{FFFD}[31m Surgery");
}
