//! The SDK against a small in-process mutual-TLS mock server: headers, suid handling, error
//! detection, timeouts, connection reuse and the background Logoff of dropped sessions.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use chrono::NaiveDate;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use pfs_client::pfs_wire::{
    self, AuthenticateReply, CheckVersionReply, ErrorReply, LinkAccountReply,
    ListServiceAccessesReply, LogoffReply, PatientScope, PatientSelectedReply, Person,
    ServiceAccess, SupportedVersion, WireMessage, YesNo,
};
use pfs_client::{Application, Client, Error, ExposeSecret, LinkRequest, SecretString};
use rcgen::{
    BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

const SUID: &str = "mock-suid-0123456789";
const PROVIDER: &str = "a1b2c3d4e5f60718";

/// What the mock saw of one request.
#[derive(Debug, Clone)]
struct Seen {
    message_type: Option<String>,
    suid: Option<String>,
    content_type: Option<String>,
    accept: Option<String>,
    request: Option<pfs_wire::Request>,
}

#[derive(Default)]
struct State {
    seen: Mutex<Vec<Seen>>,
    /// How many requests are in `seen`, bumped after each is added: what tests wait on.
    arrivals: watch::Sender<usize>,
    connections: AtomicUsize,
    alpn: Mutex<Vec<Option<Vec<u8>>>>,
}

impl State {
    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("lock").clone()
    }

    /// Returns once a request matching `wanted` has arrived (now or earlier).
    async fn arrival(&self, wanted: impl Fn(&Seen) -> bool) {
        self.arrivals
            .subscribe()
            .wait_for(|_| self.seen().iter().any(&wanted))
            .await
            .expect("the state keeps the sender");
    }
}

struct Pki {
    ca_pem: String,
    server_chain: Vec<CertificateDer<'static>>,
    server_key: PrivateKeyDer<'static>,
    client_cert_pem: String,
    client_key_pem: String,
}

fn pki() -> Pki {
    let ca_key = KeyPair::generate().expect("key");
    let mut ca_params = CertificateParams::new(Vec::new()).expect("params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_cert = ca_params.self_signed(&ca_key).expect("ca");
    let ca = Issuer::new(ca_params, ca_key);

    let server_key = KeyPair::generate().expect("key");
    let mut server_params =
        CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
            .expect("params");
    server_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let server_cert = server_params.signed_by(&server_key, &ca).expect("server");

    let client_key = KeyPair::generate().expect("key");
    let mut client_params = CertificateParams::new(Vec::new()).expect("params");
    client_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let client_cert = client_params.signed_by(&client_key, &ca).expect("client");

    Pki {
        ca_pem: ca_cert.pem(),
        server_chain: vec![server_cert.der().clone()],
        server_key: PrivatePkcs8KeyDer::from(server_key.serialize_der()).into(),
        client_cert_pem: client_cert.pem(),
        client_key_pem: client_key.serialize_pem(),
    }
}

fn person(patient_id: &str, name: &str) -> Person {
    Person {
        patient_id: patient_id.into(),
        date_of_birth: NaiveDate::from_ymd_opt(1980, 2, 14).expect("date"),
        gender: "Female".into(),
        nhs_number: Some("9990001112".into()),
        name: name.into(),
        address: None,
    }
}

fn error(code: &str) -> String {
    ErrorReply {
        error_code: code.into(),
        user_friendly_message: "Nope".into(),
        technical_message: "mock".into(),
        uuid: None,
    }
    .encode()
}

async fn handle(
    state: Arc<State>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let message_type = header("type");
    let suid = header("suid");
    let content_type = header("content-type");
    let accept = header("accept");
    let body = match req.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => Bytes::new(),
    };
    let request = message_type
        .as_deref()
        .and_then(|t| pfs_wire::Request::decode(t, &body).ok());
    state.seen.lock().expect("lock").push(Seen {
        message_type: message_type.clone(),
        suid: suid.clone(),
        content_type,
        accept,
        request: request.clone(),
    });
    state.arrivals.send_modify(|n| *n += 1);

    let mut response = Response::builder().status(200);
    let body = match (message_type.as_deref(), request) {
        (Some("Slow"), _) => {
            tokio::time::sleep(Duration::from_secs(5)).await;
            String::new()
        }
        (Some("Broken"), _) => {
            response = response.status(500);
            "oops".to_owned()
        }
        (_, Some(pfs_wire::Request::CheckVersion(r))) => CheckVersionReply {
            uuid: r.header.uuid,
            current_version: "1".into(),
            minimum_version: "1".into(),
            supported: vec![SupportedVersion {
                version: "1".into(),
                status: "current".into(),
                withdrawal_date: None,
            }],
        }
        .encode(),
        (_, Some(pfs_wire::Request::LinkAccount(r))) => LinkAccountReply {
            uuid: r.header.uuid,
            account_id: Some("400123987".into()),
            passphrase: Some(SecretString::from("long-term-passphrase")),
            passphrase_to_link: None,
        }
        .encode(),
        (_, Some(pfs_wire::Request::Authenticate(r))) => {
            if r.passphrase.expose_secret() != "right" {
                error("9")
            } else {
                if r.account_id != "nosuid" {
                    response = response.header("Suid", SUID);
                }
                AuthenticateReply {
                    uuid: r.header.uuid,
                    online_user_id: "9000001".into(),
                    patient_id: Some("9000001".into()),
                    user: person("9000001", "Mrs Ada Example"),
                    registration: Vec::new(),
                    people: vec![
                        person("9000001", "Mrs Ada Example"),
                        person("9000002", "Master Ben Example"),
                    ],
                }
                .encode()
            }
        }
        _ if suid.as_deref() != Some(SUID) => error("3"),
        (_, Some(pfs_wire::Request::PatientSelected(r))) => {
            if r.scope.patient_id == "9000003" {
                error("6")
            } else {
                PatientSelectedReply {
                    uuid: r.header.uuid,
                    person: person(&r.scope.patient_id, "Someone"),
                    scope: Some(r.scope),
                }
                .encode()
            }
        }
        (_, Some(pfs_wire::Request::ListServiceAccesses(r))) => ListServiceAccessesReply {
            uuid: r.header.uuid,
            scope: Some(r.scope),
            services: vec![ServiceAccess {
                description: "Messaging".into(),
                service_identifier: "512".into(),
                status: "A".into(),
                status_desc: "Available".into(),
                read_only: YesNo(false),
            }],
        }
        .encode(),
        (_, Some(pfs_wire::Request::Logoff(r))) => LogoffReply {
            uuid: r.header.uuid,
        }
        .encode(),
        _ => error("9002"),
    };
    let response = response
        .header("content-type", "text/xml")
        .body(Full::new(Bytes::from(body)))
        .expect("response");
    Ok(response)
}

