//! What the tests that start real `pfs serve` processes share.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

/// Kills a child process when dropped, however the test ends.
pub struct KillOnDrop(pub Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `pfs serve --demo` in `dir` (its data in `dir/pfs-data`) on free ports, with `extra`
/// arguments, and waits until it listens; returns it and its endpoint with the `/tpp/` path
/// real clients use.
#[allow(dead_code, reason = "not every test binary starts a demo server")]
pub fn serve_demo(dir: &Path, extra: &[&str]) -> (KillOnDrop, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_pfs"))
        .args(["serve", "--demo", "--listen", "127.0.0.1:0"])
        .args(["--admin-listen", "127.0.0.1:0", "--log", "warn"])
        .args(extra)
        .current_dir(dir)
        .stdout(Stdio::piped())
        .spawn()
        .expect("pfs serve starts");
    let (tx, lines) = mpsc::channel();
    forward_lines(child.stdout.take().unwrap(), tx);
    let server = KillOnDrop(child);
    let endpoint = wait_for_endpoint(&lines, Duration::from_secs(60));
    (server, format!("{endpoint}tpp/"))
}

/// Forwards each line of a child's output stream to `tx`, from a thread of its own.
pub fn forward_lines(stream: impl Read + Send + 'static, tx: Sender<String>) {
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
}

/// Reads a `pfs serve` start-up summary from `output` up to its line `database …`, printed once
/// the process has seeded (if it does) and listens; returns the endpoint it names. Panics, with
/// what was printed, if that takes longer than `startup` or the process exits.
#[allow(
    dead_code,
    reason = "not every test binary waits for a start-up summary"
)]
pub fn wait_for_endpoint(output: &Receiver<String>, startup: Duration) -> String {
    let deadline = Instant::now() + startup;
    let mut printed = String::new();
    let mut endpoint = None;
    loop {
        let line = match output.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(line) => line,
            Err(RecvTimeoutError::Timeout) => {
                panic!("pfs serve did not start within {startup:?}:\n{printed}")
            }
            Err(RecvTimeoutError::Disconnected) => panic!("pfs serve exited:\n{printed}"),
        };
        let line = line.trim();
        if let Some(rest) = line.strip_prefix("PFS endpoint") {
            endpoint = rest.split_whitespace().next().map(str::to_owned);
        }
        if line.starts_with("database") {
            return endpoint.unwrap_or_else(|| panic!("no endpoint printed:\n{printed}"));
        }
        printed.push_str(line);
        printed.push('\n');
    }
}
