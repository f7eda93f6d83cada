//! The hostile-input corpus (`crates/pfs-testkit/hostile/*.jsonl`, written by
//! `hostile/generate.py`) and a runner that sends each case to a real server over mutual TLS,
//! one fresh connection per case, and checks what comes back.
//!
//! The runner knows nothing about how the server was started: the in-process test
//! (`tests/it/hostile.rs`) and the `pfs serve` process test in pfs-cli share it.

use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use pfs_wire::{Element, Guid};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use serde::Deserialize;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// The marker every case carries where it can; it must never come back in an `Error`.
pub const MARKER: &str = "Zq7Marker";

/// A piece of a body or head.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Part {
    /// UTF-8 text, with `@@NAME@@` placeholders.
    Text(String),
    /// Raw bytes, in hex.
    Hex {
        /// The bytes.
        hex: String,
    },
    /// Parts repeated.
    Repeat {
        /// What to repeat.
        repeat: Vec<Part>,
        /// How often.
        times: usize,
    },
    /// Parts sent as HTTP/1.1 chunks of `size` bytes (without the last, empty chunk).
    Chunked {
        /// The data.
        chunked: Vec<Part>,
        /// Bytes per chunk.
        size: usize,
    },
    /// A text repeated, `{i}` counting from 0.
    Numbered {
        /// The text.
        numbered: String,
        /// How often.
        times: usize,
    },
}

/// One case of the corpus.
#[derive(Debug, Clone, Deserialize)]
pub struct Case {
    /// Its class (the file it is in).
    pub class: String,
    /// Its name, unique in its class.
    pub name: String,
    /// A raw HTTP request (`head` and `body` sent as they are) rather than a body.
    #[serde(default)]
    pub raw: bool,
    /// The `type` header of a body case (none when null).
    #[serde(rename = "type", default)]
    pub message_type: Option<String>,
    /// The `suid` header of a body case; `VALID` is the live session's.
    #[serde(default)]
    pub suid: Option<String>,
    /// The request line and headers of a raw case.
    #[serde(default)]
    pub head: Vec<Part>,
    /// The body.
    #[serde(default)]
    pub body: Vec<Part>,
    /// Acceptable outcomes: `E:<code>`, `OK`, `H:<status>`, `closed`.
    pub expect: Vec<String>,
    /// Strings that must not come back in an `Error`.
    #[serde(default)]
    pub forbid: Vec<String>,
    /// No second reply may follow the first.
    #[serde(default)]
    pub single: bool,
}

impl Case {
    /// `class/name`.
    pub fn id(&self) -> String {
        format!("{}/{}", self.class, self.name)
    }
}

/// The corpus directory of this crate.
pub fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("hostile")
}

/// Every case, by file name, then in file order.
pub fn load(dir: &Path) -> Result<Vec<Case>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    files.sort();
    let mut cases = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file)?;
        for (i, line) in text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
        {
            let case: Case = serde_json::from_str(line)
                .with_context(|| format!("{}:{}", file.display(), i + 1))?;
            cases.push(case);
        }
    }
    Ok(cases)
}

/// Where and as whom cases are sent.
pub struct Target {
    addr: SocketAddr,
    tls: Arc<ClientConfig>,
    vars: Vec<(String, String)>,
    /// How long to wait for a reply (more than the server's request deadline).
    pub reply_timeout: Duration,
}

