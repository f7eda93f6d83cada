//! What the tests that start real `pfs serve` processes share.

use std::io::{BufRead, BufReader, Read};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

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
