//! First start, restart and configuration: what a newcomer and an operator see.

use std::collections::BTreeSet;

use chrono::Duration;
use pfs_client::{Error, LinkRequest};
use pfs_testkit::TestServer;
use secrecy::SecretString;
use serde_json::Value;

fn code(e: &Error) -> &str {
    e.code().unwrap_or("(not a PFS error)")
}

#[tokio::test]
async fn first_start_writes_exactly_the_demo_files() {
    let t = TestServer::start().await.unwrap();
    let demo = t.server.data_dir.path("demo");
    let names: BTreeSet<String> = std::fs::read_dir(&demo)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    let want: BTreeSet<String> = [
        "ca.pem",
        "client.pem",
        "client-key.pem",
        "provider-id",
        "accounts.json",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(names, want);

    let provider_id = std::fs::read_to_string(demo.join("provider-id")).unwrap();
    let provider_id = provider_id.trim();
    assert_eq!(provider_id.len(), 16);
    assert!(provider_id.chars().all(|c| c.is_ascii_hexdigit()));

    let accounts: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(demo.join("accounts.json")).unwrap())
            .unwrap();
    assert!(accounts.len() >= 7, "{} accounts", accounts.len());
    for a in &accounts {
        let keys: BTreeSet<&str> = a.as_object().unwrap().keys().map(String::as_str).collect();
        let want: BTreeSet<&str> = [
            "accountId",
            "linkageKey",
            "lastName",
            "dateOfBirth",
            "organisationCode",
            "nhsNumber",
            "proxyFor",
        ]
        .into_iter()
        .collect();
        assert_eq!(keys, want);
        let dob = a["dateOfBirth"].as_str().unwrap();
        assert!(
            chrono::NaiveDate::parse_from_str(dob, "%Y-%m-%d").is_ok(),
            "{dob}"
        );
        assert!(pfs_core::nhs::is_valid(a["nhsNumber"].as_str().unwrap()));
        assert!(a["proxyFor"].is_array());
    }
    // At least eight synthetic patients, one of them a parent acting for a child.
    let patients = t.server.pfs.list_patients(None).await.unwrap();
    assert!(patients.len() >= 8, "{} patients", patients.len());
    let parent = accounts
        .iter()
        .find(|a| !a["proxyFor"].as_array().unwrap().is_empty())
        .expect("a parent with proxy access");
    let child_nhs = parent["proxyFor"][0].as_str().unwrap();
    let child = patients.iter().find(|p| p.nhs_number == child_nhs).unwrap();
    let today = pfs_core::uktime::uk_date(t.clock_now());
    assert!(pfs_core::uktime::age_on(child.date_of_birth, today) < 16);

    // Every demo account links with what accounts.json says.
    let client = t.client();
    for a in &t.accounts {
        t.link(&client, a).await.unwrap();
    }
}

#[tokio::test]
async fn restart_keeps_everything() {
    let t = TestServer::start().await.unwrap();
    let client = t.client();
    let a = t.account("Jones").clone();
    let passphrase = t.link(&client, &a).await.unwrap();
    let accounts_before =
        std::fs::read_to_string(t.server.data_dir.path("demo/accounts.json")).unwrap();

    let t = t.restart().await.unwrap();
    assert!(t.server.seeded.is_none(), "a restart must not seed again");
    assert_eq!(
        std::fs::read_to_string(t.server.data_dir.path("demo/accounts.json")).unwrap(),
        accounts_before
    );
    // The same credentials, the same passphrase, the same CA.
    let session = t
        .client()
        .authenticate(&a.organisation_code, &a.account_id, &passphrase)
        .await
        .unwrap();
    session.keep_alive().await.unwrap();
    session.logoff().await.unwrap();
}

#[tokio::test]
async fn session_and_linkage_timeouts_are_configurable() {
    let t = TestServer::start_with(|o| {
        o.core.idle_timeout = Duration::minutes(2);
        o.core.session_lifetime = Duration::minutes(5);
        o.core.linkage_key_ttl = Duration::days(1);
    })
    .await
    .unwrap();
    let session = t.login("Jones").await.unwrap();
    t.clock.advance(Duration::seconds(110));
    session.keep_alive().await.unwrap();
    t.clock.advance(Duration::seconds(110));
    session.keep_alive().await.unwrap();
    t.clock.advance(Duration::seconds(121));
    assert_eq!(code(&session.keep_alive().await.unwrap_err()), "3");

    let session = t.login("Patel").await.unwrap();
    for _ in 0..4 {
        t.clock.advance(Duration::seconds(70));
        session.keep_alive().await.unwrap();
    }
    t.clock.advance(Duration::seconds(30));
    assert_eq!(
        code(&session.keep_alive().await.unwrap_err()),
        "3",
        "lifetime of 5 minutes"
    );

    // A key issued now stops working after one day.
    let a = t.account("Hughes").clone();
    t.clock.advance(Duration::days(1) + Duration::minutes(1));
    let err = t
        .client()
        .link_account(LinkRequest::register(
            &a.organisation_code,
            &a.last_name,
            a.date_of_birth,
            &a.account_id,
            SecretString::from(a.linkage_key.clone()),
        ))
        .await
        .unwrap_err();
    assert_eq!(code(&err), "509");
}

/// Without the demo asked for, a new database gets no demo provider, no demo credentials and no
/// patients, and the server says it is empty.
#[tokio::test]
async fn no_demo_unless_asked_for() {
    let dir = tempfile::tempdir().unwrap();
    let server = pfs_server::start(pfs_server::ServeOptions {
        data_dir: dir.path().join("data"),
        listen: "127.0.0.1:0".parse().unwrap(),
        admin_listen: "127.0.0.1:0".parse().unwrap(),
        ..pfs_server::ServeOptions::default()
    })
    .await
    .unwrap();
    assert!(server.seeded.is_none());
    assert!(server.empty);
    assert!(!server.data_dir.path("demo").exists());
    assert!(
        server
            .pfs
            .store()
            .list_providers()
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        server
            .pfs
            .store()
            .list_patients(None)
            .await
            .unwrap()
            .is_empty()
    );
    server.shutdown().await;
}

/// A data directory, or a key in it, that other users may read stops the server at start, with
/// the command that fixes it; after the fix it starts.
#[tokio::test]
async fn data_directory_open_to_others_is_refused_at_every_start() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("data");
    let options = pfs_server::ServeOptions {
        data_dir: root.clone(),
        listen: "127.0.0.1:0".parse().unwrap(),
        admin_listen: "127.0.0.1:0".parse().unwrap(),
        ..pfs_server::ServeOptions::default()
    };
    let start = || pfs_server::start(options.clone());
    start().await.expect("first start").shutdown().await;

    std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o755)).unwrap();
    let e = format!("{:#}", start().await.err().expect("refused"));
    assert!(e.contains("chmod 700"), "{e}");
    std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o700)).unwrap();

    let pepper = root.join("pepper");
    std::fs::set_permissions(&pepper, std::fs::Permissions::from_mode(0o644)).unwrap();
    let e = format!("{:#}", start().await.err().expect("refused"));
    assert!(e.contains("chmod 600") && e.contains("pepper"), "{e}");
    std::fs::set_permissions(&pepper, std::fs::Permissions::from_mode(0o600)).unwrap();

    start().await.expect("starts once fixed").shutdown().await;
}