async fn start(pki: &Pki) -> (SocketAddr, Arc<State>) {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls::pki_types::pem::PemObject::pem_slice_iter(pki.ca_pem.as_bytes()) {
        roots.add(cert.expect("ca pem")).expect("ca");
    }
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots),
        provider.clone(),
    )
    .build()
    .expect("verifier");
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_client_cert_verifier(verifier)
        .with_single_cert(pki.server_chain.clone(), pki.server_key.clone_key())
        .expect("server config");
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let acceptor = TlsAcceptor::from(Arc::new(config));

    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let state = Arc::new(State::default());
    let server_state = state.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            let state = server_state.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                state.connections.fetch_add(1, Ordering::SeqCst);
                let alpn = tls.get_ref().1.alpn_protocol().map(<[u8]>::to_vec);
                state.alpn.lock().expect("lock").push(alpn);
                let service = service_fn(move |req| handle(state.clone(), req));
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    (addr, state)
}

fn application() -> Application {
    Application {
        name: "ExampleApp".into(),
        version: "2.3".into(),
        provider_id: PROVIDER.into(),
        device_type: "ExampleApp".into(),
    }
}

fn client(pki: &Pki, addr: SocketAddr) -> Client {
    Client::builder(&format!("https://{addr}/tpp/"))
        .identity_pem(
            pki.client_cert_pem.as_bytes(),
            pki.client_key_pem.as_bytes(),
        )
        .ca_pem(pki.ca_pem.as_bytes())
        .application(application())
        .timeout(Duration::from_millis(1500))
        .build()
        .expect("client")
}

