//! Sessions: Authenticate, PatientSelected, ListServiceAccesses, Logoff, CheckVersion.
//!
//! Every test runs against a real server over mutual TLS. Typed calls go through the SDK;
//! where the wire shape matters the XML is written by hand the way a .NET client sends it
//! (`xmlns:xsi`/`xmlns:xsd` on the root, attributes in any order, with or without an XML
//! declaration) and the reply is checked as text.

use chrono::Duration;
use pfs_client::{Error, ExposeSecret, RawResponse, SecretString, Session};
use pfs_testkit::{DemoAccount, TestServer};
use pfs_wire::{
    CheckVersion, CheckVersionReply, Element, Header, ListServiceAccesses,
    ListServiceAccessesReply, PatientScope,
};
use serde_json::json;

pub(crate) const XMLNS: &str = r#"xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema""#;
pub(crate) const DECLARATION: &str = r#"<?xml version="1.0" encoding="utf-8"?>"#;

pub(crate) fn new_uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A hand-written `Authenticate` as a .NET client sends it: declaration, namespaces, and the
/// attributes in an order unlike the SDK's.
fn authenticate_xml(
    uuid: &str,
    ods: &str,
    account_id: &str,
    passphrase: &str,
    provider_id: &str,
    application_provider_id: &str,
) -> String {
    format!(
        r#"{DECLARATION}
<Authenticate {XMLNS} passphrase="{passphrase}" providerId="{provider_id}" unitId="{ods}" accountId="{account_id}" uuid="{uuid}" apiVersion="1">
  <Application deviceType="ExampleApp" providerId="{application_provider_id}" version="2.3" name="ExampleApp" />
</Authenticate>"#
    )
}

/// A hand-written per-patient request (`PatientSelected`, `ListServiceAccesses`) without an
/// XML declaration.
fn scoped_xml(root: &str, uuid: &str, ods: &str, patient_id: &str, online_user_id: &str) -> String {
    format!(
        r#"<{root} onlineUserId="{online_user_id}" {XMLNS} patientId="{patient_id}" uuid="{uuid}" unitId="{ods}" apiVersion="1" />"#
    )
}

