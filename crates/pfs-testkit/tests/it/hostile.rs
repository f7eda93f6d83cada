//! The hostile-input corpus (`crates/pfs-testkit/hostile/`, see its `generate.py`) against a
//! real server over mutual TLS: one fresh connection per case, inside a live demo session.
//!
//! Checked for every case: the outcome is one the case allows (an `Error` code, a successful
//! reply, an HTTP status, or the connection closed); every `Error` is well-formed XML with the
//! four attributes and a GUID `uuid`; no reply repeats the marker `Zq7Marker` and no `Error`
//! text repeats the case's other distinctive fragments; no request hidden in another one is
//! answered. After each class: a normal request and the live session still work, and no panic
//! was caught. After the run: the admin API lists exactly what it listed before.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use pfs_client::ExposeSecret;
use pfs_testkit::TestServer;
use pfs_testkit::hostile::{self, Report, Target};
use serde_json::Value;

/// Everything the admin API lists: providers, practices, patients, and per practice its
/// appointment sessions and appointments, per patient their proxies and service switches.
async fn snapshot(t: &TestServer) -> Value {
    let get = |path: String| async move {
        let (status, v) = t.admin("GET", &path, None).await.unwrap();
        assert_eq!(status, 200, "GET {path}: {v}");
        v
    };
    let providers = get("/api/providers".into()).await;
    let practices = get("/api/practices".into()).await;
    let patients = get("/api/patients".into()).await;
    let mut per_practice = Vec::new();
    for p in practices.as_array().unwrap() {
        let ods = p["ods"].as_str().unwrap();
        let range = "from=1900-01-01&to=2199-12-31";
        per_practice.push(serde_json::json!({
            "sessions": get(format!("/api/practices/{ods}/sessions?{range}")).await,
            "appointments": get(format!("/api/practices/{ods}/appointments?{range}")).await,
        }));
    }
    let mut per_patient = Vec::new();
    for p in patients.as_array().unwrap() {
        let id = p["id"].as_str().unwrap();
        per_patient.push(serde_json::json!({
            "proxies": get(format!("/api/patients/{id}/proxies")).await,
            "services": get(format!("/api/patients/{id}/services")).await,
        }));
    }
    serde_json::json!({
        "providers": providers,
        "practices": practices,
        "patients": patients,
        "perPractice": per_practice,
        "perPatient": per_patient,
    })
}

async fn panics_caught(t: &TestServer) -> u64 {
    let (_, health) = t.admin("GET", "/health", None).await.unwrap();
    health["panicsCaught"].as_u64().unwrap_or(u64::MAX)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_corpus_is_refused_as_documented_and_nothing_is_stored() {
    let t = TestServer::start_with(|o| {
        o.limits.request_timeout = Duration::from_millis(1000);
        o.limits.header_timeout = Duration::from_millis(1000);
    })
    .await
    .unwrap();
    let cases = hostile::load(&hostile::corpus_dir()).unwrap();
    assert!(cases.len() >= 300, "{} cases", cases.len());

    let account = t.accounts[0].last_name.clone();
    let session = t.login(&account).await.unwrap();
    let suid = session.suid().expose_secret().to_owned();
    let patient = session.selected_patient_id();
    let target = Target::new(
        t.server.pfs_addr,
        &t.ca_pem,
        &t.demo.cert_pem,
        &t.demo.key_pem,
        &[
            ("PROVIDER", &t.demo.provider_id),
            ("ODS", session.ods()),
            ("PATIENT", &patient),
            ("USER", session.online_user_id()),
            ("SUID", &suid),
        ],
    )
    .unwrap();
    let before = snapshot(&t).await;

    // The runner itself: a second reply is noticed (two pipelined requests answered twice).
    let mut pipelined = cases
        .iter()
        .find(|c| c.name == "pipelined-two")
        .expect("the corpus has http/pipelined-two")
        .clone();
    pipelined.single = true;
    let noticed = target.run(&pipelined).await;
    assert!(
        noticed.as_ref().is_err_and(|e| e.contains("second reply")),
        "{noticed:?}"
    );

    let started = Instant::now();
    let mut report = Report::default();
    for (class, cases) in hostile::by_class(&cases) {
        // A few at a time: the cases that wait for the request deadline overlap.
        let results: Vec<_> = futures_util::stream::iter(cases.iter().copied())
            .map(|case| {
                let target = &target;
                async move { (case, target.run(case).await) }
            })
            .buffered(4)
            .collect()
            .await;
        for (case, result) in results {
            report.record(case, result);
        }
        let alive = t.client().check_version().await;
        let session_alive = session.keep_alive().await;
        let panics = panics_caught(&t).await;
        if alive.is_err() || session_alive.is_err() || panics != 0 {
            report.failures.push(format!(
                "{class}: after the class: normal request {:?}, session {:?}, panics caught {panics}",
                alive.err(),
                session_alive.err()
            ));
        }
    }
    print!("{}", report.summary());
    println!(
        "hostile: {} cases in {:.1} s",
        cases.len(),
        started.elapsed().as_secs_f64()
    );

    let after = snapshot(&t).await;
    if before != after {
        report
            .failures
            .push("the admin API lists something else after the run than before".into());
    }
    assert!(
        report.failures.is_empty(),
        "{} of {} cases did not behave:\n{}",
        report.failures.len(),
        cases.len(),
        report.failures.join("\n")
    );
}