#[tokio::test]
async fn a_whole_session() {
    let pki = pki();
    let (addr, state) = start(&pki).await;
    let client = client(&pki, addr);

    let version = client.check_version().await.expect("check version");
    assert_eq!(version.current_version, "1");

    let dob = NaiveDate::from_ymd_opt(1980, 2, 14).expect("date");
    let linked = client
        .link_account(LinkRequest::register(
            "X12345",
            "Example",
            dob,
            "400123987",
            SecretString::from("LK-7QX2-9HTR"),
        ))
        .await
        .expect("link");
    assert_eq!(linked.account_id.as_deref(), Some("400123987"));

    let wrong = client
        .authenticate("X12345", "400123987", &SecretString::from("wrong"))
        .await
        .expect_err("wrong passphrase");
    assert_eq!(wrong.code(), Some("9"));

    let session = client
        .authenticate("X12345", "400123987", &SecretString::from("right"))
        .await
        .expect("authenticate");
    assert_eq!(session.suid().expose_secret(), SUID);
    assert_eq!(session.online_user_id(), "9000001");
    assert_eq!(session.selected_patient_id(), "9000001");
    assert_eq!(session.reply().people.len(), 2);
    assert!(!format!("{session:?}").contains(SUID));

    let selected = session.select_patient("9000002").await.expect("select");
    assert_eq!(selected.person.patient_id, "9000002");
    assert_eq!(session.selected_patient_id(), "9000002");

    let denied = session
        .select_patient("9000003")
        .await
        .expect_err("no access");
    assert_eq!(denied.code(), Some("6"));
    assert_eq!(session.selected_patient_id(), "9000002");
    assert!(!denied.to_string().contains(SUID));

    session.keep_alive().await.expect("keep alive");
    let services = session.list_service_accesses().await.expect("services");
    assert_eq!(services.services[0].description, "Messaging");
    assert_eq!(
        services.scope,
        Some(PatientScope {
            patient_id: "9000002".into(),
            online_user_id: "9000001".into()
        })
    );
    session.logoff().await.expect("logoff");

    let seen = state.seen();
    let types: Vec<_> = seen
        .iter()
        .filter_map(|s| s.message_type.as_deref())
        .collect();
    assert_eq!(
        types,
        [
            "CheckVersion",
            "LinkAccount",
            "Authenticate",
            "Authenticate",
            "PatientSelected",
            "PatientSelected",
            "PatientSelected",
            "ListServiceAccesses",
            "Logoff"
        ]
    );
    for s in &seen {
        assert!(s.request.is_some(), "the mock decodes every request: {s:?}");
        assert_eq!(s.content_type.as_deref(), Some("text/xml; charset=utf-8"));
        assert_eq!(s.accept.as_deref(), Some("text/xml"));
        let sessionless = matches!(
            s.message_type.as_deref(),
            Some("CheckVersion" | "LinkAccount" | "Authenticate")
        );
        assert_eq!(s.suid.is_none(), sessionless, "{s:?}");
    }
    match &seen[3].request {
        Some(pfs_wire::Request::Authenticate(a)) => {
            assert_eq!(a.provider_id, PROVIDER);
            assert_eq!(a.application.provider_id, PROVIDER);
            assert_eq!(a.header.unit_id.as_deref(), Some("X12345"));
        }
        other => panic!("{other:?}"),
    }
    match &seen[6].request {
        Some(pfs_wire::Request::PatientSelected(p)) => {
            assert_eq!(
                p.scope.patient_id, "9000002",
                "keep-alive uses the selection"
            );
            assert_eq!(p.header.unit_id.as_deref(), Some("X12345"));
        }
        other => panic!("{other:?}"),
    }
    match &seen[8].request {
        Some(pfs_wire::Request::Logoff(l)) => assert_eq!(l.header.unit_id, None),
        other => panic!("{other:?}"),
    }

    assert_eq!(
        state.connections.load(Ordering::SeqCst),
        1,
        "one kept-alive connection"
    );
    assert_eq!(
        state.alpn.lock().expect("lock").as_slice(),
        [Some(b"http/1.1".to_vec())]
    );
}

#[tokio::test]
async fn a_dropped_session_logs_off_in_the_background() {
    let pki = pki();
    let (addr, state) = start(&pki).await;
    let client = client(&pki, addr);
    let session = client
        .authenticate("X12345", "400123987", &SecretString::from("right"))
        .await
        .expect("authenticate");
    drop(session);
    // The mock signals each request it records. The timeout only turns a Logoff that never
    // comes into a failure instead of a hang.
    let logoff = state.arrival(|s| {
        s.message_type.as_deref() == Some("Logoff") && s.suid.as_deref() == Some(SUID)
    });
    tokio::time::timeout(Duration::from_secs(30), logoff)
        .await
        .expect("no Logoff arrived");
}

