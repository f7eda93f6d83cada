//! `pfs bench` against a real `pfs serve --demo`: a run reports its rate, and a run whose
//! workers run out of work before the end fails rather than report a rate that counts idle time.

mod common;

use std::process::Command;

const PFS: &str = env!("CARGO_BIN_EXE_pfs");

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
    let (_server, endpoint) = common::serve_demo(dir.path(), &[]);

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
