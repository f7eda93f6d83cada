//! `pfs serve` stops on SIGTERM within its drain deadline, even while clients hold half-sent
//! requests on both listeners: it stops accepting, lets requests in progress finish for
//! `--drain-timeout-ms`, then closes whatever is still open and exits.

#![cfg(unix)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use pfs_server::pki::{self, PemPair};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const PFS: &str = env!("CARGO_BIN_EXE_pfs");

/// Kills the server when the test ends, however it ends.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Reads the start-up summary up to its last line (`database …`), by which time both
/// listeners are up; returns the PFS and admin addresses it names.
fn addresses(lines: &Receiver<String>) -> (SocketAddr, SocketAddr) {
    let (mut pfs, mut admin) = (None, None);
    let mut printed = String::new();
    loop {
        let line = lines
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|e| panic!("pfs serve did not start ({e}):\n{printed}"));
        let line = line.trim();
        printed.push_str(line);
        printed.push('\n');
        let address = |rest: &str, scheme: &str| -> Option<SocketAddr> {
            rest.split_whitespace()
                .next()?
                .strip_prefix(scheme)?
                .split('/')
                .next()?
                .parse()
                .ok()
        };
        if let Some(rest) = line.strip_prefix("PFS endpoint") {
            pfs = address(rest, "https://");
        }
        if let Some(rest) = line.strip_prefix("admin API") {
            admin = address(rest, "http://");
        }
        if line.starts_with("database") {
            return (
                pfs.unwrap_or_else(|| panic!("no PFS address printed:\n{printed}")),
                admin.unwrap_or_else(|| panic!("no admin address printed:\n{printed}")),
            );
        }
    }
}

/// A TLS client trusting the data directory's CA, with a fresh certificate from that CA (a
/// registered provider is not needed: the request is held before the provider is looked up).
fn tls_client(data: &Path) -> tokio_rustls::TlsConnector {
    let read = |name: &str| std::fs::read_to_string(data.join(name)).expect(name);
    let ca = PemPair {
        cert_pem: read("ca.pem"),
        key_pem: read("ca-key.pem"),
    };
    let client = pki::new_client_cert(&ca, "half-sent requests").unwrap();
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca.cert_pem.as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let chain = CertificateDer::pem_slice_iter(client.cert_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_slice(client.key_pem.as_bytes()).unwrap();
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_client_auth_cert(chain, key)
    .unwrap();
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

/// Waits for the `100 Continue` a server sends when it starts reading a request's body.
async fn read_continue<S: AsyncRead + Unpin>(s: &mut S) {
    let mut head = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), async {
        while !head.ends_with(b"\r\n\r\n") {
            head.push(s.read_u8().await.expect("a response head"));
        }
    })
    .await
    .expect("100 Continue arrives");
    let head = String::from_utf8_lossy(&head);
    assert!(head.starts_with("HTTP/1.1 100"), "{head}");
}

/// Reads until the server closes the connection; the bytes it sent before closing.
async fn read_until_closed<S: AsyncRead + Unpin>(s: &mut S) -> Vec<u8> {
    let mut rest = Vec::new();
    let mut chunk = [0u8; 4096];
    tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            match s.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => rest.extend_from_slice(&chunk[..n]),
            }
        }
    })
    .await
    .expect("the server closes the connection");
    rest
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_the_server_within_the_drain_deadline_despite_half_sent_requests() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut child = Command::new(PFS)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(["--admin-listen", "127.0.0.1:0"])
        .args(["--log", "warn"])
        .args(["--drain-timeout-ms", "2000"])
        .arg("--data-dir")
        .arg(&data)
        .stdout(Stdio::piped())
        .spawn()
        .expect("pfs serve starts");
    let stdout = child.stdout.take().unwrap();
    let mut server = Server(child);
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let (pfs, admin) = addresses(&lines);
    let token = std::fs::read_to_string(data.join("admin-token")).unwrap();

    // An admin request whose body is half sent, the server already reading it.
    let mut admin_held = TcpStream::connect(admin).await.unwrap();
    admin_held
        .write_all(
            format!(
                "POST /api/practices HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: 100\r\nExpect: 100-continue\r\n\r\n",
                token.trim()
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    read_continue(&mut admin_held).await;
    admin_held.write_all(b"{\"ods\":").await.unwrap();
    // An admin request whose headers never end.
    let mut admin_headers = TcpStream::connect(admin).await.unwrap();
    admin_headers
        .write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\n")
        .await
        .unwrap();
    // A PFS request whose body is half sent, the server already reading it.
    let tcp = TcpStream::connect(pfs).await.unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    let mut pfs_held = tls_client(&data).connect(name, tcp).await.unwrap();
    pfs_held
        .write_all(b"POST /tpp/ HTTP/1.1\r\nHost: localhost\r\ntype: CheckVersion\r\nContent-Type: text/xml; charset=utf-8\r\nContent-Length: 100\r\nExpect: 100-continue\r\n\r\n")
        .await
        .unwrap();
    pfs_held.flush().await.unwrap();
    read_continue(&mut pfs_held).await;
    pfs_held.write_all(b"<CheckVersion").await.unwrap();
    pfs_held.flush().await.unwrap();

    let signalled = Instant::now();
    let kill = Command::new("kill")
        .args(["-TERM", &server.0.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    // The requests would otherwise be held until the 30-second request deadline; the drain
    // deadline (2 s) ends them. The bound leaves room for a busy machine.
    let status = loop {
        if let Some(status) = server.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            signalled.elapsed() < Duration::from_secs(20),
            "pfs serve still runs 20 s after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "{status:?}");
    assert!(
        signalled.elapsed() < Duration::from_secs(20),
        "{:?}",
        signalled.elapsed()
    );
    let printed: Vec<String> = lines.try_iter().collect();
    assert!(printed.iter().any(|l| l == "stopping"), "{printed:?}");
    for (what, rest) in [
        ("admin", read_until_closed(&mut admin_held).await),
        ("admin headers", read_until_closed(&mut admin_headers).await),
        ("PFS", read_until_closed(&mut pfs_held).await),
    ] {
        assert!(
            rest.is_empty(),
            "{what}: {}",
            String::from_utf8_lossy(&rest)
        );
    }
}
