//! `pfs bench` against a real `pfs serve --demo`: a run reports its rate, and a run whose
//! workers run out of work before the end fails rather than report a rate that counts idle time.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

const PFS: &str = env!("CARGO_BIN_EXE_pfs");

/// Kills the server when the test ends, however it ends.
struct Server(std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn bench(dir: &std::path::Path, endpoint: &str, args: &[&str]) -> (bool, String) {
    let out = Command::new(PFS)
        .arg("bench")
        .args(args)
        .args(["--endpoint", endpoint])
        .current_dir(dir)
        .output()
        .expect("pfs bench runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

#[test]
fn a_run_reports_its_rate_and_one_that_runs_out_of_work_fails() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(PFS)
        .args(["serve", "--demo", "--listen", "127.0.0.1:0"])
        .args(["--admin-listen", "127.0.0.1:0", "--log", "warn"])
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .spawn()
        .expect("pfs serve starts");
    let (tx, lines) = std::sync::mpsc::channel();
    common::forward_lines(child.stdout.take().unwrap(), tx);
    let _server = Server(child);
    let endpoint = format!(
        "{}tpp/",
        common::wait_for_endpoint(&lines, Duration::from_secs(60))
    );

    let (ok, out) = bench(
        dir.path(),
        &endpoint,
        &["check-version", "-c", "2", "-d", "1"],
    );
    assert!(ok, "{out}");
    assert!(
        out.contains("check-version ok/s: ") && out.contains(" errors: 0"),
        "{out}"
    );

    // Two patients with one course each: two orders in all, gone long before the second ends.
    let (ok, out) = bench(
        dir.path(),
        &endpoint,
        &[
            "request-medication",
            "-c",
            "1",
            "-d",
            "2",
            "--patients",
            "2",
            "--courses",
            "1",
        ],
    );
    assert!(!ok, "{out}");
    assert!(out.contains("ran out of work before the end"), "{out}");
}
