//! The hostile-input corpus (`crates/pfs-testkit/hostile/`) against a real `pfs serve`
//! process on SQLite, checked as the in-process run checks it, and the process's memory: its
//! resident set (`VmRSS`) after the run and a few seconds of idleness stays near what it was
//! before. The bound is generous (64 MiB over the baseline): this is a leak and blow-up guard,
//! not a measurement. The figures are printed.

mod common;

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use pfs_client::{Application, Client, ExposeSecret};
use pfs_testkit::hostile::{self, Report, Target};
use pfs_testkit::{DemoAccount, TestServer};

const PFS: &str = env!("CARGO_BIN_EXE_pfs");

struct Process {
    child: Child,
    output: Receiver<String>,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            for line in self.output.try_iter() {
                eprintln!("[pfs serve] {line}");
            }
        }
    }
}

/// `VmRSS` of `pid`, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("VmRSS")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_corpus_against_pfs_serve_and_memory_returns_near_its_baseline() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut child = Command::new(PFS)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--admin-listen",
            "127.0.0.1:0",
        ])
        .args(["--log", "warn", "--demo"])
        .args([
            "--request-timeout-ms",
            "1000",
            "--header-timeout-ms",
            "1000",
        ])
        .arg("--data-dir")
        .arg(&data)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("pfs serve starts");
    let (tx, output) = mpsc::channel();
    common::forward_lines(child.stdout.take().unwrap(), tx.clone());
    common::forward_lines(child.stderr.take().unwrap(), tx);
    let process = Process { child, output };

    // The start-up summary names the endpoint; its last line is `database …`.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut endpoint = None;
    loop {
        let line = match process
            .output
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            Ok(line) => line,
            Err(RecvTimeoutError::Timeout) => panic!("pfs serve did not start in time"),
            Err(RecvTimeoutError::Disconnected) => panic!("pfs serve exited"),
        };
        let line = line.trim();
        if let Some(rest) = line.strip_prefix("PFS endpoint") {
            endpoint = rest.split_whitespace().next().map(str::to_owned);
        }
        if line.starts_with("database") {
            break;
        }
    }
    let endpoint = endpoint.expect("the endpoint is printed");
    let addr: SocketAddr = endpoint
        .trim_start_matches("https://")
        .trim_end_matches('/')
        .parse()
        .expect("the endpoint is https://IP:PORT/");

    let demo = data.join("demo");
    let read = |name: &str| std::fs::read_to_string(demo.join(name)).unwrap();
    let (ca, cert, key) = (read("ca.pem"), read("client.pem"), read("client-key.pem"));
    let provider_id = read("provider-id").trim().to_owned();
    let accounts: Vec<DemoAccount> = serde_json::from_str(&read("accounts.json")).unwrap();
    let client = Client::builder(&format!("{endpoint}tpp/"))
        .identity_pem(cert.as_bytes(), key.as_bytes())
        .ca_pem(ca.as_bytes())
        .application(Application {
            name: "hostile".into(),
            version: "1.0".into(),
            provider_id: provider_id.clone(),
            device_type: "test".into(),
        })
        .build()
        .unwrap();
    let a = &accounts[0];
    let passphrase = client
        .link_account(TestServer::register(a))
        .await
        .unwrap()
        .passphrase
        .expect("a passphrase");
    let session = client
        .authenticate(&a.organisation_code, &a.account_id, &passphrase)
        .await
        .unwrap();
    let suid = session.suid().expose_secret().to_owned();
    let patient = session.selected_patient_id();
    let target = Target::new(
        addr,
        &ca,
        &cert,
        &key,
        &[
            ("PROVIDER", &provider_id),
            ("ODS", session.ods()),
            ("PATIENT", &patient),
            ("USER", session.online_user_id()),
            ("SUID", &suid),
        ],
    )
    .unwrap();
    let cases = hostile::load(&hostile::corpus_dir()).unwrap();

    // Warm up (TLS, the database pool, the KDF) before the baseline.
    for _ in 0..20 {
        client.check_version().await.unwrap();
    }
    let pid = process.child.id();
    let baseline = rss_kib(pid);

    let mut report = Report::default();
    let mut peak = baseline;
    for (class, cases) in hostile::by_class(&cases) {
        for case in cases {
            report.record(case, target.run(case).await);
        }
        peak = peak.max(rss_kib(pid));
        if let Err(e) = session.keep_alive().await {
            report
                .failures
                .push(format!("{class}: the session no longer answers: {e}"));
        }
    }
    let after_run = rss_kib(pid);
    tokio::time::sleep(Duration::from_secs(5)).await;
    let after_idle = rss_kib(pid);
    print!("{}", report.summary());
    println!(
        "pfs serve VmRSS: baseline {baseline} KiB, peak between classes {peak} KiB, after the run {after_run} KiB, after 5 s idle {after_idle} KiB"
    );
    assert!(
        report.failures.is_empty(),
        "{} of {} cases did not behave:\n{}",
        report.failures.len(),
        cases.len(),
        report.failures.join("\n")
    );
    client.check_version().await.unwrap();
    assert!(
        after_idle < baseline + 64 * 1024,
        "VmRSS after the run and 5 s idle is {after_idle} KiB, baseline {baseline} KiB"
    );
}
