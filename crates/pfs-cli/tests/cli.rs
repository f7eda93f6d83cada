//! The `pfs` binary as a newcomer uses it: `serve` on a new data directory, then `call` and
//! `admin` against it.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

const PFS: &str = env!("CARGO_BIN_EXE_pfs");

/// Kills the server when the test ends, however it ends.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn pfs(args: &[&str], dir: &std::path::Path) -> (bool, String, String) {
    let out = Command::new(PFS)
        .args(args)
        .current_dir(dir)
        .output()
        .expect("pfs runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn serve_then_call_and_admin() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(PFS)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--admin-listen",
            "127.0.0.1:0",
            "--log",
            "warn",
        ])
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .spawn()
        .expect("pfs serve starts");
    let stdout = child.stdout.take().unwrap();
    let server = Server(child);

    // The bound address is printed; read until the demo hint so the seed is complete.
    let mut endpoint = None;
    let mut printed = String::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        printed.push_str(&line);
        printed.push('\n');
        if let Some(rest) = line.trim().strip_prefix("PFS endpoint") {
            endpoint = rest.split_whitespace().next().map(str::to_owned);
        }
        if line.contains("pfs admin patient list") {
            break;
        }
    }
    let endpoint = endpoint.unwrap_or_else(|| panic!("no endpoint printed:\n{printed}"));
    assert!(printed.contains("pfs-data/demo/"), "{printed}");
    let endpoint = format!("{endpoint}tpp/");

    let (ok, out, err) = pfs(
        &["call", "CheckVersion", "--endpoint", &endpoint],
        dir.path(),
    );
    assert!(ok, "{out}{err}");
    assert!(out.contains("<CheckVersionReply"), "{out}");

    // A made-up session: the reply is an Error and the command says so.
    let (ok, out, _) = pfs(
        &[
            "call",
            "Logoff",
            "--endpoint",
            &endpoint,
            "--suid",
            "made-up",
        ],
        dir.path(),
    );
    assert!(!ok);
    assert!(out.contains(r#"errorCode="3""#), "{out}");

    let (ok, out, err) = pfs(&["admin", "patient", "list"], dir.path());
    assert!(ok, "{err}");
    let patients: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(patients.as_array().unwrap().len() >= 8);

    let (ok, _, err) = pfs(
        &["admin", "--token", "wrong", "patient", "list"],
        dir.path(),
    );
    assert!(!ok);
    assert!(err.contains("401"), "{err}");

    let (ok, out, err) = pfs(
        &[
            "admin",
            "provider",
            "add",
            "--name",
            "CLI test app",
            "--out",
            "cli-app",
        ],
        dir.path(),
    );
    assert!(ok, "{err}");
    assert!(out.contains("CLI test app"), "{out}");
    for f in ["client.pem", "client-key.pem", "ca.pem", "provider-id"] {
        assert!(dir.path().join("cli-app").join(f).exists(), "{f}");
    }
    let (ok, out, err) = pfs(
        &[
            "call",
            "CheckVersion",
            "--endpoint",
            &endpoint,
            "--credentials",
            "cli-app",
        ],
        dir.path(),
    );
    assert!(ok, "the new provider's credentials work: {out}{err}");
    drop(server);
}

#[test]
fn bad_arguments_are_explained() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, _, err) = pfs(&["serve", "--listen", "not-an-address"], dir.path());
    assert!(!ok);
    assert!(err.contains("--listen"), "{err}");
    let (ok, _, err) = pfs(
        &["call", "CheckVersion", "--credentials", "nowhere"],
        dir.path(),
    );
    assert!(!ok);
    assert!(err.contains("nowhere"), "{err}");
    let (ok, _, err) = pfs(&["admin", "patient", "list"], dir.path());
    assert!(!ok);
    assert!(err.contains("admin-url"), "{err}");
    for flag in [
        "--db-connections",
        "--db-read-connections",
        "--header-timeout-ms",
        "--request-timeout-ms",
        "--max-connections",
        "--max-in-flight-per-provider",
    ] {
        let (ok, _, err) = pfs(&["serve", flag, "0"], dir.path());
        assert!(!ok, "{flag} 0 was accepted");
        assert!(err.contains(&format!("{flag} must be at least 1")), "{err}");
    }
}