fn logoff_xml(uuid: &str) -> String {
    format!(r#"{DECLARATION}<Logoff {XMLNS} uuid="{uuid}" apiVersion="1"/>"#)
}

/// Parses a successful raw reply: HTTP 200, not an error by the client's regex, root `root`.
#[track_caller]
pub(crate) fn ok_body(r: &RawResponse, root: &str) -> Element {
    assert_eq!(r.status, 200, "{r:?}");
    assert!(
        !r.is_error(),
        "a successful reply must not contain errorCode=: {}",
        r.body
    );
    let el = Element::parse(r.body.as_bytes()).expect("reply is well-formed XML");
    assert_eq!(el.name, root, "{}", r.body);
    el
}

/// Checks a raw `Error` reply: HTTP 200, root `Error`, the code, and a technical message that
/// holds none of `secrets`. Returns the element.
#[track_caller]
pub(crate) fn error_body(r: &RawResponse, code: &str, secrets: &[&str]) -> Element {
    assert_eq!(r.status, 200, "{r:?}");
    assert!(r.is_error(), "{}", r.body);
    let el = Element::parse(r.body.as_bytes()).expect("Error is well-formed XML");
    assert_eq!(el.name, "Error", "{}", r.body);
    assert_eq!(el.get("errorCode"), Some(code), "{}", r.body);
    assert!(
        !el.get("userFriendlyMessage").unwrap_or("").is_empty(),
        "{}",
        r.body
    );
    assert_no_secrets(el.get("technicalMessage").unwrap_or(""), secrets);
    assert!(
        r.suid.is_none(),
        "an Error reply must not carry a suid header"
    );
    el
}

#[track_caller]
pub(crate) fn assert_no_secrets(technical: &str, secrets: &[&str]) {
    let lower = technical.to_lowercase();
    for s in secrets.iter().filter(|s| !s.is_empty()) {
        assert!(
            !lower.contains(&s.to_lowercase()),
            "technicalMessage {technical:?} reveals a secret or patient detail"
        );
    }
}

/// Checks that a typed call failed with PFS error `code` and that the technical message holds
/// none of `secrets`.
#[track_caller]
pub(crate) fn expect_pfs<T: std::fmt::Debug>(
    r: Result<T, Error>,
    code: &str,
    secrets: &[&str],
) -> Error {
    match r {
        Ok(v) => panic!("expected PFS error {code}, got {v:?}"),
        Err(e) => {
            match &e {
                Error::Pfs {
                    code: c,
                    technical_message,
                    user_friendly_message,
                    ..
                } => {
                    assert_eq!(c, code, "{e}");
                    assert!(!user_friendly_message.is_empty());
                    assert_no_secrets(technical_message, secrets);
                }
                other => panic!("expected PFS error {code}, got {other}"),
            }
            e
        }
    }
}

/// Things no technicalMessage may contain for this account.
pub(crate) fn identifying(a: &DemoAccount) -> Vec<String> {
    vec![
        a.linkage_key.clone(),
        a.nhs_number.clone(),
        a.last_name.clone(),
    ]
}

pub(crate) fn refs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// Links a demo account with the demo provider; returns the account and its passphrase.
async fn linked(t: &TestServer, last_name: &str) -> (DemoAccount, SecretString) {
    let a = t.account(last_name).clone();
    let passphrase = t.link(&t.client(), &a).await.unwrap();
    (a, passphrase)
}

/// A raw Authenticate with the demo provider; returns the reply and its suid.
async fn raw_login(
    t: &TestServer,
    a: &DemoAccount,
    passphrase: &SecretString,
) -> (RawResponse, String) {
    let p = &t.demo.provider_id;
    let r = t
        .client()
        .raw(
            "Authenticate",
            None,
            authenticate_xml(
                &new_uuid(),
                &a.organisation_code,
                &a.account_id,
                passphrase.expose_secret(),
                p,
                p,
            ),
        )
        .await
        .unwrap();
    let suid = r
        .suid
        .clone()
        .expect("AuthenticateReply carries a suid header");
    (r, suid)
}

#[tokio::test]
async fn demo_user_logs_in_acts_for_child_and_logs_off() {
    let t = TestServer::start().await.unwrap();
    let ada = t.account("Example").clone();
    let child_id = t.patient_id(&ada.proxy_for[0]).await.unwrap();
    let session = t.login("Example").await.unwrap();
    let reply = session.reply().clone();
    assert_eq!(
        reply.patient_id.as_deref(),
        Some(reply.online_user_id.as_str())
    );
    assert_eq!(reply.user.patient_id, reply.online_user_id);
    assert!(reply.people.iter().any(|p| p.patient_id == child_id));
    let selected = session.select_patient(&child_id).await.unwrap();
    assert_eq!(selected.person.patient_id, child_id);
    assert_eq!(session.selected_patient_id(), child_id);
    let services = session.list_service_accesses().await.unwrap();
    assert!(
        services
            .services
            .iter()
            .any(|s| s.description == "Messaging" && s.status == "A")
    );
    session.logoff().await.unwrap();
}

#[tokio::test]
async fn authenticate_reply_wire_shape_and_suid_on_every_session_reply() {
    let t = TestServer::start().await.unwrap();
    let (ada, passphrase) = linked(&t, "Example").await;
    let ada_id = t.patient_id(&ada.nhs_number).await.unwrap();
    let ben_nhs = ada.proxy_for[0].clone();
    let ben_id = t.patient_id(&ben_nhs).await.unwrap();
    let client = t.client();
    let ods = &ada.organisation_code;

    // Authenticate, hand-written.
    let uuid = new_uuid();
    let p = &t.demo.provider_id;
    let r = client
        .raw(
            "Authenticate",
            None,
            authenticate_xml(
                &uuid,
                ods,
                &ada.account_id,
                passphrase.expose_secret(),
                p,
                p,
            ),
        )
        .await
        .unwrap();
    let root = ok_body(&r, "AuthenticateReply");
    let suid = r.suid.clone().expect("suid header on AuthenticateReply");
    assert!(!suid.trim().is_empty());
    assert_eq!(root.get("uuid"), Some(uuid.as_str()), "uuid is echoed");
    let online_user_id = root.get("onlineUserId").expect("onlineUserId").to_owned();
    let user = root
        .first("User")
        .and_then(|u| u.first("Person"))
        .expect("User/Person");
    assert_eq!(
        user.get("patientId"),
        Some(online_user_id.as_str()),
        "onlineUserId == User/Person/@patientId"
    );
    assert_eq!(online_user_id, ada_id);
    assert_eq!(root.get("patientId"), Some(ada_id.as_str()));
    assert_eq!(user.get("dateOfBirth"), Some("1980-02-14T00:00:00.0Z"));
    assert_eq!(user.get("gender"), Some("Female"));
    let national = user.first("NationalId").expect("NationalId");
    assert_eq!(national.get("type"), Some("NHS"));
    assert_eq!(national.text.trim(), ada.nhs_number);
    assert_eq!(
        user.first("PersonName").and_then(|n| n.get("name")),
        Some("Mrs Ada Example")
    );

    // Registration/PatientAccess for the user and the proxy, with the practice's details.
    let accesses: Vec<&Element> = root
        .first("Registration")
        .expect("Registration")
        .all("PatientAccess")
        .collect();
    let mut access_ids: Vec<&str> = accesses.iter().filter_map(|a| a.get("patientId")).collect();
    access_ids.sort_unstable();
    let mut expected = vec![ada_id.as_str(), ben_id.as_str()];
    expected.sort_unstable();
    assert_eq!(access_ids, expected);
    for a in &accesses {
        let site = a.first("SiteDetails").expect("SiteDetails");
        assert_eq!(site.get("unitName"), Some("Riverside Surgery"));
        assert!(
            !site
                .first("Address")
                .and_then(|x| x.get("address"))
                .unwrap_or("")
                .is_empty()
        );
    }

    // A root-level Person for the user and for the proxy; the proxy is the one whose
    // patientId differs from onlineUserId.
    let people: Vec<&Element> = root.all("Person").collect();
    assert_eq!(people.len(), 2, "{}", r.body);
    assert!(
        people
            .iter()
            .any(|p| p.get("patientId") == Some(ada_id.as_str()))
    );
    let proxies: Vec<&&Element> = people
        .iter()
        .filter(|p| p.get("patientId") != Some(online_user_id.as_str()))
        .collect();
    assert_eq!(proxies.len(), 1);
    let ben = proxies[0];
    assert_eq!(ben.get("patientId"), Some(ben_id.as_str()));
    assert_eq!(ben.get("dateOfBirth"), Some("2015-07-01T00:00:00.0Z"));
    assert_eq!(
        ben.first("NationalId").map(|n| n.text.trim()),
        Some(ben_nhs.as_str())
    );

    // PatientSelected (no declaration, odd attribute order): suid back, uuid echoed.
    let uuid = new_uuid();
    let r = client
        .raw(
            "PatientSelected",
            Some(&suid),
            scoped_xml("PatientSelected", &uuid, ods, &ben_id, &online_user_id),
        )
        .await
        .unwrap();
    let root = ok_body(&r, "PatientSelectedReply");
    assert_eq!(
        r.suid.as_deref(),
        Some(suid.as_str()),
        "suid header on PatientSelectedReply"
    );
    assert_eq!(root.get("uuid"), Some(uuid.as_str()));
    let person = root.first("Person").expect("Person");
    assert_eq!(person.get("patientId"), Some(ben_id.as_str()));
    assert_eq!(person.get("dateOfBirth"), Some("2015-07-01T00:00:00.0Z"));

    // ListServiceAccesses for the now selected child.
    let uuid = new_uuid();
    let r = client
        .raw(
            "ListServiceAccesses",
            Some(&suid),
            format!(
                "{DECLARATION}{}",
                scoped_xml("ListServiceAccesses", &uuid, ods, &ben_id, &online_user_id)
            ),
        )
        .await
        .unwrap();
    let root = ok_body(&r, "ListServiceAccessesReply");
    assert_eq!(
        r.suid.as_deref(),
        Some(suid.as_str()),
        "suid header on ListServiceAccessesReply"
    );
    assert_eq!(root.get("uuid"), Some(uuid.as_str()));
    assert!(
        root.all("ServiceAccess")
            .any(|s| s.get("description") == Some("Messaging")
                && s.get("status") == Some("A")
                && s.get("serviceIdentifier") == Some("512"))
    );

    // Logoff.
    let uuid = new_uuid();
    let r = client
        .raw("Logoff", Some(&suid), logoff_xml(&uuid))
        .await
        .unwrap();
    let root = ok_body(&r, "LogoffReply");
    assert_eq!(
        r.suid.as_deref(),
        Some(suid.as_str()),
        "suid header on LogoffReply"
    );
    assert_eq!(root.get("uuid"), Some(uuid.as_str()));
}

#[tokio::test]
async fn sdk_authenticate_lists_self_and_proxy() {
    let t = TestServer::start().await.unwrap();
    let ada = t.account("Example").clone();
    let ben_id = t.patient_id(&ada.proxy_for[0]).await.unwrap();
    let session = t.login("Example").await.unwrap();
    let reply = session.reply();
    assert!(reply.uuid.is_some());
    assert_eq!(reply.user.patient_id, reply.online_user_id);
    assert_eq!(
        reply.user.nhs_number.as_deref(),
        Some(ada.nhs_number.as_str())
    );
    assert_eq!(reply.user.date_of_birth, ada.date_of_birth);
    let mut registered: Vec<&str> = reply
        .registration
        .iter()
        .map(|r| r.patient_id.as_str())
        .collect();
    registered.sort_unstable();
    let mut expected = vec![reply.online_user_id.as_str(), ben_id.as_str()];
    expected.sort_unstable();
    assert_eq!(registered, expected);
    assert!(
        reply
            .registration
            .iter()
            .all(|r| r.unit_name == "Riverside Surgery")
    );
    let mut people: Vec<&str> = reply.people.iter().map(|p| p.patient_id.as_str()).collect();
    people.sort_unstable();
    assert_eq!(people, expected);

    // A user without proxies gets exactly one Person and one PatientAccess.
    let carl = t.login("Jones").await.unwrap();
    assert_eq!(carl.reply().people.len(), 1);
    assert_eq!(carl.reply().registration.len(), 1);
    assert_eq!(carl.reply().people[0].patient_id, carl.online_user_id());
    carl.logoff().await.unwrap();
    session.logoff().await.unwrap();
}

#[tokio::test]
async fn authenticate_failures_are_problem_logging_on() {
    let t = TestServer::start().await.unwrap();
    let (ada, passphrase) = linked(&t, "Example").await;
    let client = t.client();
    let ods = ada.organisation_code.clone();
    let mut secrets = identifying(&ada);
    secrets.push(passphrase.expose_secret().to_owned());

    // Wrong passphrase.
    let wrong = SecretString::from(format!("{}x", passphrase.expose_secret()));
    expect_pfs(
        client.authenticate(&ods, &ada.account_id, &wrong).await,
        "9",
        &refs(&secrets),
    );
    // The linkage key is not the passphrase.
    let key = SecretString::from(ada.linkage_key.clone());
    expect_pfs(
        client.authenticate(&ods, &ada.account_id, &key).await,
        "9",
        &refs(&secrets),
    );
    // Unknown account id.
    expect_pfs(
        client.authenticate(&ods, "123456789", &passphrase).await,
        "9",
        &refs(&secrets),
    );

    // unitId of another practice (one that exists, and one that does not).
    let (status, _) = t
        .admin(
            "POST",
            "/api/practices",
            Some(json!({"ods": "Y99002", "name": "Hillside Surgery", "address": "3 Hill Road, Leeds"})),
        )
        .await
        .unwrap();
    assert_eq!(status, 201);
    expect_pfs(
        client
            .authenticate("Y99002", &ada.account_id, &passphrase)
            .await,
        "9",
        &refs(&secrets),
    );
    expect_pfs(
        client
            .authenticate("Z00000", &ada.account_id, &passphrase)
            .await,
        "9",
        &refs(&secrets),
    );

    // An account linked only by another provider: the demo provider cannot log it on, not
    // even with the other provider's passphrase.
    let carl = t.account("Jones").clone();
    let other = t.new_provider("Other app", true).await.unwrap();
    let other_client = t.client_for(&other);
    let carl_passphrase = t.link(&other_client, &carl).await.unwrap();
    let mut carl_secrets = identifying(&carl);
    carl_secrets.push(carl_passphrase.expose_secret().to_owned());
    expect_pfs(
        client
            .authenticate(&carl.organisation_code, &carl.account_id, &carl_passphrase)
            .await,
        "9",
        &refs(&carl_secrets),
    );
    // ...while the provider that linked it can.
    let s = other_client
        .authenticate(&carl.organisation_code, &carl.account_id, &carl_passphrase)
        .await
        .unwrap();
    s.logoff().await.unwrap();

    // Every failure is the same code with the same patient-facing text, so a caller cannot
    // tell which part was wrong.
    let a = expect_pfs(
        client.authenticate(&ods, "123456789", &passphrase).await,
        "9",
        &refs(&secrets),
    );
    let b = expect_pfs(
        client.authenticate(&ods, &ada.account_id, &wrong).await,
        "9",
        &refs(&secrets),
    );
    assert_eq!(texts(&a), texts(&b));

    // The right details still work after all of that.
    client
        .authenticate(&ods, &ada.account_id, &passphrase)
        .await
        .unwrap()
        .logoff()
        .await
        .unwrap();
}

/// The code and both messages of a PFS error.
pub(crate) fn texts(e: &Error) -> (String, String, String) {
    match e {
        Error::Pfs {
            code,
            user_friendly_message,
            technical_message,
            ..
        } => (
            code.clone(),
            user_friendly_message.clone(),
            technical_message.clone(),
        ),
        other => panic!("not a PFS error: {other}"),
    }
}

#[tokio::test]
async fn authenticate_with_a_provider_id_not_of_the_certificate_is_9007() {
    let t = TestServer::start().await.unwrap();
    let (ada, passphrase) = linked(&t, "Example").await;
    let other = t.new_provider("Other app", true).await.unwrap();
    let client = t.client();
    let mine = t.demo.provider_id.clone();
    let mut secrets = identifying(&ada);
    secrets.push(passphrase.expose_secret().to_owned());
    let ods = &ada.organisation_code;
    let pass = passphrase.expose_secret();

    for (attr, app) in [
        (other.provider_id.as_str(), mine.as_str()),
        (mine.as_str(), other.provider_id.as_str()),
        ("0000000000000000", "0000000000000000"),
    ] {
        let uuid = new_uuid();
        let r = client
            .raw(
                "Authenticate",
                None,
                authenticate_xml(&uuid, ods, &ada.account_id, pass, attr, app),
            )
            .await
            .unwrap();
        let el = error_body(&r, "9007", &refs(&secrets));
        assert_eq!(
            el.get("uuid"),
            Some(uuid.as_str()),
            "the Error echoes the request uuid"
        );
    }
    // With both ids right the same body logs on.
    let (r, _) = raw_login(&t, &ada, &passphrase).await;
    ok_body(&r, "AuthenticateReply");
}

#[tokio::test]
async fn ended_account_cannot_log_on_and_its_sessions_end() {
    let t = TestServer::start().await.unwrap();
    let (ada, passphrase) = linked(&t, "Example").await;
    let client = t.client();
    let session = client
        .authenticate(&ada.organisation_code, &ada.account_id, &passphrase)
        .await
        .unwrap();
    session.keep_alive().await.unwrap();

    let (status, _) = t
        .admin(
            "POST",
            &format!("/api/accounts/{}/end", ada.account_id),
            None,
        )
        .await
        .unwrap();
    assert_eq!(status, 204);

    let mut secrets = identifying(&ada);
    secrets.push(passphrase.expose_secret().to_owned());
    secrets.push(session.suid().expose_secret().to_owned());
    expect_pfs(
        client
            .authenticate(&ada.organisation_code, &ada.account_id, &passphrase)
            .await,
        "9",
        &refs(&secrets),
    );
    expect_pfs(session.keep_alive().await, "3", &refs(&secrets));
    expect_pfs(session.list_service_accesses().await, "3", &refs(&secrets));
}

#[tokio::test]
async fn every_authenticate_makes_a_new_independent_session() {
    let t = TestServer::start().await.unwrap();
    let (ada, passphrase) = linked(&t, "Example").await;
    let (_, suid1) = raw_login(&t, &ada, &passphrase).await;
    let (_, suid2) = raw_login(&t, &ada, &passphrase).await;
    assert_ne!(suid1, suid2, "each Authenticate opens a new session");
    let client = t.client();
    let first = client
        .authenticate(&ada.organisation_code, &ada.account_id, &passphrase)
        .await
        .unwrap();
    let second = client
        .authenticate(&ada.organisation_code, &ada.account_id, &passphrase)
        .await
        .unwrap();
    assert_ne!(first.suid().expose_secret(), second.suid().expose_secret());
    assert_ne!(first.suid().expose_secret(), suid1);

    // Selecting the child in one session does not change the other's selection.
    let ben_id = t.patient_id(&ada.proxy_for[0]).await.unwrap();
    first.select_patient(&ben_id).await.unwrap();
    let mine = second.list_service_accesses().await.unwrap();
    assert_eq!(
        mine.scope.map(|s| s.patient_id),
        Some(second.online_user_id().to_owned())
    );

    // Logging off one leaves the other working.
    let secrets = [
        first.suid().expose_secret().to_owned(),
        passphrase.expose_secret().to_owned(),
    ];
    let first_suid = first.suid().expose_secret().to_owned();
    first.logoff().await.unwrap();
    second.keep_alive().await.unwrap();
    second.list_service_accesses().await.unwrap();
    let r = client
        .raw("Logoff", Some(&first_suid), logoff_xml(&new_uuid()))
        .await
        .unwrap();
    error_body(&r, "3", &refs(&secrets));
    // The raw sessions are untouched too.
    for suid in [&suid1, &suid2] {
        let r = client
            .raw("Logoff", Some(suid), logoff_xml(&new_uuid()))
            .await
            .unwrap();
        ok_body(&r, "LogoffReply");
    }
    second.logoff().await.unwrap();
}

#[tokio::test]
async fn logged_off_session_is_refused_and_logoff_twice_is_3() {
    let t = TestServer::start().await.unwrap();
    let (ada, passphrase) = linked(&t, "Example").await;
    let (_, suid) = raw_login(&t, &ada, &passphrase).await;
    let client = t.client();
    let online_user_id = t.patient_id(&ada.nhs_number).await.unwrap();
    let mut secrets = identifying(&ada);
    secrets.push(suid.clone());
    secrets.push(passphrase.expose_secret().to_owned());

    let r = client
        .raw("Logoff", Some(&suid), logoff_xml(&new_uuid()))
        .await
        .unwrap();
    ok_body(&r, "LogoffReply");
    let uuid = new_uuid();
    let r = client
        .raw("Logoff", Some(&suid), logoff_xml(&uuid))
        .await
        .unwrap();
    let el = error_body(&r, "3", &refs(&secrets));
    assert_eq!(el.get("uuid"), Some(uuid.as_str()));
    for root in ["PatientSelected", "ListServiceAccesses"] {
        let xml = scoped_xml(
            root,
            &new_uuid(),
            &ada.organisation_code,
            &online_user_id,
            &online_user_id,
        );
        let r = client.raw(root, Some(&suid), xml).await.unwrap();
        error_body(&r, "3", &refs(&secrets));
    }

    // The same through the SDK.
    let session = client
        .authenticate(&ada.organisation_code, &ada.account_id, &passphrase)
        .await
        .unwrap();
    let suid = session.suid().expose_secret().to_owned();
    session.logoff().await.unwrap();
    let r = client
        .raw("Logoff", Some(&suid), logoff_xml(&new_uuid()))
        .await
        .unwrap();
    error_body(&r, "3", &[&suid]);
}

#[tokio::test]
async fn idle_session_expires_after_20_minutes() {
    let t = TestServer::start().await.unwrap();
    let session = t.login("Example").await.unwrap();
    let suid = session.suid().expose_secret().to_owned();
    t.clock
        .advance(Duration::minutes(20) + Duration::seconds(1));
    expect_pfs(session.keep_alive().await, "3", &[&suid]);
    expect_pfs(session.list_service_accesses().await, "3", &[&suid]);
    let r = t
        .client()
        .raw("Logoff", Some(&suid), logoff_xml(&new_uuid()))
        .await
        .unwrap();
    error_body(&r, "3", &[&suid]);
    // Logging on again gives a working session.
    let again = t.login("Example").await.unwrap();
    again.keep_alive().await.unwrap();
    again.logoff().await.unwrap();
}

#[tokio::test]
async fn just_under_the_idle_timeout_the_session_lives() {
    let t = TestServer::start().await.unwrap();
    let session = t.login("Example").await.unwrap();
    t.clock
        .advance(Duration::minutes(19) + Duration::seconds(59));
    session.list_service_accesses().await.unwrap();
    session.logoff().await.unwrap();
}

#[tokio::test]
async fn keep_alive_refreshes_the_idle_timer() {
    let t = TestServer::start().await.unwrap();
    let session = t.login("Example").await.unwrap();
    let suid = session.suid().expose_secret().to_owned();
    t.clock.advance(Duration::minutes(15));
    let reply = session.keep_alive().await.unwrap();
    assert_eq!(reply.person.patient_id, session.online_user_id());
    t.clock.advance(Duration::minutes(15));
    // 30 minutes after logon, 15 after the keep-alive: still alive.
    session.list_service_accesses().await.unwrap();
    // ListServiceAccesses counts as activity too.
    t.clock.advance(Duration::minutes(15));
    session.keep_alive().await.unwrap();
    // And without activity it expires after 20 minutes.
    t.clock
        .advance(Duration::minutes(20) + Duration::seconds(1));
    expect_pfs(session.keep_alive().await, "3", &[&suid]);
}

#[tokio::test]
async fn session_ends_after_12_hours_even_with_keep_alives() {
    let t = TestServer::start().await.unwrap();
    let session = t.login("Example").await.unwrap();
    let suid = session.suid().expose_secret().to_owned();
    // Keep-alive every 10 minutes up to 11 h 50 min.
    for _ in 0..71 {
        t.clock.advance(Duration::minutes(10));
        session.keep_alive().await.unwrap();
    }
    session.list_service_accesses().await.unwrap();
    t.clock.advance(Duration::minutes(10));
    expect_pfs(session.keep_alive().await, "3", &[&suid]);
    expect_pfs(session.list_service_accesses().await, "3", &[&suid]);
    // A new logon works.
    let again = t.login("Example").await.unwrap();
    again.keep_alive().await.unwrap();
    again.logoff().await.unwrap();
}

#[tokio::test]
async fn another_providers_suid_is_refused() {
    let t = TestServer::start().await.unwrap();
    let ada = t.account("Example").clone();
    let session = t.login("Example").await.unwrap();
    let suid = session.suid().expose_secret().to_owned();
    let user = session.online_user_id().to_owned();
    let other = t.client_for(&t.new_provider("Other app", true).await.unwrap());
    let mut secrets = identifying(&ada);
    secrets.push(suid.clone());

    for root in ["PatientSelected", "ListServiceAccesses"] {
        let xml = scoped_xml(root, &new_uuid(), &ada.organisation_code, &user, &user);
        let r = other.raw(root, Some(&suid), xml).await.unwrap();
        error_body(&r, "3", &refs(&secrets));
    }
    let r = other
        .raw("Logoff", Some(&suid), logoff_xml(&new_uuid()))
        .await
        .unwrap();
    error_body(&r, "3", &refs(&secrets));
    // The other provider could not end it: the owner's session still works.
    session.keep_alive().await.unwrap();
    session.logoff().await.unwrap();
}

#[tokio::test]
async fn made_up_empty_and_missing_suids_are_refused() {
    let t = TestServer::start().await.unwrap();
    let ada = t.account("Example").clone();
    let client = t.client();
    let session = t.login("Example").await.unwrap();
    let user = session.online_user_id().to_owned();
    let real = session.suid().expose_secret().to_owned();
    let made_up = "bm90LWEtcmVhbC1zZXNzaW9uLWlkLWF0LWFsbA";
    for suid in [Some(made_up), Some(""), Some("   "), None] {
        for root in ["PatientSelected", "ListServiceAccesses"] {
            let xml = scoped_xml(root, &new_uuid(), &ada.organisation_code, &user, &user);
            let r = client.raw(root, suid, xml).await.unwrap();
            error_body(&r, "3", &[made_up, &real]);
        }
        let uuid = new_uuid();
        let r = client.raw("Logoff", suid, logoff_xml(&uuid)).await.unwrap();
        let el = error_body(&r, "3", &[made_up, &real]);
        assert_eq!(el.get("uuid"), Some(uuid.as_str()));
    }
    // None of that touched the real session.
    session.keep_alive().await.unwrap();
    session.logoff().await.unwrap();
}

#[tokio::test]
async fn patient_selected_proxy_rules() {
    let t = TestServer::start().await.unwrap();
    let (ada, passphrase) = linked(&t, "Example").await;
    let ben_nhs = ada.proxy_for[0].clone();
    let ben_id = t.patient_id(&ben_nhs).await.unwrap();
    let carl = t.account("Jones").clone();
    let carl_id = t.patient_id(&carl.nhs_number).await.unwrap();
    let client = t.client();
    let session = client
        .authenticate(&ada.organisation_code, &ada.account_id, &passphrase)
        .await
        .unwrap();
    let ada_id = session.online_user_id().to_owned();
    let suid = session.suid().expose_secret().to_owned();
    let mut secrets = identifying(&ada);
    secrets.extend(identifying(&carl));
    secrets.push(ben_nhs.clone());
    secrets.push(suid.clone());
    secrets.push(passphrase.expose_secret().to_owned());

    // The parent may act for the child.
    let reply = session.select_patient(&ben_id).await.unwrap();
    assert_eq!(reply.person.patient_id, ben_id);
    assert_eq!(reply.person.nhs_number.as_deref(), Some(ben_nhs.as_str()));
    assert_eq!(reply.person.name, "Master Ben Example");
    assert_eq!(
        reply.person.date_of_birth,
        chrono::NaiveDate::from_ymd_opt(2015, 7, 1).unwrap()
    );
    let services = session.list_service_accesses().await.unwrap();
    assert_eq!(services.scope.map(|s| s.patient_id), Some(ben_id.clone()));
    // ...and back to herself.
    assert_eq!(
        session
            .select_patient(&ada_id)
            .await
            .unwrap()
            .person
            .patient_id,
        ada_id
    );

    // Another demo patient, not granted: 6; the selection stays.
    expect_pfs(session.select_patient(&carl_id).await, "6", &refs(&secrets));
    expect_pfs(
        session.select_patient("1234567890").await,
        "6",
        &refs(&secrets),
    );
    assert_eq!(session.selected_patient_id(), ada_id);
    session.list_service_accesses().await.unwrap();

    // A wrong onlineUserId: 9009.
    let r = client
        .raw(
            "PatientSelected",
            Some(&suid),
            scoped_xml(
                "PatientSelected",
                &new_uuid(),
                &ada.organisation_code,
                &ada_id,
                &carl_id,
            ),
        )
        .await
        .unwrap();
    error_body(&r, "9009", &refs(&secrets));

    // The practice withdraws the proxy grant: selecting the child is refused, and a new
    // logon no longer lists the child.
    let (status, _) = t
        .admin(
            "DELETE",
            &format!("/api/patients/{ada_id}/proxies/{ben_id}"),
            None,
        )
        .await
        .unwrap();
    assert_eq!(status, 204);
    expect_pfs(session.select_patient(&ben_id).await, "6", &refs(&secrets));
    session.keep_alive().await.unwrap();
    let fresh = client
        .authenticate(&ada.organisation_code, &ada.account_id, &passphrase)
        .await
        .unwrap();
    assert!(fresh.reply().people.iter().all(|p| p.patient_id != ben_id));
    assert!(
        fresh
            .reply()
            .registration
            .iter()
            .all(|p| p.patient_id != ben_id)
    );
    fresh.logoff().await.unwrap();
    session.logoff().await.unwrap();
}

#[tokio::test]
async fn revoked_proxy_is_refused_even_when_already_selected() {
    let t = TestServer::start().await.unwrap();
    let ada = t.account("Example").clone();
    let ben_id = t.patient_id(&ada.proxy_for[0]).await.unwrap();
    let session = t.login("Example").await.unwrap();
    let ada_id = session.online_user_id().to_owned();
    session.select_patient(&ben_id).await.unwrap();
    let (status, _) = t
        .admin(
            "DELETE",
            &format!("/api/patients/{ada_id}/proxies/{ben_id}"),
            None,
        )
        .await
        .unwrap();
    assert_eq!(status, 204);
    // The child is still selected in this session; acting for them must stop at once.
    expect_pfs(session.list_service_accesses().await, "6", &[]);
    expect_pfs(session.keep_alive().await, "6", &[]);
}

fn messaging(reply: &ListServiceAccessesReply) -> &pfs_wire::ServiceAccess {
    reply
        .services
        .iter()
        .find(|s| s.description == "Messaging")
        .expect("Messaging is listed")
}

#[tokio::test]
async fn list_service_accesses_follows_practice_and_patient_switches() {
    let t = TestServer::start().await.unwrap();
    let session = t.login("Example").await.unwrap();
    let ada_id = session.online_user_id().to_owned();

    let all = session.list_service_accesses().await.unwrap();
    assert_eq!(all.services.len(), 10, "{all:?}");
    assert!(all.services.iter().all(|s| s.status == "A"), "{all:?}");
    let m = messaging(&all);
    assert_eq!(m.service_identifier, "512");
    assert_eq!(
        all.scope.as_ref().map(|s| s.online_user_id.as_str()),
        Some(ada_id.as_str())
    );
    for d in [
        "Appointments",
        "Repeat prescriptions",
        "Medical record",
        "Test results",
    ] {
        assert!(
            all.services.iter().any(|s| s.description == d),
            "{d} missing"
        );
    }

    // The practice switches messaging off: no longer "A"; the rest stay on.
    let (status, _) = t
        .admin(
            "PUT",
            "/api/practices/Y99001/services/messaging",
            Some(json!({"enabled": false})),
        )
        .await
        .unwrap();
    assert_eq!(status, 204);
    let off = session.list_service_accesses().await.unwrap();
    assert_ne!(messaging(&off).status, "A");
    assert!(
        off.services
            .iter()
            .filter(|s| s.description != "Messaging")
            .all(|s| s.status == "A")
    );

    // A patient-level switch on wins over the practice's off.
    let (status, _) = t
        .admin(
            "PUT",
            &format!("/api/patients/{ada_id}/services/messaging"),
            Some(json!({"enabled": true})),
        )
        .await
        .unwrap();
    assert_eq!(status, 204);
    assert_eq!(
        messaging(&session.list_service_accesses().await.unwrap()).status,
        "A"
    );

    // ...for that patient only.
    let carl = t.login("Jones").await.unwrap();
    assert_ne!(
        messaging(&carl.list_service_accesses().await.unwrap()).status,
        "A"
    );

    // Clearing the practice switch (null) turns it back on for everyone.
    let (status, _) = t
        .admin(
            "PUT",
            "/api/practices/Y99001/services/messaging",
            Some(json!({"enabled": null})),
        )
        .await
        .unwrap();
    assert_eq!(status, 204);
    assert_eq!(
        messaging(&carl.list_service_accesses().await.unwrap()).status,
        "A"
    );
    carl.logoff().await.unwrap();
    session.logoff().await.unwrap();
}

#[tokio::test]
async fn list_service_accesses_for_a_patient_not_selected_is_9009() {
    let t = TestServer::start().await.unwrap();
    let ada = t.account("Example").clone();
    let ben_id = t.patient_id(&ada.proxy_for[0]).await.unwrap();
    let carl = t.account("Jones").clone();
    let carl_id = t.patient_id(&carl.nhs_number).await.unwrap();
    let session = t.login("Example").await.unwrap();
    let ada_id = session.online_user_id().to_owned();
    let mut secrets = identifying(&ada);
    secrets.extend(identifying(&carl));
    secrets.push(session.suid().expose_secret().to_owned());

    let call = |patient_id: &str, online_user_id: &str| {
        list_for(&session, patient_id.to_owned(), online_user_id.to_owned())
    };
    // The proxy child is not selected yet; another patient never can be.
    expect_pfs(call(&ben_id, &ada_id).await, "9009", &refs(&secrets));
    expect_pfs(call(&carl_id, &ada_id).await, "9009", &refs(&secrets));
    // onlineUserId not the session's.
    expect_pfs(call(&ada_id, &carl_id).await, "9009", &refs(&secrets));
    // The selected patient works.
    assert_eq!(call(&ada_id, &ada_id).await.unwrap().services.len(), 10);
    session.logoff().await.unwrap();
}

/// `ListServiceAccesses` inside `session` with a hand-picked scope.
async fn list_for(
    session: &Session,
    patient_id: String,
    online_user_id: String,
) -> Result<ListServiceAccessesReply, Error> {
    let req = ListServiceAccesses {
        header: session.header(),
        scope: PatientScope {
            patient_id,
            online_user_id,
        },
    };
    session.call(&req).await
}

fn check_version_xml(
    uuid: &str,
    api_version: &str,
    provider_id: &str,
    declaration: bool,
) -> String {
    format!(
        r#"{}<CheckVersion uuid="{uuid}" {XMLNS} apiVersion="{api_version}"><Application providerId="{provider_id}" name="ExampleApp" deviceType="ExampleApp" version="2.3"/></CheckVersion>"#,
        if declaration { DECLARATION } else { "" }
    )
}

#[tokio::test]
async fn check_version_reports_version_1() {
    let t = TestServer::start().await.unwrap();
    let client = t.client();
    let v = client.check_version().await.unwrap();
    assert_eq!(v.current_version, "1");
    assert_eq!(v.minimum_version, "1");
    assert!(
        v.supported
            .iter()
            .any(|s| s.version == "1" && s.status == "current"),
        "{v:?}"
    );

    for declaration in [true, false] {
        let uuid = new_uuid();
        let r = client
            .raw(
                "CheckVersion",
                None,
                check_version_xml(&uuid, "1", &t.demo.provider_id, declaration),
            )
            .await
            .unwrap();
        let root = ok_body(&r, "CheckVersionReply");
        assert!(r.suid.is_none(), "CheckVersion opens no session");
        assert_eq!(root.get("uuid"), Some(uuid.as_str()));
        assert_eq!(root.get("currentVersion"), Some("1"));
        let supported: Vec<&Element> = root.all("SupportedVersion").collect();
        assert!(
            supported.iter().any(|s| s.get("version") == Some("1")),
            "{}",
            r.body
        );
    }

    // Application/@providerId of another provider: 9007.
    let other = t.new_provider("Other app", true).await.unwrap();
    let uuid = new_uuid();
    let r = client
        .raw(
            "CheckVersion",
            None,
            check_version_xml(&uuid, "1", &other.provider_id, true),
        )
        .await
        .unwrap();
    let el = error_body(&r, "9007", &[]);
    assert_eq!(el.get("uuid"), Some(uuid.as_str()));
    let req = CheckVersion {
        header: Header::new(None),
        application: pfs_wire::Application {
            name: "x".into(),
            version: "1".into(),
            provider_id: other.provider_id.clone(),
            device_type: "x".into(),
        },
    };
    expect_pfs(client.call::<_, CheckVersionReply>(&req).await, "9007", &[]);
    // The other provider asking with its own id is fine.
    t.client_for(&other).check_version().await.unwrap();
}

/// A message type, the suid to send it with, and its body for a given uuid.
type Case<'a> = (&'a str, Option<&'a str>, Box<dyn Fn(&str) -> String + 'a>);