impl Target {
    /// A target at `addr`, trusting `ca_pem`, presenting `cert_pem`/`key_pem`; `vars` fill
    /// the `@@NAME@@` placeholders (`PROVIDER`, `ODS`, `PATIENT`, `USER`, `SUID`; `UUID` has a
    /// default).
    pub fn new(
        addr: SocketAddr,
        ca_pem: &str,
        cert_pem: &str,
        key_pem: &str,
        vars: &[(&str, &str)],
    ) -> Result<Target> {
        let mut roots = RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
            roots.add(cert?)?;
        }
        let chain =
            CertificateDer::pem_slice_iter(cert_pem.as_bytes()).collect::<Result<Vec<_>, _>>()?;
        let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes())?;
        let mut config = ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let mut all: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (format!("@@{k}@@"), (*v).to_owned()))
            .collect();
        all.push((
            "@@UUID@@".into(),
            "0f5a2c8e-3b7d-4e61-9a20-5c1d8e4f7b93".into(),
        ));
        Ok(Target {
            addr,
            tls: Arc::new(config),
            vars: all,
            reply_timeout: Duration::from_secs(15),
        })
    }

    fn fill(&self, s: &str) -> String {
        let mut s = s.to_owned();
        for (k, v) in &self.vars {
            if s.contains(k.as_str()) {
                s = s.replace(k.as_str(), v);
            }
        }
        s
    }

    fn assemble(&self, parts: &[Part], out: &mut Vec<u8>) -> Result<()> {
        for part in parts {
            match part {
                Part::Text(s) => out.extend_from_slice(self.fill(s).as_bytes()),
                Part::Hex { hex } => {
                    let digits = hex.as_bytes();
                    anyhow::ensure!(digits.len() % 2 == 0, "odd hex length");
                    for pair in digits.chunks(2) {
                        let text = std::str::from_utf8(pair)?;
                        out.push(u8::from_str_radix(text, 16)?);
                    }
                }
                Part::Repeat { repeat, times } => {
                    let mut one = Vec::new();
                    self.assemble(repeat, &mut one)?;
                    for _ in 0..*times {
                        out.extend_from_slice(&one);
                    }
                }
                Part::Chunked { chunked, size } => {
                    let mut data = Vec::new();
                    self.assemble(chunked, &mut data)?;
                    for chunk in data.chunks((*size).max(1)) {
                        out.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
                        out.extend_from_slice(chunk);
                        out.extend_from_slice(b"\r\n");
                    }
                }
                Part::Numbered { numbered, times } => {
                    let text = self.fill(numbered);
                    for i in 0..*times {
                        out.extend_from_slice(text.replace("{i}", &i.to_string()).as_bytes());
                    }
                }
            }
        }
        Ok(())
    }

    /// The bytes sent for `case`.
    pub fn request(&self, case: &Case) -> Result<Vec<u8>> {
        let mut body = Vec::new();
        self.assemble(&case.body, &mut body)?;
        let mut head = Vec::new();
        if case.raw {
            self.assemble(&case.head, &mut head)?;
            head = fill_lengths(&head, body.len())?;
        } else {
            let mut h = String::from("POST /tpp/ HTTP/1.1\r\nHost: localhost\r\n");
            if let Some(t) = &case.message_type {
                h.push_str(&format!("type: {t}\r\n"));
            }
            if let Some(s) = &case.suid {
                let s = if s == "VALID" {
                    self.fill("@@SUID@@")
                } else {
                    s.clone()
                };
                h.push_str(&format!("suid: {s}\r\n"));
            }
            h.push_str(&format!(
                "Content-Type: text/xml; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            ));
            head = h.into_bytes();
        }
        head.extend_from_slice(&body);
        Ok(head)
    }

    /// Sends `case` on a fresh connection; `Ok` when it behaved, else what went wrong (short).
    pub async fn run(&self, case: &Case) -> Result<(), String> {
        let request = self.request(case).map_err(|e| format!("bad case: {e:#}"))?;
        let tcp = TcpStream::connect(self.addr)
            .await
            .map_err(|e| format!("connect: {e}"))?;
        let name = ServerName::try_from("localhost").map_err(|e| e.to_string())?;
        let tls = TlsConnector::from(self.tls.clone())
            .connect(name, tcp)
            .await
            .map_err(|e| format!("TLS handshake: {e}"))?;
        let (mut rd, mut wr) = tokio::io::split(tls);
        // Written concurrently, so that an early reply to a large body is still read.
        let writer = tokio::spawn(async move {
            let _ = wr.write_all(&request).await;
            let _ = wr.flush().await;
            // Keep the write half open: never-ending requests stay unfinished.
            tokio::time::sleep(Duration::from_secs(60)).await;
            drop(wr);
        });
        let mut buf = Vec::new();
        let first =
            tokio::time::timeout(self.reply_timeout, read_response(&mut rd, &mut buf)).await;
        let outcome = match first {
            Err(_) => {
                writer.abort();
                return Err(format!(
                    "no reply and no close within {:?}",
                    self.reply_timeout
                ));
            }
            Ok(Err(_)) => Outcome::Closed,
            Ok(Ok(reply)) => Outcome::Reply(reply),
        };
        let mut second = false;
        if case.single && matches!(outcome, Outcome::Reply(_)) {
            // Whatever follows the first reply, until the server closes (or a second passes).
            let mut more = std::mem::take(&mut buf);
            let answered =
                tokio::time::timeout(Duration::from_secs(2), read_response(&mut rd, &mut more))
                    .await;
            second = matches!(answered, Ok(Ok(_))) || find(&more, b"HTTP/1.").is_some();
        }
        writer.abort();
        let label = outcome.check(case)?;
        if !case.expect.contains(&label) {
            return Err(format!("got {label}, expected one of {:?}", case.expect));
        }
        if second {
            return Err(
                "a second reply followed: a request hidden in the first was answered".into(),
            );
        }
        Ok(())
    }
}

fn fill_lengths(head: &[u8], length: usize) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(head.len());
    let mut rest = head;
    while let Some(at) = find(rest, b"@@CL") {
        out.extend_from_slice(&rest[..at]);
        let after = &rest[at + 4..];
        let end = find(after, b"@@").context("unterminated @@CL")?;
        let delta = std::str::from_utf8(&after[..end])?;
        let value = match delta.strip_prefix('+') {
            Some(n) => length + n.parse::<usize>()?,
            None => match delta.strip_prefix('-') {
                Some(n) => length.saturating_sub(n.parse::<usize>()?),
                None => length,
            },
        };
        out.extend_from_slice(value.to_string().as_bytes());
        rest = &after[end + 2..];
    }
    out.extend_from_slice(rest);
    Ok(out)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// An HTTP/1.1 reply read by hand.
#[derive(Debug)]
pub struct HttpReply {
    /// Status.
    pub status: u16,
    /// Headers.
    pub headers: Vec<(String, String)>,
    /// Body (lossy UTF-8).
    pub body: String,
}

enum Outcome {
    Closed,
    Reply(HttpReply),
}

impl Outcome {
    /// The outcome's label, after checking what every reply must satisfy.
    fn check(&self, case: &Case) -> Result<String, String> {
        let reply = match self {
            Outcome::Closed => return Ok("closed".into()),
            Outcome::Reply(r) => r,
        };
        if contains_ci(&reply.body, MARKER) {
            return Err(format!("the marker came back (HTTP {})", reply.status));
        }
        let is_error = reply.body.contains("errorCode");
        if reply.status != 200 && !is_error {
            return Ok(format!("H:{}", reply.status));
        }
        let el = Element::parse(reply.body.as_bytes())
            .map_err(|e| format!("HTTP {} body is not well-formed XML: {e}", reply.status))?;
        if el.name != "Error" {
            if reply.status != 200 {
                return Ok(format!("H:{}", reply.status));
            }
            return Ok("OK".into());
        }
        let code = el.get("errorCode").unwrap_or("");
        for attr in ["errorCode", "userFriendlyMessage", "technicalMessage"] {
            if el.get(attr).unwrap_or("").is_empty() {
                return Err(format!("Error {code} without {attr}"));
            }
        }
        let uuid = el.get("uuid").unwrap_or("");
        if uuid.len() != 36 || uuid.parse::<Guid>().is_err() {
            return Err(format!("Error {code}: uuid is not a GUID"));
        }
        for attr in ["userFriendlyMessage", "technicalMessage"] {
            let text = el.get(attr).unwrap_or("");
            for f in &case.forbid {
                if contains_ci(text, f) {
                    return Err(format!("Error {code}: {attr} repeats a piece of the input"));
                }
            }
        }
        if reply.status != 200 {
            return Ok(format!("H:{}", reply.status));
        }
        Ok(format!("E:{code}"))
    }
}

fn contains_ci(haystack: &str, needle: &str) -> bool {
    haystack
        .to_lowercase()
        .contains(needle.to_lowercase().as_str())
}

/// Reads one response; its body by `Content-Length`, or to the end of the stream without one.
/// `buf` holds what was read beyond the response's head at the start.
pub async fn read_response<S: AsyncRead + Unpin>(
    s: &mut S,
    buf: &mut Vec<u8>,
) -> io::Result<HttpReply> {
    let mut chunk = [0u8; 16 * 1024];
    let mut eof = false;
    loop {
        if let Some(end) = find(buf, b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).into_owned();
            let mut lines = head.split("\r\n");
            let status_line = lines.next().unwrap_or("");
            let status = status_line
                .split(' ')
                .nth(1)
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| io::Error::other("bad status line"))?;
            let headers: Vec<(String, String)> = lines
                .filter_map(|l| l.split_once(':'))
                .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
                .collect();
            let length: Option<usize> = headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
                .and_then(|(_, v)| v.parse().ok());
            if (100..200).contains(&status) {
                // An interim reply (100 Continue): the real one follows.
                buf.drain(..end + 4);
                continue;
            }
            let have = buf.len() - (end + 4);
            let complete = match length {
                Some(n) => have >= n,
                None => eof,
            };
            if complete {
                let n = length.unwrap_or(have);
                let body = String::from_utf8_lossy(&buf[end + 4..end + 4 + n]).into_owned();
                buf.drain(..end + 4 + n);
                return Ok(HttpReply {
                    status,
                    headers,
                    body,
                });
            }
        }
        if eof {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "closed before a whole reply",
            ));
        }
        match s.read(&mut chunk).await {
            Ok(0) | Err(_) => eof = true,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

/// The result of a run: per class (cases, passed), and the cases that did not behave.
#[derive(Debug, Default)]
pub struct Report {
    /// Class → (cases, passed).
    pub classes: BTreeMap<String, (usize, usize)>,
    /// `class/name: what went wrong`.
    pub failures: Vec<String>,
}

impl Report {
    /// Records one case's result.
    pub fn record(&mut self, case: &Case, result: Result<(), String>) {
        let entry = self.classes.entry(case.class.clone()).or_default();
        entry.0 += 1;
        match result {
            Ok(()) => entry.1 += 1,
            Err(e) => self.failures.push(format!("{}: {e}", case.id())),
        }
    }

    /// One line per class.
    pub fn summary(&self) -> String {
        let mut out = String::new();
        for (class, (n, ok)) in &self.classes {
            out.push_str(&format!(
                "hostile {class:<14} {n:>5} cases {ok:>5} passed\n"
            ));
        }
        out
    }
}

/// Cases grouped by class, in corpus order.
pub fn by_class(cases: &[Case]) -> Vec<(String, Vec<&Case>)> {
    let mut out: Vec<(String, Vec<&Case>)> = Vec::new();
    for case in cases {
        match out.iter_mut().find(|(c, _)| *c == case.class) {
            Some((_, v)) => v.push(case),
            None => out.push((case.class.clone(), vec![case])),
        }
    }
    out
}