#[tokio::test]
async fn detached_sessions_stay_open() {
    let pki = pki();
    let (addr, state) = start(&pki).await;
    let client = client(&pki, addr);
    let session = client
        .authenticate("X12345", "400123987", &SecretString::from("right"))
        .await
        .expect("authenticate");
    // A dropped session logs off from a task it spawns on the runtime; a detached one spawns
    // none. Nothing else runs between the two counts: this test's runtime has one thread.
    let metrics = tokio::runtime::Handle::current().metrics();
    let tasks = metrics.num_alive_tasks();
    let suid = session.detach();
    assert_eq!(metrics.num_alive_tasks(), tasks, "no background Logoff");
    // The session id works from another client through raw calls.
    let body = r#"<ListServiceAccesses apiVersion="1" uuid="0f5a2c8e-3b7d-4e61-9a20-5c1d8e4f7b93" unitId="X12345" patientId="9000001" onlineUserId="9000001"/>"#
        .to_owned();
    let raw = client
        .raw("ListServiceAccesses", Some(suid.expose_secret()), body)
        .await
        .expect("raw");
    assert_eq!(raw.status, 200);
    assert!(!raw.is_error(), "{}", raw.body);
    let decoded: ListServiceAccessesReply = raw.decode().expect("decodes");
    assert_eq!(decoded.services.len(), 1);
    assert!(
        !state
            .seen()
            .iter()
            .any(|s| s.message_type.as_deref() == Some("Logoff"))
    );
}

#[tokio::test]
async fn authenticate_needs_a_suid_header() {
    let pki = pki();
    let (addr, _) = start(&pki).await;
    let e = client(&pki, addr)
        .authenticate("X12345", "nosuid", &SecretString::from("right"))
        .await
        .expect_err("no suid");
    assert!(
        matches!(&e, Error::UnexpectedReply(m) if m.contains("suid")),
        "{e:?}"
    );
}

#[tokio::test]
async fn raw_calls_are_not_interpreted() {
    let pki = pki();
    let (addr, _) = start(&pki).await;
    let client = client(&pki, addr);

    let raw = client
        .raw("Logoff", None, r#"<Logoff apiVersion="1"/>"#.into())
        .await
        .expect("raw");
    assert_eq!(raw.status, 200);
    assert!(raw.is_error());
    assert_eq!(raw.suid, None);
    assert_eq!(
        raw.decode::<LogoffReply>().expect_err("error").code(),
        Some("3")
    );

    let raw = client
        .raw("Broken", None, String::new())
        .await
        .expect("raw");
    assert_eq!(raw.status, 500);
    assert_eq!(raw.body, "oops");
    assert_eq!(
        raw.decode::<LogoffReply>().expect_err("http"),
        Error::Http { status: 500 }
    );
    assert_eq!(
        raw.headers
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("text/xml")
    );
}

#[tokio::test]
async fn slow_replies_time_out() {
    let pki = pki();
    let (addr, _) = start(&pki).await;
    let e = client(&pki, addr)
        .raw("Slow", None, String::new())
        .await
        .expect_err("timeout");
    assert_eq!(e, Error::Timeout);
}

#[tokio::test]
async fn an_untrusted_server_is_a_transport_error() {
    let pki = pki();
    let other = self::pki();
    let (addr, state) = start(&pki).await;
    let client = Client::builder(&format!("https://{addr}/tpp/"))
        .identity_pem(
            pki.client_cert_pem.as_bytes(),
            pki.client_key_pem.as_bytes(),
        )
        .ca_pem(other.ca_pem.as_bytes())
        .application(application())
        .build()
        .expect("client");
    let e = client.check_version().await.expect_err("untrusted");
    assert!(
        matches!(&e, Error::Transport(m) if m.contains("certificate")),
        "{e:?}"
    );
    assert_eq!(state.connections.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn an_unknown_client_certificate_is_refused() {
    let pki = pki();
    let other = self::pki();
    let (addr, state) = start(&pki).await;
    let client = Client::builder(&format!("https://{addr}/tpp/"))
        .identity_pem(
            other.client_cert_pem.as_bytes(),
            other.client_key_pem.as_bytes(),
        )
        .ca_pem(pki.ca_pem.as_bytes())
        .application(application())
        .build()
        .expect("client");
    let e = client.check_version().await.expect_err("refused");
    assert!(matches!(e, Error::Transport(_)), "{e:?}");
    assert_eq!(state.connections.load(Ordering::SeqCst), 0);
}
