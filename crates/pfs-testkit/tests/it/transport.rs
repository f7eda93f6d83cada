//! Transport: mutual TLS, provider identity from the client certificate, the single POST
//! endpoint, and how bad input is answered.
//!
//! TLS-level checks use rustls and tokio-rustls directly and speak HTTP/1.1 by hand, so that
//! protocol versions, ALPN, missing headers, GET requests, non-UTF-8 and chunked bodies can be
//! sent exactly. Everything else goes through the SDK's `Client::raw`.

use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use pfs_client::{Client, Error, ExposeSecret, RawResponse, is_error_body};
use pfs_server::pki::{self, PemPair};
use pfs_testkit::{Credentials, TestServer};
use pfs_wire::{
    Application, Authenticate, CheckVersion, Element, Guid, Header, ListServiceAccesses, Logoff,
    PatientScope, PatientSelected, WireMessage,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, RootCertStore, SupportedProtocolVersion};
use serde_json::json;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

const XMLNS: &str = r#"xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema""#;
const DECLARATION: &str = r#"<?xml version="1.0" encoding="utf-8"?>"#;
const MIB: usize = 1024 * 1024;

fn new_uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

pub(crate) fn check_version_xml(uuid: &str, provider_id: &str) -> String {
    format!(
        r#"<CheckVersion apiVersion="1" uuid="{uuid}"><Application name="testkit" version="1.0" providerId="{provider_id}" deviceType="testkit"/></CheckVersion>"#
    )
}

fn application(provider_id: &str) -> Application {
    Application {
        name: "testkit".into(),
        version: "1.0".into(),
        provider_id: provider_id.into(),
        device_type: "testkit".into(),
    }
}

/// A client for `creds` trusting the server's real CA, for any endpoint URL.
fn client_at(t: &TestServer, endpoint: &str, creds: &Credentials) -> Client {
    Client::builder(endpoint)
        .identity_pem(creds.cert_pem.as_bytes(), creds.key_pem.as_bytes())
        .ca_pem(t.ca_pem.as_bytes())
        .application(application(&creds.provider_id))
        .timeout(Duration::from_secs(20))
        .build()
        .expect("client configuration is valid")
}

/// The server's CA with its key, from the data directory.
fn server_ca(t: &TestServer) -> PemPair {
    let read = |name: &str| {
        std::fs::read_to_string(t.server.data_dir.path(name))
            .unwrap_or_else(|e| panic!("{name}: {e}"))
    };
    PemPair {
        cert_pem: read("ca.pem"),
        key_pem: read("ca-key.pem"),
    }
}

/// Asserts that the demo provider is still served.
async fn assert_still_serving(t: &TestServer) {
    let reply = t
        .client()
        .check_version()
        .await
        .expect("the server still answers a good request");
    assert_eq!(reply.current_version, "1");
}

// ---------------------------------------------------------------------------------------------
// Checking replies
// ---------------------------------------------------------------------------------------------

/// What every `Error` reply must look like: HTTP 200, `text/xml`, root `Error` with the four
/// attributes, a GUID `uuid` (the request's when `echo` is given). Returns the element.
#[track_caller]
fn check_error(
    status: u16,
    content_type: Option<&str>,
    body: &str,
    code: &str,
    echo: Option<&str>,
) -> Element {
    assert_eq!(status, 200, "errors travel with HTTP 200: {body}");
    let ct = content_type.unwrap_or("");
    assert!(
        ct.to_ascii_lowercase().starts_with("text/xml"),
        "Content-Type {ct:?}"
    );
    assert!(is_error_body(body), "{body}");
    let el = Element::parse(body.as_bytes()).expect("the Error is well-formed XML");
    assert_eq!(el.name, "Error", "{body}");
    assert_eq!(el.get("errorCode"), Some(code), "{body}");
    assert!(
        !el.get("userFriendlyMessage").unwrap_or("").is_empty(),
        "{body}"
    );
    assert!(
        !el.get("technicalMessage").unwrap_or("").is_empty(),
        "{body}"
    );
    let uuid = el.get("uuid").expect("Error/@uuid");
    assert!(
        uuid.parse::<Guid>().is_ok() && uuid.len() == 36,
        "Error/@uuid must be a GUID: {uuid:?}"
    );
    if let Some(echo) = echo {
        assert_eq!(uuid, echo, "the request uuid is echoed");
    }
    el
}

#[track_caller]
fn raw_error(r: &RawResponse, code: &str, echo: Option<&str>) -> Element {
    let ct = r.headers.get("content-type").and_then(|v| v.to_str().ok());
    let el = check_error(r.status, ct, &r.body, code, echo);
    assert!(r.suid.is_none(), "an Error carries no suid");
    el
}

#[track_caller]
fn raw_ok(r: &RawResponse, root: &str) -> Element {
    assert_eq!(r.status, 200, "{r:?}");
    assert!(!r.is_error(), "{}", r.body);
    let ct = r
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    assert!(ct.starts_with("text/xml"), "{ct}");
    let el = Element::parse(r.body.as_bytes()).expect("the reply is well-formed XML");
    assert_eq!(el.name, root, "{}", r.body);
    el
}

#[track_caller]
fn expect_code<T: std::fmt::Debug>(r: Result<T, Error>, code: &str) {
    match r {
        Err(Error::Pfs { code: c, .. }) if c == code => {}
        other => panic!("expected PFS error {code}, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Raw TLS and HTTP/1.1
// ---------------------------------------------------------------------------------------------

fn roots(t: &TestServer) -> RootCertStore {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(t.ca_pem.as_bytes()) {
        roots.add(cert.expect("CA PEM")).expect("CA certificate");
    }
    roots
}

/// A rustls client configuration trusting the server CA, limited to `versions`, presenting
/// `identity` (or no certificate), offering `alpn`.
fn tls_config(
    t: &TestServer,
    versions: &[&'static SupportedProtocolVersion],
    identity: Option<&Credentials>,
    alpn: &[&[u8]],
) -> Arc<ClientConfig> {
    let builder = ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_protocol_versions(versions)
    .expect("protocol versions")
    .with_root_certificates(roots(t));
    let mut config = match identity {
        Some(c) => {
            let chain = CertificateDer::pem_slice_iter(c.cert_pem.as_bytes())
                .collect::<Result<Vec<_>, _>>()
                .expect("certificate PEM");
            let key = PrivateKeyDer::from_pem_slice(c.key_pem.as_bytes()).expect("key PEM");
            builder
                .with_client_auth_cert(chain, key)
                .expect("client certificate")
        }
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Arc::new(config)
}

static BOTH_VERSIONS: [&SupportedProtocolVersion; 2] =
    [&rustls::version::TLS13, &rustls::version::TLS12];

fn both_versions() -> &'static [&'static SupportedProtocolVersion] {
    &BOTH_VERSIONS
}

async fn connect(t: &TestServer, config: Arc<ClientConfig>) -> io::Result<TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(t.server.pfs_addr).await?;
    let name = ServerName::try_from("localhost").expect("server name");
    TlsConnector::from(config).connect(name, tcp).await
}

/// An HTTP/1.1 reply read by hand.
#[derive(Debug)]
pub(crate) struct HttpReply {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: String,
}

impl HttpReply {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    #[track_caller]
    pub(crate) fn error(&self, code: &str, echo: Option<&str>) -> Element {
        let el = check_error(
            self.status,
            self.header("content-type"),
            &self.body,
            code,
            echo,
        );
        assert!(self.header("suid").is_none(), "an Error carries no suid");
        el
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Reads one response with a `Content-Length` (what the server always sends).
pub(crate) async fn read_response<S: AsyncRead + Unpin>(s: &mut S) -> io::Result<HttpReply> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    loop {
        if let Some(end) = find(&buf, b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).into_owned();
            let mut lines = head.split("\r\n");
            let status_line = lines.next().unwrap_or("");
            let status = status_line
                .split(' ')
                .nth(1)
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| io::Error::other(format!("bad status line {status_line:?}")))?;
            let headers: Vec<(String, String)> = lines
                .filter_map(|l| l.split_once(':'))
                .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
                .collect();
            let length: usize = headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
                .and_then(|(_, v)| v.parse().ok())
                .ok_or_else(|| io::Error::other("no Content-Length"))?;
            if buf.len() >= end + 4 + length {
                let body = String::from_utf8_lossy(&buf[end + 4..end + 4 + length]).into_owned();
                return Ok(HttpReply {
                    status,
                    headers,
                    body,
                });
            }
        }
        let n = s.read(&mut chunk).await?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("connection closed after {} bytes", buf.len()),
            ));
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Sends `request` (written concurrently, so an early reply to a large body is still read)
/// and reads the reply, within 20 seconds.
async fn exchange_on(stream: TlsStream<TcpStream>, request: Vec<u8>) -> io::Result<HttpReply> {
    let (mut rd, mut wr) = tokio::io::split(stream);
    let writer = tokio::spawn(async move {
        let result = async {
            wr.write_all(&request).await?;
            wr.flush().await
        }
        .await;
        (wr, result)
    });
    let reply = tokio::time::timeout(Duration::from_secs(20), read_response(&mut rd))
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "no reply within 20 s"))?;
    writer.abort();
    reply
}

/// Connects with the demo provider's certificate and exchanges one request.
pub(crate) async fn exchange(t: &TestServer, request: Vec<u8>) -> io::Result<HttpReply> {
    let config = tls_config(t, both_versions(), Some(&t.demo), &[b"http/1.1"]);
    exchange_on(connect(t, config).await?, request).await
}

