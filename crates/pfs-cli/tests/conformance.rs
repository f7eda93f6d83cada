//! `pfs conformance` against a real `pfs serve --demo`: every scenario passes, on both stores.

mod common;

use std::process::Command;

const PFS: &str = env!("CARGO_BIN_EXE_pfs");

fn conformance(dir: &std::path::Path, args: &[&str]) -> (bool, String) {
    let out = Command::new(PFS)
        .arg("conformance")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("pfs conformance runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

/// Every scenario passes, none is skipped (the admin API is found in the data directory), and
/// the JUnit file says the same.
fn passes_in_full(extra: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let (_server, endpoint) = common::serve_demo(dir.path(), extra);
    let junit = dir.path().join("junit.xml");
    let (ok, out) = conformance(
        dir.path(),
        &["--endpoint", &endpoint, "--junit", junit.to_str().unwrap()],
    );
    assert!(ok, "{out}");
    assert!(!out.contains("FAIL ") && !out.contains("SKIP "), "{out}");
    let (_, listed) = conformance(dir.path(), &["--list"]);
    let scenarios = listed.lines().count();
    assert!(scenarios >= 19, "{listed}");
    assert!(
        out.contains(&format!("{scenarios} passed, 0 failed, 0 skipped")),
        "{out}"
    );
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(
        xml.contains(&format!(r#"tests="{scenarios}" failures="0" skipped="0""#)),
        "{xml}"
    );
}

#[test]
fn conformance_passes_in_full_against_openpfs() {
    passes_in_full(&[]);
}

#[test]
#[ignore = "needs PostgreSQL: set PFS_TEST_POSTGRES_URL and run with --include-ignored"]
fn conformance_passes_in_full_against_openpfs_on_postgres() {
    use pfs_store::pg_testing::{TestSchema, required_test_url};
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let schema = runtime.block_on(TestSchema::create(&required_test_url()));
    passes_in_full(&["--database", schema.url()]);
    drop(schema);
}

/// Without the admin API the scenarios that need it are skipped with the reason; `--only`
/// runs a subset; a scenario that fails makes the exit status non-zero and shows the request
/// and the reply.
#[test]
fn skips_and_failures_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, endpoint) = common::serve_demo(dir.path(), &[]);
    let elsewhere = tempfile::tempdir().unwrap();
    let credentials = dir.path().join("pfs-data/demo");
    let (ok, out) = conformance(
        elsewhere.path(),
        &[
            "--endpoint",
            &endpoint,
            "--credentials",
            credentials.to_str().unwrap(),
            "--only",
            "expiry",
            "--only",
            "check-version",
        ],
    );
    assert!(ok, "{out}");
    assert!(out.contains("PASS session/check-version"), "{out}");
    assert!(
        out.contains(
            "SKIP session/idle-expiry-is-3: moving the server's clock needs openpfs's admin API"
        ),
        "{out}"
    );
    assert!(out.contains("1 passed, 0 failed, 1 skipped"), "{out}");

    // Test accounts whose linkage keys are wrong: the scenarios that log in fail, the exit
    // status says so, and no linkage key is printed.
    let accounts_path = dir.path().join("pfs-data/demo/accounts.json");
    let mut accounts: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&accounts_path).unwrap()).unwrap();
    let mut keys = Vec::new();
    for a in accounts.as_array_mut().unwrap() {
        keys.push(a["linkageKey"].as_str().unwrap().to_owned());
        a["linkageKey"] = serde_json::json!("WRONGKEY0000000");
    }
    let wrong = elsewhere.path().join("wrong-accounts.json");
    std::fs::write(&wrong, accounts.to_string()).unwrap();
    let (ok, out) = conformance(
        dir.path(),
        &[
            "--endpoint",
            &endpoint,
            "--accounts",
            wrong.to_str().unwrap(),
            "--only",
            "session/",
        ],
    );
    assert!(!ok, "{out}");
    assert!(out.contains("PASS session/check-version"), "{out}");
    assert!(out.contains("FAIL session/link-and-authenticate"), "{out}");
    assert!(
        out.contains("LinkAccount (register) of a test account"),
        "{out}"
    );
    // The failed LinkAccount is shown, its linkage key (the `passphrase` attribute) redacted.
    assert!(out.contains("exchange (LinkAccount):"), "{out}");
    assert!(out.contains(r#"passphrase="…""#), "{out}");
    assert!(out.contains("scenario(s) failed"), "{out}");
    for key in &keys {
        assert!(!out.contains(key.as_str()), "a linkage key was printed");
    }
    assert!(
        !out.contains("WRONGKEY0000000"),
        "a linkage key was printed"
    );

    // Messaging switched off for the practice: the switch still holds (MessageRecipients
    // answers 6) and the messaging scenario is skipped, saying why.
    let (ok, out) = pfs_admin(
        dir.path(),
        &["service", "set", "messaging", "--ods", "Y99001", "off"],
    );
    assert!(ok, "{out}");
    let (ok, out) = conformance(
        dir.path(),
        &["--endpoint", &endpoint, "--only", "messaging"],
    );
    assert!(ok, "{out}");
    assert!(
        out.contains("PASS services/messaging-switch-holds"),
        "{out}"
    );
    assert!(
        out.contains(
            "SKIP messaging/send-view-delete: Messaging is not available to the test account"
        ),
        "{out}"
    );
}

/// With one fault injected (every `RequestSystmOnlineMessages` answered `9010`), exactly the
/// scenario that sends that message fails, and the report says what came back; with the rule
/// removed, everything passes again.
#[test]
fn an_injected_fault_fails_exactly_its_scenario() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, endpoint) = common::serve_demo(dir.path(), &[]);
    let (ok, out) = pfs_admin(
        dir.path(),
        &[
            "fault",
            "add",
            "error",
            "--error-code",
            "9010",
            "--message-type",
            "RequestSystmOnlineMessages",
        ],
    );
    assert!(ok, "{out}");
    let (ok, out) = conformance(dir.path(), &["--endpoint", &endpoint]);
    assert!(!ok, "{out}");
    let failed: Vec<&str> = out.lines().filter(|l| l.starts_with("FAIL ")).collect();
    assert_eq!(failed.len(), 1, "{out}");
    assert!(
        failed[0].starts_with("FAIL appointments/practice-messages"),
        "{out}"
    );
    assert!(
        out.contains("RequestSystmOnlineMessages: PFS error 9010"),
        "{out}"
    );
    // The report shows the exchange that failed, as it crossed the wire.
    assert!(
        out.contains("exchange (RequestSystmOnlineMessages):"),
        "{out}"
    );
    assert!(
        out.contains("reply: HTTP 200 <?xml") && out.contains(r#"errorCode="9010""#),
        "{out}"
    );
    assert!(out.contains("1 failed, 0 skipped"), "{out}");

    let (ok, out) = pfs_admin(dir.path(), &["fault", "clear"]);
    assert!(ok, "{out}");
    let (ok, out) = conformance(dir.path(), &["--endpoint", &endpoint]);
    assert!(ok, "{out}");
}

fn pfs_admin(dir: &std::path::Path, args: &[&str]) -> (bool, String) {
    let out = Command::new(PFS)
        .arg("admin")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("pfs admin runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

/// The number of rows of every table of the server's database (the SQLite file in `dir`, or
/// the PostgreSQL test schema at `url`), the schema's own bookkeeping left out.
///
/// The running server holds its SQLite file for itself, so the rows are counted in a
/// snapshot it saves (and then deletes, so that it is not counted itself).
fn row_counts(dir: &std::path::Path, url: Option<&str>) -> std::collections::BTreeMap<String, i64> {
    let skip = |t: &str| t.starts_with("sqlite_") || t.starts_with("_sqlx") || t == "pfs_snapshot";
    match url {
        None => {
            let (ok, out) = pfs_admin(dir, &["sandbox", "snapshot", "row-counts"]);
            assert!(ok, "{out}");
            let copy = dir.join("row-counts.db");
            std::fs::rename(dir.join("pfs-data/snapshots/row-counts.db"), &copy).unwrap();
            let c = rusqlite::Connection::open(&copy).unwrap();
            let tables: Vec<String> = c
                .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
                .unwrap()
                .query_map([], |r| r.get(0))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            tables
                .into_iter()
                .filter(|t| !skip(t))
                .map(|t| {
                    let n = c
                        .query_row(&format!("SELECT count(*) FROM \"{t}\""), [], |r| r.get(0))
                        .unwrap();
                    (t, n)
                })
                .collect()
        }
        Some(url) => tokio::runtime::Runtime::new().unwrap().block_on(async {
            let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
                .await
                .unwrap();
            let driver = tokio::spawn(connection);
            let tables = client
                .query(
                    "SELECT tablename::text FROM pg_tables WHERE schemaname = current_schema()",
                    &[],
                )
                .await
                .unwrap();
            let mut counts = std::collections::BTreeMap::new();
            for row in tables {
                let t: String = row.get(0);
                if !skip(&t) {
                    let n: i64 = client
                        .query_one(&format!("SELECT count(*) FROM \"{t}\""), &[])
                        .await
                        .unwrap()
                        .get(0);
                    counts.insert(t, n);
                }
            }
            drop(client);
            let _ = driver.await;
            counts
        }),
    }
}

/// Two namespaces made side by side each pass the whole suite at the same time (but for the
/// scenario that moves the server's clock), each with its own credentials and practice;
/// deleting them (with a fault rule scoped to one) leaves every
/// table of the database with the rows it had before they were made.
fn namespaces_run_side_by_side(url: Option<&str>) {
    let dir = tempfile::tempdir().unwrap();
    let extra: Vec<&str> = url.map(|u| vec!["--database", u]).unwrap_or_default();
    let (_server, endpoint) = common::serve_demo(dir.path(), &extra);
    let before = row_counts(dir.path(), url);
    assert!(before.get("patients").is_some_and(|&n| n > 0), "{before:?}");

    let mut codes = Vec::new();
    for name in ["suite-a", "suite-b"] {
        let (ok, out) = pfs_admin(dir.path(), &["namespace", "create", name, "--out", name]);
        assert!(ok, "{out}");
        let summary: serde_json::Value = serde_json::from_str(&out).unwrap();
        codes.push(summary["ods"].as_str().unwrap().to_owned());
        let accounts =
            std::fs::read_to_string(dir.path().join(name).join("accounts.json")).unwrap();
        assert!(accounts.contains(&format!(
            "\"organisationCode\": \"{}\"",
            summary["ods"].as_str().unwrap()
        )));
        assert!(!accounts.contains("Y99001"), "{accounts}");
    }
    assert_eq!(codes, ["N0001", "N0002"]);
    let (ok, out) = pfs_admin(dir.path(), &["namespace", "create", "suite-a"]);
    assert!(!ok && out.contains("409"), "{out}");
    let (ok, out) = pfs_admin(dir.path(), &["namespace", "create", "Not Plain"]);
    assert!(
        !ok && out.contains("422") && out.contains("namespace name"),
        "{out}"
    );

    // Side by side, each suite leaves out the one scenario that moves the server's clock
    // (which every namespace shares); it then runs alone in one namespace.
    let runs: Vec<_> = ["suite-a", "suite-b"]
        .into_iter()
        .map(|name| {
            let dir = dir.path().to_owned();
            let endpoint = endpoint.clone();
            std::thread::spawn(move || {
                let args = ["--endpoint", &endpoint, "--credentials", name];
                conformance(&dir, &[&args[..], &["--skip", "idle-expiry"]].concat())
            })
        })
        .collect();
    for run in runs {
        let (ok, out) = run.join().unwrap();
        assert!(ok, "{out}");
        assert!(!out.contains("FAIL ") && !out.contains("SKIP "), "{out}");
        assert!(!out.contains("idle-expiry"), "{out}");
    }
    let (ok, out) = conformance(
        dir.path(),
        &[
            "--endpoint",
            &endpoint,
            "--credentials",
            "suite-a",
            "--only",
            "idle-expiry",
        ],
    );
    assert!(ok && out.contains("1 passed, 0 failed, 0 skipped"), "{out}");

    let (ok, out) = pfs_admin(
        dir.path(),
        &[
            "fault",
            "add",
            "error",
            "--practice",
            "N0001",
            "--error-code",
            "9010",
        ],
    );
    assert!(ok, "{out}");
    for name in ["suite-a", "suite-b"] {
        let (ok, out) = pfs_admin(dir.path(), &["namespace", "delete", name]);
        assert!(ok, "{out}");
    }
    let (ok, out) = pfs_admin(dir.path(), &["fault", "list"]);
    assert!(
        ok && out.trim() == "[]",
        "the namespace's fault rule went with it: {out}"
    );
    let (ok, out) = pfs_admin(dir.path(), &["namespace", "list"]);
    assert!(ok && out.trim() == "[]", "{out}");
    let (ok, out) = pfs_admin(dir.path(), &["namespace", "delete", "suite-a"]);
    assert!(!ok && out.contains("404"), "{out}");

    assert_eq!(row_counts(dir.path(), url), before);
}

#[test]
fn namespaces_run_side_by_side_and_leave_nothing() {
    namespaces_run_side_by_side(None);
}

#[test]
#[ignore = "needs PostgreSQL: set PFS_TEST_POSTGRES_URL and run with --include-ignored"]
fn namespaces_run_side_by_side_and_leave_nothing_on_postgres() {
    use pfs_store::pg_testing::{TestSchema, required_test_url};
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let schema = runtime.block_on(TestSchema::create(&required_test_url()));
    namespaces_run_side_by_side(Some(schema.url()));
    drop(schema);
}