#[tokio::test]
async fn unsupported_api_version_is_9006_on_any_message() {
    let t = TestServer::start().await.unwrap();
    let (ada, passphrase) = linked(&t, "Example").await;
    let client = t.client();
    let (_, suid) = raw_login(&t, &ada, &passphrase).await;
    let user = t.patient_id(&ada.nhs_number).await.unwrap();
    let p = t.demo.provider_id.clone();
    let ods = ada.organisation_code.clone();
    let mut secrets = identifying(&ada);
    secrets.push(suid.clone());
    secrets.push(passphrase.expose_secret().to_owned());
    let v2 = |xml: String| xml.replace(r#"apiVersion="1""#, r#"apiVersion="2""#);

    let link = format!(
        r#"<LinkAccount apiVersion="1" uuid="{{uuid}}" organisationCode="{ods}" lastName="{}" dateOfBirth="1980-02-14T00:00:00" accountId="{}" passphrase="{}"><Application name="a" version="1" providerId="{p}" deviceType="a"/></LinkAccount>"#,
        ada.last_name, ada.account_id, ada.linkage_key
    );
    let cases: Vec<Case<'_>> = vec![
        (
            "CheckVersion",
            None,
            Box::new(|u: &str| check_version_xml(u, "1", &p, true)),
        ),
        (
            "Authenticate",
            None,
            Box::new(|u: &str| {
                authenticate_xml(u, &ods, &ada.account_id, passphrase.expose_secret(), &p, &p)
            }),
        ),
        (
            "LinkAccount",
            None,
            Box::new(|u: &str| link.replace("{uuid}", u)),
        ),
        (
            "PatientSelected",
            Some(&suid),
            Box::new(|u: &str| scoped_xml("PatientSelected", u, &ods, &user, &user)),
        ),
        (
            "ListServiceAccesses",
            Some(&suid),
            Box::new(|u: &str| scoped_xml("ListServiceAccesses", u, &ods, &user, &user)),
        ),
        ("Logoff", Some(&suid), Box::new(|u: &str| logoff_xml(u))),
    ];
    for (ty, s, body) in &cases {
        let uuid = new_uuid();
        let r = client.raw(ty, *s, v2(body(&uuid))).await.unwrap();
        let el = error_body(&r, "9006", &refs(&secrets));
        assert_eq!(el.get("uuid"), Some(uuid.as_str()), "{ty}");
        let technical = el.get("technicalMessage").unwrap_or("");
        assert!(
            technical.contains("supported versions") && technical.contains('1'),
            "{ty}: {technical}"
        );
    }
    // Nothing happened: the session is alive (the v2 Logoff did not end it) and version 1
    // bodies still work.
    for (ty, s, body) in &cases {
        let r = client.raw(ty, *s, body(&new_uuid())).await.unwrap();
        assert!(!r.is_error(), "{ty}: {}", r.body);
    }
}

#[tokio::test]
async fn selection_and_expiry_errors_reveal_no_secrets() {
    // One last sweep over the session errors: none of them names the suid, passphrase,
    // linkage key, NHS number or last name.
    let t = TestServer::start().await.unwrap();
    let (ada, passphrase) = linked(&t, "Example").await;
    let client = t.client();
    let session: Session = client
        .authenticate(&ada.organisation_code, &ada.account_id, &passphrase)
        .await
        .unwrap();
    let mut secrets = identifying(&ada);
    secrets.extend(ada.proxy_for.iter().cloned());
    secrets.push(passphrase.expose_secret().to_owned());
    secrets.push(session.suid().expose_secret().to_owned());
    let e = expect_pfs(
        session.select_patient("0000000001").await,
        "6",
        &refs(&secrets),
    );
    assert!(e.to_string().contains("PFS error 6"));
    t.clock.advance(Duration::hours(1));
    expect_pfs(session.keep_alive().await, "3", &refs(&secrets));
}