/// A PFS request (`POST /tpp/` with `type`, and `suid` when given) sent by the demo provider
/// over a new mutual-TLS connection, as raw bytes; the reply as read off the wire.
pub(crate) async fn raw_post(
    t: &TestServer,
    message_type: &str,
    suid: Option<&str>,
    body: &str,
) -> io::Result<HttpReply> {
    let mut headers = vec![
        ("type", message_type),
        ("Content-Type", "text/xml; charset=utf-8"),
    ];
    if let Some(suid) = suid {
        headers.push(("suid", suid));
    }
    exchange(t, http_request("POST", "/tpp/", &headers, body.as_bytes())).await
}

/// An HTTP/1.1 request with `Content-Length`; `headers` are added as given.
fn http_request(method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut out = format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\n");
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    ));
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

/// An HTTP/1.1 POST whose body is sent chunked (no `Content-Length`), in 16 KiB chunks.
fn chunked_request(message_type: &str, body: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "POST /tpp/ HTTP/1.1\r\nHost: localhost\r\ntype: {message_type}\r\nContent-Type: text/xml; charset=utf-8\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    )
    .into_bytes();
    for chunk in body.chunks(16 * 1024) {
        out.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        out.extend_from_slice(chunk);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

fn xml_post(message_type: &str, body: &[u8]) -> Vec<u8> {
    http_request(
        "POST",
        "/tpp/",
        &[
            ("type", message_type),
            ("Content-Type", "text/xml; charset=utf-8"),
            ("Accept", "text/xml"),
        ],
        body,
    )
}

/// A CheckVersion body padded with a comment to exactly `size` bytes.
fn padded_check_version(uuid: &str, provider_id: &str, size: usize) -> String {
    let base = check_version_xml(uuid, provider_id);
    let filler = size.saturating_sub(base.len() + "<!---->".len());
    let body = format!("{base}<!--{}-->", "x".repeat(filler));
    assert_eq!(body.len(), size.max(base.len() + 7));
    body
}

// ---------------------------------------------------------------------------------------------
// Client certificates and provider identity
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn no_client_certificate_is_refused() {
    let t = TestServer::start().await.unwrap();
    for versions in [
        &[&rustls::version::TLS13][..],
        &[&rustls::version::TLS12][..],
    ] {
        let config = tls_config(&t, versions, None, &[b"http/1.1"]);
        let body = check_version_xml(&new_uuid(), &t.demo.provider_id);
        let outcome = match connect(&t, config).await {
            // TLS 1.2 fails in the handshake itself.
            Err(e) => Err(e),
            // With TLS 1.3 the client finishes first; the server's refusal arrives as an
            // alert when the request is written or the reply read.
            Ok(stream) => exchange_on(stream, xml_post("CheckVersion", body.as_bytes())).await,
        };
        match outcome {
            Err(_) => {}
            Ok(reply) => panic!(
                "a connection without a client certificate got an HTTP reply: {} {}",
                reply.status, reply.body
            ),
        }
    }
    assert_still_serving(&t).await;
}

#[tokio::test]
async fn certificate_from_another_ca_is_refused_and_the_server_keeps_serving() {
    let t = TestServer::start().await.unwrap();
    let other_ca = pki::new_ca("some other CA").unwrap();
    let pair = pki::new_client_cert(&other_ca, "intruder").unwrap();
    let creds = Credentials {
        cert_pem: pair.cert_pem,
        key_pem: pair.key_pem,
        // Even the real provider id does not help without a certificate from the right CA.
        provider_id: t.demo.provider_id.clone(),
    };
    let client = t.client_for(&creds);
    for _ in 0..3 {
        match client.check_version().await {
            Err(Error::Transport(_)) => {}
            other => panic!("expected a transport error, got {other:?}"),
        }
    }
    // Raw: the handshake or the first exchange fails; no HTTP reply.
    let config = tls_config(&t, both_versions(), Some(&creds), &[b"http/1.1"]);
    let body = check_version_xml(&new_uuid(), &t.demo.provider_id);
    if let Ok(stream) = connect(&t, config).await {
        let r = exchange_on(stream, xml_post("CheckVersion", body.as_bytes())).await;
        assert!(r.is_err(), "{r:?}");
    }
    assert_still_serving(&t).await;
}

#[tokio::test]
async fn unregistered_certificate_from_the_server_ca_gets_9007() {
    let t = TestServer::start().await.unwrap();
    let pair = pki::new_client_cert(&server_ca(&t), "not registered").unwrap();
    let creds = Credentials {
        cert_pem: pair.cert_pem,
        key_pem: pair.key_pem,
        provider_id: "0123456789abcdef".into(),
    };
    let client = t.client_for(&creds);
    expect_code(client.check_version().await, "9007");
    // Raw, with the uuid echoed; the demo provider's id in the body changes nothing.
    let uuid = new_uuid();
    let r = client
        .raw(
            "CheckVersion",
            None,
            check_version_xml(&uuid, &t.demo.provider_id),
        )
        .await
        .unwrap();
    let el = raw_error(&r, "9007", Some(&uuid));
    assert!(
        el.get("technicalMessage")
            .unwrap()
            .contains("not registered"),
        "{}",
        r.body
    );
    // Every message type gets the same answer.
    let a = t.account("Example").clone();
    expect_code(client.link_account(TestServer::register(&a)).await, "9007");
    // In-session messages too, before their apiVersion, body or suid are judged.
    for (suid, body) in [
        (
            Some("made-up"),
            format!(
                r#"<PatientSelected apiVersion="7" uuid="{uuid}" patientId="1" onlineUserId="1"/>"#
            ),
        ),
        (
            None,
            format!(r#"<PatientSelected apiVersion="1" uuid="{uuid}"/>"#),
        ),
        (Some("made-up"), "<PatientSelected".to_owned()),
    ] {
        let r = client.raw("PatientSelected", suid, body).await.unwrap();
        raw_error(&r, "9007", None);
    }
    // A registered provider is told about apiVersion first, then about the session.
    let demo = t.client();
    let v7 = format!(
        r#"<PatientSelected apiVersion="7" uuid="{uuid}" patientId="1" onlineUserId="1"/>"#
    );
    let r = demo
        .raw("PatientSelected", Some("made-up"), v7)
        .await
        .unwrap();
    raw_error(&r, "9006", Some(&uuid));
    let v1 = format!(
        r#"<PatientSelected apiVersion="1" uuid="{uuid}" patientId="1" onlineUserId="1"/>"#
    );
    let r = demo
        .raw("PatientSelected", Some("made-up"), v1)
        .await
        .unwrap();
    raw_error(&r, "3", Some(&uuid));
    assert_still_serving(&t).await;
}

#[tokio::test]
async fn revoked_provider_is_refused_at_once_even_on_an_open_connection() {
    let t = TestServer::start().await.unwrap();
    let creds = t.new_provider("soon revoked", false).await.unwrap();
    let client = t.client_for(&creds);
    let a = t.account("Jones").clone();
    let passphrase = t.link(&client, &a).await.unwrap();
    let session = client
        .authenticate(&a.organisation_code, &a.account_id, &passphrase)
        .await
        .unwrap();
    session.keep_alive().await.unwrap();
    client.check_version().await.unwrap();

    let (status, body) = t
        .admin(
            "POST",
            &format!("/api/providers/{}/revoke", creds.provider_id),
            None,
        )
        .await
        .unwrap();
    assert_eq!(status, 204, "{body}");

    // The same client (its pooled, kept-alive connection) is refused at once.
    expect_code(session.keep_alive().await, "9007");
    expect_code(session.list_service_accesses().await, "9007");
    expect_code(client.check_version().await, "9007");
    expect_code(
        client
            .authenticate(&a.organisation_code, &a.account_id, &passphrase)
            .await
            .map(|_| ()),
        "9007",
    );
    expect_code(client.link_account(TestServer::register(&a)).await, "9007");
    // A fresh client with the same certificate too.
    expect_code(t.client_for(&creds).check_version().await, "9007");
    // Other providers are unaffected.
    assert_still_serving(&t).await;
}

// ---------------------------------------------------------------------------------------------
// TLS versions, ALPN, paths
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn tls_1_2_and_1_3_both_work_and_negotiate_http_1_1() {
    let t = TestServer::start().await.unwrap();
    for (version, expected) in [
        (&rustls::version::TLS12, rustls::ProtocolVersion::TLSv1_2),
        (&rustls::version::TLS13, rustls::ProtocolVersion::TLSv1_3),
    ] {
        let config = tls_config(&t, &[version], Some(&t.demo), &[b"h2", b"http/1.1"]);
        let stream = connect(&t, config).await.unwrap();
        let conn = stream.get_ref().1;
        assert_eq!(conn.protocol_version(), Some(expected));
        assert_eq!(
            conn.alpn_protocol(),
            Some(&b"http/1.1"[..]),
            "http/1.1 is chosen over h2"
        );
        let uuid = new_uuid();
        let reply = exchange_on(
            stream,
            xml_post(
                "CheckVersion",
                check_version_xml(&uuid, &t.demo.provider_id).as_bytes(),
            ),
        )
        .await
        .unwrap();
        assert_eq!(reply.status, 200, "{reply:?}");
        assert!(
            reply
                .header("content-type")
                .unwrap_or("")
                .starts_with("text/xml"),
            "{reply:?}"
        );
        assert!(!is_error_body(&reply.body), "{}", reply.body);
        let el = Element::parse(reply.body.as_bytes()).unwrap();
        assert_eq!(el.name, "CheckVersionReply");
        assert_eq!(el.get("uuid"), Some(uuid.as_str()));
    }
}

#[tokio::test]
async fn connections_without_alpn_work_too() {
    let t = TestServer::start().await.unwrap();
    let config = tls_config(&t, both_versions(), Some(&t.demo), &[]);
    let stream = connect(&t, config).await.unwrap();
    assert_eq!(stream.get_ref().1.alpn_protocol(), None);
    let reply = exchange_on(
        stream,
        xml_post(
            "CheckVersion",
            check_version_xml(&new_uuid(), &t.demo.provider_id).as_bytes(),
        ),
    )
    .await
    .unwrap();
    assert_eq!(reply.status, 200);
    assert!(reply.body.contains("<CheckVersionReply"), "{}", reply.body);
}

#[tokio::test]
async fn only_h2_offered_fails_the_handshake() {
    // The server speaks HTTP/1.1 only; a client insisting on h2 is refused rather than
    // answered in a protocol it did not ask for.
    let t = TestServer::start().await.unwrap();
    let config = tls_config(&t, both_versions(), Some(&t.demo), &[b"h2"]);
    match connect(&t, config).await {
        Err(_) => {}
        Ok(stream) => {
            let r = exchange_on(
                stream,
                xml_post(
                    "CheckVersion",
                    check_version_xml(&new_uuid(), &t.demo.provider_id).as_bytes(),
                ),
            )
            .await;
            assert!(r.is_err(), "{r:?}");
        }
    }
    assert_still_serving(&t).await;
}

#[tokio::test]
async fn any_path_is_the_endpoint() {
    let t = TestServer::start().await.unwrap();
    let port = t.server.pfs_addr.port();
    for path in [
        "/tpp/",
        "/tpp",
        "/",
        "/anything/else",
        "/deep/path/with?query=1",
    ] {
        let client = client_at(&t, &format!("https://localhost:{port}{path}"), &t.demo);
        let reply = client
            .check_version()
            .await
            .unwrap_or_else(|e| panic!("{path}: {e}"));
        assert_eq!(reply.current_version, "1", "{path}");
        // The path never changes the answer to a bad request either.
        let r = client.raw("Bogus", None, "<Bogus/>".into()).await.unwrap();
        raw_error(&r, "9002", None);
    }
}

// ---------------------------------------------------------------------------------------------
// Bad input
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn malformed_bodies_get_9001_with_the_uuid_echoed() {
    let t = TestServer::start().await.unwrap();
    let client = t.client();
    let p = t.demo.provider_id.clone();
    let uuid = new_uuid();
    let cases: Vec<(&str, String, Option<&str>)> = vec![
        // Not well-formed: unclosed element, mismatched end tag, text only.
        (
            "unclosed",
            format!(r#"<CheckVersion apiVersion="1" uuid="{uuid}"><Application providerId="{p}">"#),
            Some(&uuid),
        ),
        (
            "mismatched end tag",
            format!(r#"<CheckVersion uuid="{uuid}"></CheckVersoin>"#),
            Some(&uuid),
        ),
        ("not XML", "hello".into(), None),
        ("empty", String::new(), None),
        ("white space only", "  \r\n ".into(), None),
        (
            "two roots",
            format!(
                "{}{}",
                check_version_xml(&uuid, &p),
                check_version_xml(&uuid, &p)
            ),
            Some(&uuid),
        ),
        (
            "undeclared entity in an attribute",
            format!(
                r#"<CheckVersion uuid="{uuid}" apiVersion="&one;"><Application providerId="{p}"/></CheckVersion>"#
            ),
            Some(&uuid),
        ),
        (
            "undeclared entity in text",
            format!(
                r#"<CheckVersion uuid="{uuid}"><Application providerId="{p}">&nbsp;</Application></CheckVersion>"#
            ),
            Some(&uuid),
        ),
        (
            "100 levels deep",
            format!(
                r#"<CheckVersion uuid="{uuid}"><Application providerId="{p}"/>{}{}</CheckVersion>"#,
                "<a>".repeat(100),
                "</a>".repeat(100)
            ),
            Some(&uuid),
        ),
    ];
    for (what, body, echo) in cases {
        let r = client.raw("CheckVersion", None, body).await.unwrap();
        let el = raw_error(&r, "9001", echo);
        let technical = el.get("technicalMessage").unwrap();
        assert!(!technical.contains("CheckVersoin"), "{what}: quotes input");
        assert_still_serving(&t).await;
    }
}

#[tokio::test]
async fn doctype_and_billion_laughs_are_refused_quickly() {
    let t = TestServer::start().await.unwrap();
    let uuid = new_uuid();
    let p = &t.demo.provider_id;
    let laughs = format!(
        r#"<?xml version="1.0"?>
<!DOCTYPE CheckVersion [
  <!ENTITY lol "lol">
  <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
  <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
  <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
  <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
  <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
  <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
  <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<CheckVersion uuid="{uuid}" apiVersion="1"><Application name="&lol9;" providerId="{p}"/></CheckVersion>"#
    );
    let external = format!(
        r#"<!DOCTYPE CheckVersion [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><CheckVersion uuid="{uuid}"><Application name="&xxe;" providerId="{p}"/></CheckVersion>"#
    );
    let client = t.client();
    for body in [laughs, external] {
        let started = Instant::now();
        let r = client.raw("CheckVersion", None, body).await.unwrap();
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "took {:?}",
            started.elapsed()
        );
        let el = raw_error(&r, "9001", Some(&uuid));
        assert!(!r.body.contains("root:"), "no external entity is read");
        assert!(!el.get("technicalMessage").unwrap().contains("lol"));
    }
    assert_still_serving(&t).await;
}

#[tokio::test]
async fn non_utf8_body_gets_9001() {
    let t = TestServer::start().await.unwrap();
    let uuid = new_uuid();
    // Latin-1 "é" in a value, declared as UTF-8.
    let mut body = format!(r#"<CheckVersion apiVersion="1" uuid="{uuid}"><Application name="caf"#)
        .into_bytes();
    body.push(0xE9);
    body.extend_from_slice(
        format!(r#"" providerId="{}"/></CheckVersion>"#, t.demo.provider_id).as_bytes(),
    );
    let reply = exchange(&t, xml_post("CheckVersion", &body)).await.unwrap();
    reply.error("9001", Some(&uuid));
    // UTF-16 is not UTF-8 either.
    let utf16: Vec<u8> = check_version_xml(&uuid, &t.demo.provider_id)
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    let reply = exchange(&t, xml_post("CheckVersion", &utf16))
        .await
        .unwrap();
    reply.error("9001", None);
    assert_still_serving(&t).await;
}

#[tokio::test]
async fn type_header_problems_get_9002_and_9003() {
    let t = TestServer::start().await.unwrap();
    let client = t.client();
    let uuid = new_uuid();
    let body = check_version_xml(&uuid, &t.demo.provider_id);

    // The root element is not the one the type header names.
    for ty in ["Logoff", "Authenticate", "LinkAccount"] {
        let r = client.raw(ty, None, body.clone()).await.unwrap();
        let el = raw_error(&r, "9003", Some(&uuid));
        let technical = el.get("technicalMessage").unwrap();
        assert!(technical.contains("CheckVersion"), "{technical}");
    }
    // Unknown type header, including a reply name and a case variant.
    for ty in ["Bogus", "CheckVersionReply", "checkversion", "Error"] {
        let r = client.raw(ty, None, body.clone()).await.unwrap();
        raw_error(&r, "9002", Some(&uuid));
    }
    // An empty type header.
    let r = client.raw("", None, body.clone()).await.unwrap();
    raw_error(&r, "9002", Some(&uuid));
    // No type header at all.
    let reply = exchange(
        &t,
        http_request(
            "POST",
            "/tpp/",
            &[("Content-Type", "text/xml; charset=utf-8")],
            body.as_bytes(),
        ),
    )
    .await
    .unwrap();
    reply.error("9002", Some(&uuid));
    assert_still_serving(&t).await;
}

#[tokio::test]
async fn invalid_fields_get_9004_naming_the_field() {
    let t = TestServer::start().await.unwrap();
    let client = t.client();
    let p = t.demo.provider_id.clone();
    let uuid = new_uuid();

    // Authenticate without accountId.
    let body = format!(
        r#"<Authenticate {XMLNS} apiVersion="1" uuid="{uuid}" unitId="Y99001" passphrase="secret-value" providerId="{p}"><Application name="x" version="1" providerId="{p}" deviceType="x"/></Authenticate>"#
    );
    let r = client.raw("Authenticate", None, body).await.unwrap();
    let el = raw_error(&r, "9004", Some(&uuid));
    let technical = el.get("technicalMessage").unwrap();
    assert!(technical.contains("accountId"), "{technical}");
    assert!(!technical.contains("secret-value"), "{technical}");

    // Authenticate without its Application element.
    let body = format!(
        r#"<Authenticate apiVersion="1" uuid="{uuid}" unitId="Y99001" accountId="1" passphrase="p" providerId="{p}"/>"#
    );
    let r = client.raw("Authenticate", None, body).await.unwrap();
    let el = raw_error(&r, "9004", Some(&uuid));
    assert!(
        el.get("technicalMessage").unwrap().contains("Application"),
        "{}",
        r.body
    );

    // A uuid that is not a GUID: a fresh GUID comes back, never the bad value.
    for bad in ["not-a-guid", "12345", "0f5a2c8e3b7d4e619a205c1d8e4f7b93x"] {
        let body = format!(
            r#"<CheckVersion apiVersion="1" uuid="{bad}"><Application providerId="{p}"/></CheckVersion>"#
        );
        let r = client.raw("CheckVersion", None, body).await.unwrap();
        let el = raw_error(&r, "9004", None);
        assert_ne!(el.get("uuid"), Some(bad));
        assert!(
            el.get("technicalMessage").unwrap().contains("uuid"),
            "{}",
            r.body
        );
    }

    // LinkAccount with a date of birth in the wrong form.
    let body = format!(
        r#"<LinkAccount apiVersion="1" uuid="{uuid}" organisationCode="Y99001" lastName="Example" dateOfBirth="14/02/1980" accountId="1" passphrase="k"><Application providerId="{p}"/></LinkAccount>"#
    );
    let r = client.raw("LinkAccount", None, body).await.unwrap();
    let el = raw_error(&r, "9004", Some(&uuid));
    let technical = el.get("technicalMessage").unwrap();
    assert!(technical.contains("dateOfBirth"), "{technical}");
    assert!(!technical.contains("1980"), "{technical}");
    assert_still_serving(&t).await;
}

#[tokio::test]
async fn unsupported_api_version_gets_9006_naming_the_supported_ones() {
    let t = TestServer::start().await.unwrap();
    let client = t.client();
    let p = &t.demo.provider_id;
    for version in ["7", "2", "1.0", "0"] {
        let uuid = new_uuid();
        let body = format!(
            r#"<CheckVersion apiVersion="{version}" uuid="{uuid}"><Application providerId="{p}"/></CheckVersion>"#
        );
        let r = client.raw("CheckVersion", None, body).await.unwrap();
        let el = raw_error(&r, "9006", Some(&uuid));
        let technical = el.get("technicalMessage").unwrap();
        assert!(
            technical.contains("supported") && technical.contains('1'),
            "{technical}"
        );
    }
    assert_still_serving(&t).await;
}

#[tokio::test]
async fn get_and_other_methods_get_9001() {
    let t = TestServer::start().await.unwrap();
    let uuid = new_uuid();
    let body = check_version_xml(&uuid, &t.demo.provider_id);
    let reply = exchange(
        &t,
        http_request("GET", "/tpp/", &[("type", "CheckVersion")], b""),
    )
    .await
    .unwrap();
    let el = reply.error("9001", None);
    assert!(
        el.get("technicalMessage").unwrap().contains("POST"),
        "{}",
        reply.body
    );
    for method in ["PUT", "DELETE", "PATCH"] {
        let reply = exchange(
            &t,
            http_request(
                method,
                "/tpp/",
                &[("type", "CheckVersion")],
                body.as_bytes(),
            ),
        )
        .await
        .unwrap();
        reply.error("9001", Some(&uuid));
    }
    assert_still_serving(&t).await;
}

#[tokio::test]
async fn bodies_over_one_mib_get_9005() {
    let t = TestServer::start().await.unwrap();
    let p = t.demo.provider_id.clone();

    // Exactly the limit is accepted.
    let uuid = new_uuid();
    let r = t
        .client()
        .raw("CheckVersion", None, padded_check_version(&uuid, &p, MIB))
        .await
        .unwrap();
    let el = raw_ok(&r, "CheckVersionReply");
    assert_eq!(el.get("uuid"), Some(uuid.as_str()));

    // One byte more, with Content-Length (through the SDK).
    let uuid = new_uuid();
    let r = t
        .client()
        .raw(
            "CheckVersion",
            None,
            padded_check_version(&uuid, &p, MIB + 1),
        )
        .await
        .unwrap();
    raw_error(&r, "9005", None);

    // Much more, with Content-Length, by hand.
    let uuid = new_uuid();
    let body = padded_check_version(&uuid, &p, 2 * MIB);
    let reply = exchange(&t, xml_post("CheckVersion", body.as_bytes()))
        .await
        .unwrap();
    reply.error("9005", None);

    // Chunked, so the server only learns the size while reading.
    let uuid = new_uuid();
    let body = padded_check_version(&uuid, &p, MIB + 64 * 1024);
    let reply = exchange(&t, chunked_request("CheckVersion", body.as_bytes()))
        .await
        .unwrap();
    // The body is not read to its end, so there is no uuid to echo; a fresh GUID comes back.
    let el = reply.error("9005", None);
    assert!(
        el.get("technicalMessage").unwrap().contains("1048576"),
        "{}",
        reply.body
    );

    // A chunked body under the limit is fine.
    let uuid = new_uuid();
    let body = padded_check_version(&uuid, &p, 64 * 1024);
    let reply = exchange(&t, chunked_request("CheckVersion", body.as_bytes()))
        .await
        .unwrap();
    assert_eq!(reply.status, 200);
    assert!(!is_error_body(&reply.body), "{}", reply.body);
    assert!(reply.body.contains(&uuid));

    assert_still_serving(&t).await;
}

#[tokio::test]
async fn body_limit_is_configurable() {
    let t = TestServer::start_with(|o| o.limits.max_body_bytes = 2048)
        .await
        .unwrap();
    let p = t.demo.provider_id.clone();
    let client = t.client();
    let uuid = new_uuid();
    let r = client
        .raw("CheckVersion", None, padded_check_version(&uuid, &p, 4096))
        .await
        .unwrap();
    let el = raw_error(&r, "9005", None);
    assert!(
        el.get("technicalMessage").unwrap().contains("2048"),
        "{}",
        r.body
    );
    let reply = exchange(
        &t,
        chunked_request(
            "CheckVersion",
            padded_check_version(&uuid, &p, 4096).as_bytes(),
        ),
    )
    .await
    .unwrap();
    reply.error("9005", None);
    // 2048 bytes exactly is accepted.
    let r = client
        .raw("CheckVersion", None, padded_check_version(&uuid, &p, 2048))
        .await
        .unwrap();
    raw_ok(&r, "CheckVersionReply");
}

#[tokio::test]
async fn dotnet_serializer_style_is_accepted() {
    let t = TestServer::start().await.unwrap();
    let client = t.client();
    let p = &t.demo.provider_id;
    let uuid = new_uuid();
    let bodies = [
        // Declaration, namespaces first, attributes reversed, indented.
        format!(
            "{DECLARATION}\r\n<CheckVersion {XMLNS} uuid=\"{uuid}\" apiVersion=\"1\">\r\n  <Application deviceType=\"ExampleApp\" providerId=\"{p}\" version=\"2.3\" name=\"ExampleApp\" />\r\n</CheckVersion>"
        ),
        // Namespaces last, single quotes, no declaration, explicit end tags.
        format!(
            "<CheckVersion apiVersion='1' uuid='{uuid}' {XMLNS}><Application name='ExampleApp' providerId='{p}'></Application></CheckVersion>"
        ),
        // A namespace-prefixed root and an unknown extra attribute and element.
        format!(
            r#"<x:CheckVersion xmlns:x="urn:example" extra="1" uuid="{uuid}"><Unknown/><Application providerId="{p}"/></x:CheckVersion>"#
        ),
        // Upper-case GUID in braces, as Guid.ToString("B").ToUpper() would write it.
        format!(
            r#"<CheckVersion uuid="{{{}}}" apiVersion="1"><Application providerId="{p}"/></CheckVersion>"#,
            uuid.to_uppercase()
        ),
    ];
    for body in bodies {
        let r = client.raw("CheckVersion", None, body).await.unwrap();
        let el = raw_ok(&r, "CheckVersionReply");
        assert_eq!(el.get("uuid"), Some(uuid.as_str()), "{}", r.body);
    }
}

#[tokio::test]
async fn utf8_byte_order_mark_is_accepted() {
    // A .NET XmlWriter over a UTF-8 stream writes a byte order mark before the declaration.
    let t = TestServer::start().await.unwrap();
    let uuid = new_uuid();
    let mut body = vec![0xEF, 0xBB, 0xBF];
    body.extend_from_slice(DECLARATION.as_bytes());
    body.extend_from_slice(check_version_xml(&uuid, &t.demo.provider_id).as_bytes());
    let reply = exchange(&t, xml_post("CheckVersion", &body)).await.unwrap();
    assert_eq!(reply.status, 200);
    assert!(!is_error_body(&reply.body), "{}", reply.body);
    assert!(reply.body.contains("<CheckVersionReply"), "{}", reply.body);
}

#[tokio::test]
async fn stalled_connections_are_dropped_after_the_configured_timeouts() {
    let t = TestServer::start_with(|o| {
        o.limits.handshake_timeout = Duration::from_millis(300);
        o.limits.header_timeout = Duration::from_millis(300);
    })
    .await
    .unwrap();

    // TCP connected, no TLS ClientHello: closed after the handshake timeout.
    let mut tcp = TcpStream::connect(t.server.pfs_addr).await.unwrap();
    let mut buf = [0u8; 64];
    let started = Instant::now();
    let n = tokio::time::timeout(Duration::from_secs(5), tcp.read(&mut buf))
        .await
        .expect("the server closes a connection that never starts TLS");
    assert!(matches!(n, Ok(0) | Err(_)), "{n:?}");
    assert!(started.elapsed() < Duration::from_secs(3));

    // TLS done, half a request line and no more: closed after the header timeout.
    let config = tls_config(&t, both_versions(), Some(&t.demo), &[b"http/1.1"]);
    let mut tls = connect(&t, config).await.unwrap();
    tls.write_all(b"POST /tpp/ HTTP/1.1\r\nHost: localhost\r\n")
        .await
        .unwrap();
    tls.flush().await.unwrap();
    let started = Instant::now();
    let mut rest = Vec::new();
    let r = tokio::time::timeout(Duration::from_secs(5), tls.read_to_end(&mut rest))
        .await
        .expect("the server drops a request whose headers never end");
    assert!(
        !String::from_utf8_lossy(&rest).contains(" 200 "),
        "{}",
        String::from_utf8_lossy(&rest)
    );
    let _ = r;
    assert!(started.elapsed() < Duration::from_secs(3));

    assert_still_serving(&t).await;
}

// ---------------------------------------------------------------------------------------------
// Success replies never look like errors
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn no_success_reply_matches_the_error_regex() {
    let t = TestServer::start().await.unwrap();

    // A patient whose recorded details contain the error marker, so replies echo it.
    let nhs = (0..)
        .find_map(|n| pfs_core::nhs::complete(&format!("{:09}", 943_000_100 + n)))
        .unwrap();
    let (status, patient) = t
        .admin(
            "POST",
            "/api/patients",
            Some(json!({
                "ods": "Y99001",
                "nhsNumber": nhs,
                "title": "errorCode=1",
                "firstName": "errorCode =2",
                "lastName": "Marker",
                "dateOfBirth": "1990-01-01",
                "gender": "errorCode=3",
                "address": "errorCode= 4, Leeds",
            })),
        )
        .await
        .unwrap();
    assert_eq!(status, 201, "{patient}");
    let patient_id = patient["id"].as_str().unwrap().to_owned();
    let (status, issued) = t
        .admin(
            "POST",
            &format!("/api/patients/{patient_id}/account"),
            Some(json!({})),
        )
        .await
        .unwrap();
    assert_eq!(status, 200, "{issued}");
    let account_id = issued["accountId"].as_str().unwrap().to_owned();
    let key = issued["linkageKey"].as_str().unwrap().to_owned();
    let ada = t.account("Example").clone();
    let ada_id = t.patient_id(&ada.nhs_number).await.unwrap();
    // Let Ada act for the marker patient, so her AuthenticateReply lists it as a proxy.
    let (status, _) = t
        .admin(
            "POST",
            &format!("/api/patients/{ada_id}/proxies"),
            Some(json!({ "patientId": patient_id })),
        )
        .await
        .unwrap();
    assert_eq!(status, 204);

    let client = t.client();
    let p = t.demo.provider_id.clone();
    let mut replies: Vec<(&str, RawResponse)> = Vec::new();

    let check = CheckVersion {
        header: Header::new(None),
        application: application(&p),
    };
    replies.push((
        "CheckVersionReply",
        client
            .raw("CheckVersion", None, check.encode())
            .await
            .unwrap(),
    ));

    // LinkAccount register, by hand.
    let link = pfs_wire::LinkAccount {
        header: Header::new(None),
        organisation_code: "Y99001".into(),
        last_name: "Marker".into(),
        date_of_birth: chrono::NaiveDate::from_ymd_opt(1990, 1, 1).unwrap(),
        application: application(&p),
        variant: pfs_wire::LinkVariant::Register {
            account_id: account_id.clone(),
            linkage_key: key.clone().into(),
        },
    };
    let r = client
        .raw("LinkAccount", None, link.encode())
        .await
        .unwrap();
    let passphrase = raw_ok(&r, "LinkAccountReply")
        .get("passphrase")
        .unwrap()
        .to_owned();
    replies.push(("LinkAccountReply", r));

    for (account, pass, ods) in [
        (account_id.clone(), passphrase.clone(), "Y99001".to_owned()),
        (
            ada.account_id.clone(),
            t.link(&client, &ada)
                .await
                .unwrap()
                .expose_secret()
                .to_owned(),
            ada.organisation_code.clone(),
        ),
    ] {
        let auth = Authenticate {
            header: Header::new(Some(ods.clone())),
            account_id: account,
            passphrase: pass.into(),
            provider_id: p.clone(),
            application: application(&p),
        };
        let r = client
            .raw("Authenticate", None, auth.encode())
            .await
            .unwrap();
        let el = raw_ok(&r, "AuthenticateReply");
        let suid = r.suid.clone().expect("suid");
        let me = el.get("onlineUserId").unwrap().to_owned();
        replies.push(("AuthenticateReply", r));

        let scope = |patient: &str| PatientScope {
            patient_id: patient.to_owned(),
            online_user_id: me.clone(),
        };
        // The marker patient acts for themself; Ada selects the marker patient as a proxy.
        let target = patient_id.clone();
        let selected = PatientSelected {
            header: Header::new(Some(ods.clone())),
            scope: scope(&target),
        };
        replies.push((
            "PatientSelectedReply",
            client
                .raw("PatientSelected", Some(&suid), selected.encode())
                .await
                .unwrap(),
        ));
        let list = ListServiceAccesses {
            header: Header::new(Some(ods.clone())),
            scope: scope(&target),
        };
        replies.push((
            "ListServiceAccessesReply",
            client
                .raw("ListServiceAccesses", Some(&suid), list.encode())
                .await
                .unwrap(),
        ));
        let logoff = Logoff {
            header: Header::new(None),
        };
        replies.push((
            "LogoffReply",
            client
                .raw("Logoff", Some(&suid), logoff.encode())
                .await
                .unwrap(),
        ));
    }

    for (root, r) in &replies {
        raw_ok(r, root);
        assert!(
            !is_error_body(&r.body),
            "{root} matches errorCode\\s?=: {}",
            r.body
        );
    }
    // The marker text really is in the replies, escaped, and decodes back.
    let auth = replies
        .iter()
        .find(|(root, r)| *root == "AuthenticateReply" && r.body.contains("Marker"))
        .unwrap();
    let decoded: pfs_wire::AuthenticateReply = auth.1.decode().unwrap();
    assert!(
        decoded.user.name.contains("errorCode =2"),
        "{}",
        auth.1.body
    );
    assert_eq!(decoded.user.gender, "errorCode=3");
    let ada_auth = replies
        .iter()
        .filter(|(root, _)| *root == "AuthenticateReply")
        .nth(1)
        .unwrap();
    let decoded: pfs_wire::AuthenticateReply = ada_auth.1.decode().unwrap();
    assert!(
        decoded
            .people
            .iter()
            .any(|person| person.patient_id == patient_id && person.gender == "errorCode=3"),
        "the proxy is listed with its details"
    );
}

// ---------------------------------------------------------------------------------------------
// Concurrency
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_clients_all_succeed() {
    let t = TestServer::start().await.unwrap();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..50 {
        let client = t.client();
        tasks.spawn(async move { client.check_version().await });
    }
    let mut ok = 0;
    while let Some(result) = tasks.join_next().await {
        let reply = result.expect("task").expect("CheckVersion succeeds");
        assert_eq!(reply.current_version, "1");
        ok += 1;
    }
    assert_eq!(ok, 50);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_client_many_concurrent_calls_keep_their_uuids() {
    let t = TestServer::start().await.unwrap();
    let client = t.client();
    let p = t.demo.provider_id.clone();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..50 {
        let client = client.clone();
        let uuid = new_uuid();
        let body = check_version_xml(&uuid, &p);
        tasks.spawn(async move { (uuid, client.raw("CheckVersion", None, body).await) });
    }
    while let Some(result) = tasks.join_next().await {
        let (uuid, r) = result.expect("task");
        let r = r.expect("reply");
        let el = raw_ok(&r, "CheckVersionReply");
        assert_eq!(el.get("uuid"), Some(uuid.as_str()));
    }
}

// ---------------------------------------------------------------------------------------------
// Bounded transport: deadlines, caps, methods, duplicate headers, panics, shutdown
// ---------------------------------------------------------------------------------------------

/// Reads until the peer closes the connection (end of stream or reset); a 10-second guard
/// turns a hang into a failure.
async fn read_until_closed<S: AsyncRead + Unpin>(s: &mut S) -> Vec<u8> {
    let mut rest = Vec::new();
    let mut chunk = [0u8; 4096];
    tokio::time::timeout(Duration::from_secs(10), async {
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

/// Reads up to the end of one response head (`\r\n\r\n`), byte by byte so that nothing after
/// it is consumed; used to wait for `100 Continue`.
async fn read_head<S: AsyncRead + Unpin>(s: &mut S) -> String {
    let mut head = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), async {
        while !head.ends_with(b"\r\n\r\n") {
            head.push(s.read_u8().await.expect("a response head"));
        }
    })
    .await
    .expect("a response head arrives");
    String::from_utf8_lossy(&head).into_owned()
}

/// The head of a keep-alive PFS POST whose body is `length` bytes; `extra` headers are added
/// as given (each ending in `\r\n`).
fn post_head(message_type: &str, length: usize, extra: &str) -> String {
    format!(
        "POST /tpp/ HTTP/1.1\r\nHost: localhost\r\ntype: {message_type}\r\nContent-Type: text/xml; charset=utf-8\r\nContent-Length: {length}\r\n{extra}\r\n"
    )
}

/// Sends the head of a request and the first `sent` bytes of its body, with
/// `Expect: 100-continue`, and waits for the `100 Continue` the server sends when it starts
/// reading the body: from then on the request is in flight.
pub(crate) async fn start_in_flight(
    t: &TestServer,
    creds: &Credentials,
    body: &str,
    sent: usize,
) -> TlsStream<TcpStream> {
    let config = tls_config(t, both_versions(), Some(creds), &[b"http/1.1"]);
    let mut tls = connect(t, config).await.unwrap();
    let head = post_head("CheckVersion", body.len(), "Expect: 100-continue\r\n");
    tls.write_all(head.as_bytes()).await.unwrap();
    tls.flush().await.unwrap();
    let continued = read_head(&mut tls).await;
    assert!(continued.starts_with("HTTP/1.1 100"), "{continued}");
    tls.write_all(&body.as_bytes()[..sent]).await.unwrap();
    tls.flush().await.unwrap();
    tls
}

#[tokio::test]
async fn body_shorter_than_its_content_length_is_answered_at_the_request_deadline() {
    let t = TestServer::start_with(|o| o.limits.request_timeout = Duration::from_millis(500))
        .await
        .unwrap();
    let uuid = new_uuid();
    let body = check_version_xml(&uuid, &t.demo.provider_id);
    let config = tls_config(&t, both_versions(), Some(&t.demo), &[b"http/1.1"]);
    let mut tls = connect(&t, config).await.unwrap();
    // Keep-alive, 100 bytes announced that never come: the server is the one that closes.
    let head = post_head("CheckVersion", body.len() + 100, "");
    tls.write_all(head.as_bytes()).await.unwrap();
    tls.write_all(body.as_bytes()).await.unwrap();
    tls.flush().await.unwrap();
    let reply = tokio::time::timeout(Duration::from_secs(10), read_response(&mut tls))
        .await
        .expect("the request is answered")
        .unwrap();
    let el = reply.error("9001", None);
    let technical = el.get("technicalMessage").unwrap();
    assert!(
        technical.contains("did not arrive in full within 500 ms"),
        "{technical}"
    );
    assert_eq!(reply.header("connection"), Some("close"), "{reply:?}");
    read_until_closed(&mut tls).await;
    assert_still_serving(&t).await;
}

#[tokio::test]
async fn never_ending_chunked_body_is_answered_at_the_request_deadline() {
    let t = TestServer::start_with(|o| o.limits.request_timeout = Duration::from_millis(500))
        .await
        .unwrap();
    let head = "POST /tpp/ HTTP/1.1\r\nHost: localhost\r\ntype: CheckVersion\r\nContent-Type: text/xml; charset=utf-8\r\nTransfer-Encoding: chunked\r\n\r\n";

    // A first chunk, then nothing: no last chunk ever comes.
    let config = tls_config(&t, both_versions(), Some(&t.demo), &[b"http/1.1"]);
    let mut tls = connect(&t, config.clone()).await.unwrap();
    tls.write_all(format!("{head}d\r\n<CheckVersion\r\n").as_bytes())
        .await
        .unwrap();
    tls.flush().await.unwrap();
    let reply = tokio::time::timeout(Duration::from_secs(10), read_response(&mut tls))
        .await
        .expect("the request is answered")
        .unwrap();
    reply.error("9001", None);
    assert_eq!(reply.header("connection"), Some("close"), "{reply:?}");
    read_until_closed(&mut tls).await;

    // A byte every 50 ms, for ever: the connection is closed all the same. The reply may be
    // lost to the reset that closing a connection with unread input causes, so only the
    // closing is checked, from both ends.
    let tls = connect(&t, config).await.unwrap();
    let (mut rd, mut wr) = tokio::io::split(tls);
    wr.write_all(head.as_bytes()).await.unwrap();
    let writer = tokio::spawn(async move {
        loop {
            let sent = async {
                wr.write_all(b"1\r\nx\r\n").await?;
                wr.flush().await
            }
            .await;
            if sent.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    let answered = read_until_closed(&mut rd).await;
    if !answered.is_empty() {
        let text = String::from_utf8_lossy(&answered);
        assert!(text.contains(r#"errorCode="9001""#), "{text}");
    }
    tokio::time::timeout(Duration::from_secs(10), writer)
        .await
        .expect("the trickling client's writes fail once the server has closed")
        .unwrap();
    assert_still_serving(&t).await;
}

#[tokio::test]
async fn admin_listener_has_header_and_request_deadlines() {
    let t = TestServer::start_with(|o| {
        o.limits.header_timeout = Duration::from_millis(300);
        o.limits.request_timeout = Duration::from_millis(500);
    })
    .await
    .unwrap();
    let admin = t.server.admin_addr;

    // Headers that never end: closed without a reply.
    let mut tcp = TcpStream::connect(admin).await.unwrap();
    tcp.write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\n")
        .await
        .unwrap();
    let rest = read_until_closed(&mut tcp).await;
    assert!(rest.is_empty(), "{}", String::from_utf8_lossy(&rest));

    // A body shorter than its Content-Length: 408, then closed.
    let head = |token: &str| {
        format!(
            "POST /api/practices HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"ods\":"
        )
    };
    let mut tcp = TcpStream::connect(admin).await.unwrap();
    tcp.write_all(head(&t.server.admin_token).as_bytes())
        .await
        .unwrap();
    let reply = tokio::time::timeout(Duration::from_secs(10), read_response(&mut tcp))
        .await
        .expect("the request is answered")
        .unwrap();
    assert_eq!(reply.status, 408, "{reply:?}");
    let body: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
    assert_eq!(body["error"], "timeout", "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("500 ms"),
        "{body}"
    );
    assert_eq!(reply.header("connection"), Some("close"), "{reply:?}");
    read_until_closed(&mut tcp).await;

    // Without the token the body is never waited for: 401 straight away.
    let mut tcp = TcpStream::connect(admin).await.unwrap();
    tcp.write_all(head("wrong").as_bytes()).await.unwrap();
    let reply = tokio::time::timeout(Duration::from_secs(10), read_response(&mut tcp))
        .await
        .expect("the request is answered")
        .unwrap();
    assert_eq!(reply.status, 401, "{reply:?}");

    let (status, _) = t.admin("GET", "/health", None).await.unwrap();
    assert_eq!(status, 200);
    assert_still_serving(&t).await;
}

#[tokio::test]
async fn connections_over_the_cap_wait_in_the_accept_queue_until_one_closes() {
    let t = TestServer::start_with(|o| o.limits.max_connections = 2)
        .await
        .unwrap();
    let config = tls_config(&t, both_versions(), Some(&t.demo), &[b"http/1.1"]);
    let first = connect(&t, config.clone()).await.unwrap();
    let second = connect(&t, config.clone()).await.unwrap();

    // The kernel takes the third connection, the server does not: its handshake waits.
    let addr = t.server.pfs_addr;
    let third_config = config.clone();
    let mut third = tokio::spawn(async move {
        let tcp = TcpStream::connect(addr).await?;
        let name = ServerName::try_from("localhost").expect("server name");
        TlsConnector::from(third_config).connect(name, tcp).await
    });
    assert!(
        tokio::time::timeout(Duration::from_millis(300), &mut third)
            .await
            .is_err(),
        "a connection over the cap was taken"
    );

    // One closes: the waiting connection is taken and served.
    drop(first);
    let third = tokio::time::timeout(Duration::from_secs(10), third)
        .await
        .expect("the waiting connection is taken once one closes")
        .unwrap()
        .unwrap();
    let uuid = new_uuid();
    let body = check_version_xml(&uuid, &t.demo.provider_id);
    let reply = exchange_on(third, xml_post("CheckVersion", body.as_bytes()))
        .await
        .unwrap();
    assert!(reply.body.contains("<CheckVersionReply"), "{}", reply.body);
    // The other open connection was served all along.
    let reply = exchange_on(second, xml_post("CheckVersion", body.as_bytes()))
        .await
        .unwrap();
    assert!(reply.body.contains("<CheckVersionReply"), "{}", reply.body);
    assert_still_serving(&t).await;
}

#[tokio::test]
async fn requests_over_the_providers_in_flight_cap_get_9008() {
    let t = TestServer::start_with(|o| o.limits.max_in_flight_per_provider = 1)
        .await
        .unwrap();
    let uuid = new_uuid();
    let body = check_version_xml(&uuid, &t.demo.provider_id);
    // The demo provider's one slot is taken by a request whose body is half sent.
    let mut held = start_in_flight(&t, &t.demo, &body, 10).await;

    // Its next request is refused at once, before its body is read.
    let client = t.client();
    let r = client
        .raw(
            "CheckVersion",
            None,
            check_version_xml(&new_uuid(), &t.demo.provider_id),
        )
        .await
        .unwrap();
    let el = raw_error(&r, "9008", None);
    let technical = el.get("technicalMessage").unwrap();
    assert!(
        technical.contains("too many requests in flight") && technical.contains("at most 1"),
        "{technical}"
    );
    // Other providers are not affected.
    let other = t.new_provider("another app", false).await.unwrap();
    let reply = t.client_for(&other).check_version().await.unwrap();
    assert_eq!(reply.current_version, "1");

    // The held request completes normally, and frees the slot.
    held.write_all(&body.as_bytes()[10..]).await.unwrap();
    held.flush().await.unwrap();
    let reply = read_response(&mut held).await.unwrap();
    assert!(!is_error_body(&reply.body), "{}", reply.body);
    assert!(reply.body.contains(&uuid), "{}", reply.body);
    assert_still_serving(&t).await;
}

#[tokio::test]
async fn connect_options_and_head_are_refused() {
    let t = TestServer::start().await.unwrap();
    let config = tls_config(&t, both_versions(), Some(&t.demo), &[b"http/1.1"]);

    // OPTIONS, on a path or on the server: the usual Error.
    for target in ["/tpp/", "*"] {
        let reply = exchange(
            &t,
            http_request("OPTIONS", target, &[("type", "CheckVersion")], b""),
        )
        .await
        .unwrap();
        let el = reply.error("9001", None);
        assert!(
            el.get("technicalMessage").unwrap().contains("only POST"),
            "{}",
            reply.body
        );
    }

    // CONNECT: a 2xx reply would open a tunnel and could carry no body, so it gets 405 with
    // the Error body, and the connection is closed.
    let mut tls = connect(&t, config.clone()).await.unwrap();
    tls.write_all(
        b"CONNECT localhost:8443 HTTP/1.1\r\nHost: localhost:8443\r\ntype: CheckVersion\r\n\r\n",
    )
    .await
    .unwrap();
    let reply = read_response(&mut tls).await.unwrap();
    assert_eq!(reply.status, 405, "{reply:?}");
    assert_eq!(reply.header("allow"), Some("POST"), "{reply:?}");
    assert_eq!(reply.header("connection"), Some("close"), "{reply:?}");
    assert!(is_error_body(&reply.body), "{}", reply.body);
    let el = Element::parse(reply.body.as_bytes()).unwrap();
    assert_eq!(el.get("errorCode"), Some("9001"), "{}", reply.body);
    assert!(
        el.get("technicalMessage").unwrap().contains("only POST"),
        "{}",
        reply.body
    );
    read_until_closed(&mut tls).await;

    // HEAD: no reply to HEAD carries a body; 405, and the connection is closed.
    let mut tls = connect(&t, config).await.unwrap();
    tls.write_all(b"HEAD /tpp/ HTTP/1.1\r\nHost: localhost\r\ntype: CheckVersion\r\n\r\n")
        .await
        .unwrap();
    let answered = String::from_utf8_lossy(&read_until_closed(&mut tls).await).into_owned();
    assert!(answered.starts_with("HTTP/1.1 405"), "{answered}");
    assert!(
        answered
            .to_ascii_lowercase()
            .contains("\r\nallow: post\r\n"),
        "{answered}"
    );
    assert_still_serving(&t).await;
}

#[tokio::test]
async fn duplicate_type_or_suid_headers_get_9001() {
    let t = TestServer::start().await.unwrap();
    let uuid = new_uuid();
    let body = check_version_xml(&uuid, &t.demo.provider_id);
    let cases: [(&[(&str, &str)], &str); 4] = [
        (
            &[("type", "CheckVersion"), ("type", "CheckVersion")],
            "type",
        ),
        (&[("type", "CheckVersion"), ("type", "Logoff")], "type"),
        (&[("type", "Logoff"), ("Type", "CheckVersion")], "type"),
        (
            &[("type", "CheckVersion"), ("suid", "one"), ("suid", "two")],
            "suid",
        ),
    ];
    for (headers, name) in cases {
        let reply = exchange(&t, http_request("POST", "/tpp/", headers, body.as_bytes()))
            .await
            .unwrap();
        let el = reply.error("9001", Some(&uuid));
        let technical = el.get("technicalMessage").unwrap();
        assert!(
            technical.contains(&format!("the {name} header was sent more than once")),
            "{headers:?}: {technical}"
        );
    }
    // Two names in one header are one (unknown) type, not two headers.
    let reply = exchange(
        &t,
        http_request(
            "POST",
            "/tpp/",
            &[("type", "CheckVersion, Logoff")],
            body.as_bytes(),
        ),
    )
    .await
    .unwrap();
    reply.error("9002", Some(&uuid));
    assert_still_serving(&t).await;
}

#[tokio::test]
async fn a_panicking_handler_is_answered_and_counted_and_the_server_keeps_serving() {
    let t = TestServer::start_with(|o| {
        o.request_hook = Some(Arc::new(|_listener, headers| {
            if headers.contains_key("x-test-panic") {
                panic!("a handler panic the test asked for");
            }
        }));
    })
    .await
    .unwrap();
    assert_eq!(t.server.counters.panics_caught(), 0);
    let uuid = new_uuid();
    let body = check_version_xml(&uuid, &t.demo.provider_id);

    // PFS: 9010, and the same connection serves its next request.
    let config = tls_config(&t, both_versions(), Some(&t.demo), &[b"http/1.1"]);
    let mut tls = connect(&t, config).await.unwrap();
    let head = post_head("CheckVersion", body.len(), "x-test-panic: 1\r\n");
    tls.write_all(format!("{head}{body}").as_bytes())
        .await
        .unwrap();
    let reply = read_response(&mut tls).await.unwrap();
    let el = reply.error("9010", None);
    assert!(
        el.get("technicalMessage")
            .unwrap()
            .contains("internal fault"),
        "{}",
        reply.body
    );
    assert_eq!(t.server.counters.panics_caught(), 1);
    let head = post_head("CheckVersion", body.len(), "");
    tls.write_all(format!("{head}{body}").as_bytes())
        .await
        .unwrap();
    let reply = read_response(&mut tls).await.unwrap();
    assert!(reply.body.contains("<CheckVersionReply"), "{}", reply.body);

    // Admin: 500 with the API's error shape, and the same connection goes on too.
    let mut tcp = TcpStream::connect(t.server.admin_addr).await.unwrap();
    tcp.write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\nx-test-panic: 1\r\n\r\n")
        .await
        .unwrap();
    let reply = read_response(&mut tcp).await.unwrap();
    assert_eq!(reply.status, 500, "{reply:?}");
    let json: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
    assert_eq!(json["error"], "internal", "{json}");
    tcp.write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let reply = read_response(&mut tcp).await.unwrap();
    assert_eq!(reply.status, 200, "{reply:?}");
    let json: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
    assert_eq!(json["panicsCaught"], 2, "{json}");
    assert_eq!(t.server.counters.panics_caught(), 2);
    assert_still_serving(&t).await;
}

#[tokio::test]
async fn shutdown_finishes_requests_in_progress_and_closes_the_rest_at_the_drain_deadline() {
    let t = TestServer::start_with(|o| o.limits.drain_timeout = Duration::from_secs(3))
        .await
        .unwrap();
    let uuid = new_uuid();
    let body = check_version_xml(&uuid, &t.demo.provider_id);
    // Two requests in flight, and one idle connection.
    let mut finishing = start_in_flight(&t, &t.demo, &body, 10).await;
    let mut stuck = start_in_flight(&t, &t.demo, &body, 10).await;
    let config = tls_config(&t, both_versions(), Some(&t.demo), &[b"http/1.1"]);
    let mut idle = connect(&t, config).await.unwrap();
    // An admin request in flight too (its body is read after the token check).
    let mut admin = TcpStream::connect(t.server.admin_addr).await.unwrap();
    admin
        .write_all(
            format!(
                "POST /api/practices HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: 100\r\nExpect: 100-continue\r\n\r\n",
                t.server.admin_token
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    let continued = read_head(&mut admin).await;
    assert!(continued.starts_with("HTTP/1.1 100"), "{continued}");

    let stopping = tokio::spawn(t.shutdown());
    // The idle connection is closed at once...
    let rest = read_until_closed(&mut idle).await;
    assert!(rest.is_empty(), "{}", String::from_utf8_lossy(&rest));
    // ...a request in progress may still finish...
    finishing.write_all(&body.as_bytes()[10..]).await.unwrap();
    finishing.flush().await.unwrap();
    let reply = read_response(&mut finishing).await.unwrap();
    assert!(reply.body.contains("<CheckVersionReply"), "{}", reply.body);
    assert!(reply.body.contains(&uuid), "{}", reply.body);
    // ...and what is still open at the drain deadline is closed, on both listeners.
    let rest = read_until_closed(&mut stuck).await;
    assert!(rest.is_empty(), "{}", String::from_utf8_lossy(&rest));
    let rest = read_until_closed(&mut admin).await;
    assert!(rest.is_empty(), "{}", String::from_utf8_lossy(&rest));
    tokio::time::timeout(Duration::from_secs(10), stopping)
        .await
        .expect("shutdown returns after the drain deadline")
        .unwrap();
}

// ---------------------------------------------------------------------------------------------
// Hostile bodies: each is refused with its code, the Error quotes nothing of it, and the
// server keeps serving
// ---------------------------------------------------------------------------------------------

/// Sends `body` as `message_type`, checks the `Error` code and the echoed uuid, that the
/// `technicalMessage` (and the whole reply) contains none of `never`, and that the server still
/// answers a good request afterwards.
async fn refused(
    t: &TestServer,
    (what, message_type, suid): (&str, &str, Option<&str>),
    body: &[u8],
    code: &str,
    echo: Option<&str>,
    never: &[&str],
) {
    let reply = exchange(t, xml_post_with_suid(message_type, suid, body))
        .await
        .unwrap_or_else(|e| panic!("{what}: the connection failed: {e}"));
    let el = reply.error(code, echo);
    let technical = el.get("technicalMessage").unwrap();
    for n in never {
        assert!(!technical.contains(n), "{what}: quotes {n:?}: {technical}");
        assert!(!reply.body.contains(n), "{what}: the reply quotes {n:?}");
    }
    assert!(
        reply.body.chars().all(pfs_wire::xml::is_xml_char),
        "{what}: {:?}",
        reply.body
    );
    assert_still_serving(t).await;
}

pub(crate) fn xml_post_with_suid(message_type: &str, suid: Option<&str>, body: &[u8]) -> Vec<u8> {
    let mut headers = vec![
        ("type", message_type),
        ("Content-Type", "text/xml; charset=utf-8"),
    ];
    if let Some(s) = suid {
        headers.push(("suid", s));
    }
    http_request("POST", "/tpp/", &headers, body)
}

#[tokio::test]
async fn non_ascii_and_out_of_range_dates_get_9004_and_the_connection_survives() {
    let t = TestServer::start().await.unwrap();
    let p = t.demo.provider_id.clone();
    let uuid = new_uuid();
    // This date used to panic on a byte-offset slice inside "é" and drop the connection.
    for dob in [
        "2024-06-03é12345",
        "é2024-06-03",
        "2024-06-03T09:30:00é",
        "99999-01-01",
        "+262143-12-31",
        "1899-12-31",
        "2200-01-01T00:00:00",
        "2024-06-03T09:30:00.123456789012345678901234567890",
    ] {
        let body = format!(
            r#"<LinkAccount apiVersion="1" uuid="{uuid}" organisationCode="Y99001" lastName="Example" dateOfBirth="{dob}" accountId="1" passphrase="k"><Application providerId="{p}"/></LinkAccount>"#
        );
        refused(
            &t,
            (dob, "LinkAccount", None),
            body.as_bytes(),
            "9004",
            Some(&uuid),
            &[dob],
        )
        .await;
    }
    // Times of the appointment messages: refused before the session is even looked at.
    for start in [
        "+262143-12-31T00:00:00Z",
        "9999-12-31T23:59:59.9Z",
        "2027-06-03T14:07:12.1234567890Z",
        "2027-06-03T14:07:60Z",
        "2027-06-03T14:07:1é",
    ] {
        let body = format!(
            r#"<ListSlots apiVersion="1" uuid="{uuid}" patientId="1" onlineUserId="1" startDate="{start}" numberOfDays="56"/>"#
        );
        refused(
            &t,
            (start, "ListSlots", Some("made-up")),
            body.as_bytes(),
            "9004",
            Some(&uuid),
            &[start],
        )
        .await;
        let body = format!(
            r#"<BookAppointment apiVersion="1" uuid="{uuid}" patientId="1" onlineUserId="1" sessionId="1" startDate="{start}" endDate="2027-06-04T09:10:00+00:00"/>"#
        );
        refused(
            &t,
            (start, "BookAppointment", Some("made-up")),
            body.as_bytes(),
            "9004",
            Some(&uuid),
            &[start],
        )
        .await;
    }
    // Nine digits of a second are read; the request then fails on its session, not its form.
    let body = format!(
        r#"<ListSlots apiVersion="1" uuid="{uuid}" patientId="1" onlineUserId="1" startDate="2027-06-03T14:07:12.123456789Z" numberOfDays="56"/>"#
    );
    refused(
        &t,
        ("nine digits", "ListSlots", Some("made-up")),
        body.as_bytes(),
        "3",
        Some(&uuid),
        &[],
    )
    .await;
}

#[tokio::test]
async fn what_xml_forbids_gets_9001_without_quoting_the_body() {
    let t = TestServer::start().await.unwrap();
    let p = t.demo.provider_id.clone();
    let uuid = new_uuid();
    let app = format!(r#"<Application providerId="{p}"/>"#);
    let cases: Vec<(&str, String)> = vec![
        (
            "raw < in an attribute value",
            format!(
                r#"<CheckVersion uuid="{uuid}" apiVersion="1" deviceType="a<b">{app}</CheckVersion>"#
            ),
        ),
        (
            "attribute name starting with a digit",
            format!(r#"<CheckVersion uuid="{uuid}" 1apiVersion="1">{app}</CheckVersion>"#),
        ),
        (
            "]]> in text",
            format!(r#"<CheckVersion uuid="{uuid}">{app}x]]>y</CheckVersion>"#),
        ),
        (
            // quick-xml alone dropped the attribute after the NUL: apiVersion="7" went unseen.
            "NUL between attributes",
            format!("<CheckVersion uuid=\"{uuid}\"\0apiVersion=\"7\">{app}</CheckVersion>"),
        ),
        (
            "attributes without white space between them",
            format!(r#"<CheckVersion uuid="{uuid}"apiVersion="7">{app}</CheckVersion>"#),
        ),
        (
            "control character in an attribute value",
            format!(
                "<CheckVersion uuid=\"{uuid}\" apiVersion=\"1\"><Application name=\"a\u{1}b\" providerId=\"{p}\"/></CheckVersion>"
            ),
        ),
        (
            "ESC in text",
            format!("<CheckVersion uuid=\"{uuid}\">{app}\u{1B}[31m</CheckVersion>"),
        ),
        (
            "character reference to a control character in an attribute",
            format!(
                r#"<CheckVersion uuid="{uuid}" apiVersion="1"><Application name="&#1;" providerId="{p}"/></CheckVersion>"#
            ),
        ),
        (
            "character reference to a control character in text",
            format!(r#"<CheckVersion uuid="{uuid}">{app}&#x1B;</CheckVersion>"#),
        ),
        (
            "U+FFFF in text",
            format!("<CheckVersion uuid=\"{uuid}\">{app}\u{FFFF}</CheckVersion>"),
        ),
        (
            "the same attribute under two prefixes",
            format!(
                r#"<CheckVersion xmlns:a="urn:a" uuid="{uuid}" a:apiVersion="7" apiVersion="1">{app}</CheckVersion>"#
            ),
        ),
        (
            "a declaration after the start",
            format!(r#"<CheckVersion uuid="{uuid}">{app}<?xml version="1.0"?></CheckVersion>"#),
        ),
        (
            "a comment ending in a hyphen",
            format!(r#"<CheckVersion uuid="{uuid}">{app}<!-- x ---></CheckVersion>"#),
        ),
    ];
    for (what, body) in cases {
        refused(
            &t,
            (what, "CheckVersion", None),
            body.as_bytes(),
            "9001",
            Some(&uuid),
            &[
                "a<b",
                "1apiVersion",
                "]]>",
                "\0",
                "\u{1}",
                "\u{1B}",
                "\u{FFFF}",
                "[31m",
            ],
        )
        .await;
    }
}

#[tokio::test]
async fn a_root_element_name_is_never_repeated_in_an_error() {
    let t = TestServer::start().await.unwrap();
    let uuid = new_uuid();
    // A NUL or ESC in the root element's name used to make the Error itself not well-formed.
    for (name, code) in [("Log\0off", "9001"), ("Logoff\u{1B}[2J", "9001")] {
        let body = format!(r#"<{name} apiVersion="1" uuid="{uuid}"/>"#);
        refused(
            &t,
            (name, "Logoff", Some("made-up")),
            body.as_bytes(),
            code,
            Some(&uuid),
            &["\0", "\u{1B}", "[2J"],
        )
        .await;
    }
    // A well-formed name the server does not know: 9003, and the name is not repeated.
    for name in ["SecretPatientNameSmith", "logoff", "p:Whatever"] {
        let body = format!(r#"<{name} xmlns:p="urn:p" apiVersion="1" uuid="{uuid}"/>"#);
        let local = name.rsplit(':').next().unwrap();
        refused(
            &t,
            (name, "Logoff", Some("made-up")),
            body.as_bytes(),
            "9003",
            Some(&uuid),
            &[local],
        )
        .await;
    }
}

#[tokio::test]
async fn request_limits_are_the_message_types_own() {
    let t = TestServer::start().await.unwrap();
    let p = t.demo.provider_id.clone();
    let uuid = new_uuid();
    let app = format!(r#"<Application providerId="{p}"/>"#);
    let limits = pfs_wire::Request::limits("CheckVersion").unwrap();
    let cases: Vec<(&str, String)> = vec![
        (
            "too many elements",
            format!(
                r#"<CheckVersion uuid="{uuid}">{app}{}</CheckVersion>"#,
                "<x/>".repeat(limits.max_elements)
            ),
        ),
        (
            "too deep",
            format!(
                r#"<CheckVersion uuid="{uuid}">{app}{}{}</CheckVersion>"#,
                "<x>".repeat(limits.max_depth),
                "</x>".repeat(limits.max_depth)
            ),
        ),
        (
            "too many attributes",
            format!(
                r#"<CheckVersion uuid="{uuid}" {}>{app}</CheckVersion>"#,
                (0..limits.max_attributes)
                    .map(|i| format!("a{i}=\"1\""))
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
        ),
        (
            "a value too long",
            format!(
                r#"<CheckVersion uuid="{uuid}"><Application name="{}" providerId="{p}"/></CheckVersion>"#,
                "n".repeat(limits.max_value_bytes + 1)
            ),
        ),
        (
            "text too long",
            format!(
                r#"<CheckVersion uuid="{uuid}">{app}{}</CheckVersion>"#,
                "&amp;".repeat(limits.max_value_bytes + 1)
            ),
        ),
    ];
    for (what, body) in cases {
        refused(
            &t,
            (what, "CheckVersion", None),
            body.as_bytes(),
            "9001",
            Some(&uuid),
            &["nnnnnnnn"],
        )
        .await;
    }
    // Just within every limit is accepted.
    let body = format!(
        r#"<CheckVersion uuid="{uuid}"><Application name="{}" providerId="{p}"/>{}{}{}</CheckVersion>"#,
        "n".repeat(limits.max_value_bytes),
        "<x/>".repeat(limits.max_elements - 2 - (limits.max_depth - 1)),
        "<x>".repeat(limits.max_depth - 1),
        "</x>".repeat(limits.max_depth - 1),
    );
    let r = t.client().raw("CheckVersion", None, body).await.unwrap();
    raw_ok(&r, "CheckVersionReply");
    // BookAppointment reads longer values, so an over-long reason gets 9011, not 9001: here it
    // fails on its made-up session instead, after parsing.
    let notes = "é".repeat(2_000);
    let body = format!(
        r#"<BookAppointment apiVersion="1" uuid="{uuid}" patientId="1" onlineUserId="1" sessionId="1" startDate="2027-06-04T09:00:00+00:00" endDate="2027-06-04T09:10:00+00:00" notes="{notes}"/>"#
    );
    refused(
        &t,
        ("long notes", "BookAppointment", Some("made-up")),
        body.as_bytes(),
        "3",
        Some(&uuid),
        &["éééé"],
    )
    .await;
}
