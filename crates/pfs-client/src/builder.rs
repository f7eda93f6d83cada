//! [`ClientBuilder`]: endpoint, mutual-TLS identity, trust anchors, timeouts and retries.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use http::Uri;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use pfs_wire::Application;
use rustls::{ClientConfig, RootCertStore};
use rustls_pki_types::pem::{self, PemObject};
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use secrecy::{ExposeSecret, SecretSlice};

use crate::client::{CallOptions, Client, Exchange, ExchangeObserver, Inner};
use crate::error::{Error, Result};
use crate::retry::RetryPolicy;

/// The per-attempt timeout when [`ClientBuilder::timeout`] is not called.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// The TCP connect timeout when [`ClientBuilder::connect_timeout`] is not called.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long an idle pooled connection is kept for reuse.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// Configures and builds a [`Client`]; start with [`Client::builder`].
///
/// ```no_run
/// use std::time::Duration;
/// use pfs_client::{Application, Client, RetryPolicy};
///
/// # fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// let dir = std::path::Path::new("pfs-data/demo");
/// let client = Client::builder("https://localhost:8443/tpp/")
///     .identity_pem(
///         &std::fs::read(dir.join("client.pem"))?,
///         &std::fs::read(dir.join("client-key.pem"))?,
///     )
///     .ca_pem(&std::fs::read(dir.join("ca.pem"))?)
///     .application(Application {
///         name: "ExampleApp".into(),
///         version: "2.3".into(),
///         provider_id: std::fs::read_to_string(dir.join("provider-id"))?.trim().into(),
///         device_type: "ExampleApp".into(),
///     })
///     // Each attempt of a call may take 10 s; reads are tried up to 3 times.
///     .timeout(Duration::from_secs(10))
///     .retry(RetryPolicy::default())
///     .build()?;
/// # let _ = client;
/// # Ok(())
/// # }
/// ```
pub struct ClientBuilder {
    endpoint: String,
    identity: Option<(Vec<u8>, SecretSlice<u8>)>,
    ca_pem: Option<Vec<u8>>,
    application: Option<Application>,
    timeout: Duration,
    connect_timeout: Duration,
    retry: RetryPolicy,
    observer: Option<ExchangeObserver>,
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("endpoint", &self.endpoint)
            .field("identity", &self.identity.as_ref().map(|_| "[REDACTED]"))
            .field("ca_pem", &self.ca_pem.as_ref().map(|p| p.len()))
            .field("application", &self.application)
            .field("timeout", &self.timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("retry", &self.retry)
            .field("observer", &self.observer.is_some())
            .finish()
    }
}

impl ClientBuilder {
    pub(crate) fn new(endpoint: &str) -> Self {
        ClientBuilder {
            endpoint: endpoint.to_owned(),
            identity: None,
            ca_pem: None,
            application: None,
            timeout: DEFAULT_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            retry: RetryPolicy::none(),
            observer: None,
        }
    }

    /// The client certificate for mutual TLS (required): the PEM certificate chain, leaf
    /// first, and the PEM private key (PKCS#8, PKCS#1 or SEC1).
    ///
    /// The PEM is parsed by [`build`](Self::build), which reports any problem.
    pub fn identity_pem(mut self, cert_chain_pem: &[u8], key_pem: &[u8]) -> Self {
        self.identity = Some((cert_chain_pem.to_vec(), SecretSlice::from(key_pem.to_vec())));
        self
    }

    /// The PEM certificate(s) trusted to sign the server certificate (required: there is no
    /// fallback to system roots). May hold several certificates.
    pub fn ca_pem(mut self, ca_pem: &[u8]) -> Self {
        self.ca_pem = Some(ca_pem.to_vec());
        self
    }

    /// The calling application, sent as the `Application` element on `Authenticate`,
    /// `LinkAccount` and `CheckVersion`; its `provider_id` is also `Authenticate/@providerId`.
    ///
    /// Optional at build time; calls that need it fail with [`Error::Config`] without it.
    pub fn application(mut self, application: Application) -> Self {
        self.application = Some(application);
        self
    }

    /// The time limit for each attempt of a call (connect, send, read the reply); default 30 s.
    /// Exceeding it gives [`Error::Timeout`]. With retries, a call may take up to
    /// `max_attempts` times this plus the waits between attempts. Override it for some calls
    /// with [`Client::with_timeout`] or [`Session::with_timeout`](crate::Session::with_timeout).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The time limit for opening a TCP connection; default 10 s. Exceeding it gives
    /// [`Error::Transport`].
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// The retry policy of every call; default [`RetryPolicy::none`] (no retries).
    ///
    /// Which failures are retried depends on what the request does: a read or idempotent
    /// request after any transient failure, a write only when it certainly was not processed
    /// (see [`RetryPolicy`]). Override it for some calls with [`Client::with_retry`] or
    /// [`Session::with_retry`](crate::Session::with_retry).
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// Calls `observe` after every HTTP exchange (each attempt of a call) with the request and
    /// the reply as they crossed the wire: for tools that show the traffic (a conformance
    /// report, a debugging proxy). The request body can hold secrets (`Authenticate`'s
    /// passphrase) and both can hold patient data: an observer that prints or stores them
    /// must redact. The `suid` header is not passed.
    pub fn on_exchange(mut self, observe: impl Fn(&Exchange<'_>) + Send + Sync + 'static) -> Self {
        self.observer = Some(Arc::new(observe));
        self
    }

    /// Checks the configuration, parses the PEM material and builds the client.
    ///
    /// Fails with [`Error::Config`] when the endpoint is not an `https` URL, the identity or
    /// CA is missing, or a PEM cannot be parsed.
    pub fn build(self) -> Result<Client> {
        let endpoint = parse_endpoint(&self.endpoint)?;
        let (chain_pem, key_pem) = self.identity.ok_or_else(|| {
            Error::Config("a client certificate is required: call identity_pem".into())
        })?;
        let ca_pem = self.ca_pem.ok_or_else(|| {
            Error::Config("a CA certificate for the server is required: call ca_pem".into())
        })?;

        let chain = parse_certs(&chain_pem, "identity certificate chain")?;
        let key = parse_key(key_pem.expose_secret())?;
        let roots = parse_roots(&ca_pem)?;

        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut config = ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(|e| Error::Config(format!("TLS configuration: {e}")))?
            .with_root_certificates(roots)
            .with_client_auth_cert(chain, key)
            .map_err(|e| Error::Config(format!("client certificate and key: {e}")))?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];

        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_connect_timeout(Some(self.connect_timeout));
        http.set_nodelay(true);
        // Built from parts rather than with `HttpsConnectorBuilder`, which refuses a config
        // with ALPN set and sends no ALPN for HTTP/1.1-only connectors.
        let mut https = HttpsConnector::from((http, config));
        https.enforce_https();

        let http = HyperClient::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(POOL_IDLE_TIMEOUT)
            .build(https);

        Ok(Client {
            inner: Arc::new(Inner {
                http,
                endpoint,
                application: self.application,
                observer: self.observer,
            }),
            options: CallOptions {
                timeout: self.timeout,
                retry: self.retry,
            },
        })
    }
}

fn parse_endpoint(endpoint: &str) -> Result<Uri> {
    let uri: Uri = endpoint
        .parse()
        .map_err(|e| Error::Config(format!("the endpoint is not a valid URL: {e}")))?;
    if uri.scheme_str() != Some("https") {
        return Err(Error::Config(
            "the endpoint must be an https:// URL (the API requires mutual TLS)".into(),
        ));
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(Error::Config("the endpoint URL has no host".into()));
    }
    Ok(uri)
}

fn parse_certs(pem: &[u8], what: &str) -> Result<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Error::Config(format!("{what} PEM: {e}")))?;
    if certs.is_empty() {
        return Err(Error::Config(format!("{what} PEM holds no CERTIFICATE")));
    }
    Ok(certs)
}

fn parse_key(pem: &[u8]) -> Result<PrivateKeyDer<'static>> {
    PrivateKeyDer::from_pem_slice(pem).map_err(|e| {
        // Describe the problem without quoting anything from the key file.
        let why = match e {
            pem::Error::NoItemsFound => "holds no PRIVATE KEY",
            pem::Error::Base64Decode(_) => "is not valid base64",
            pem::Error::MissingSectionEnd { .. } => "has a section without an END line",
            pem::Error::IllegalSectionStart { .. } => "has a malformed BEGIN line",
            _ => "cannot be read",
        };
        Error::Config(format!("the identity private key PEM {why}"))
    })
}

fn parse_roots(pem: &[u8]) -> Result<RootCertStore> {
    let mut roots = RootCertStore::empty();
    for cert in parse_certs(pem, "CA certificate")? {
        roots
            .add(cert)
            .map_err(|e| Error::Config(format!("CA certificate: {e}")))?;
    }
    Ok(roots)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config_err(r: Result<Client>) -> String {
        match r {
            Err(Error::Config(m)) => m,
            Err(e) => panic!("expected a Config error, got {e:?}"),
            Ok(_) => panic!("expected a Config error, got a client"),
        }
    }

    const NOT_A_CERT: &[u8] = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";

    #[test]
    fn endpoint_must_be_https() {
        let m = config_err(Client::builder("http://127.0.0.1:8080/tpp/").build());
        assert!(m.contains("https"), "{m}");
        let m = config_err(Client::builder("not a url").build());
        assert!(m.contains("URL"), "{m}");
    }

    #[test]
    fn identity_is_required() {
        let m = config_err(Client::builder("https://127.0.0.1:8443/tpp/").build());
        assert!(m.contains("identity_pem"), "{m}");
    }

    #[test]
    fn ca_is_required() {
        let m = config_err(
            Client::builder("https://127.0.0.1:8443/tpp/")
                .identity_pem(NOT_A_CERT, b"")
                .build(),
        );
        assert!(m.contains("ca_pem"), "{m}");
    }

    #[test]
    fn empty_chain_is_rejected() {
        let m = config_err(
            Client::builder("https://127.0.0.1:8443/tpp/")
                .identity_pem(b"no pem here", b"")
                .ca_pem(NOT_A_CERT)
                .build(),
        );
        assert!(m.contains("holds no CERTIFICATE"), "{m}");
    }

    #[test]
    fn missing_key_is_rejected_without_quoting_it() {
        let secret =
            b"-----BEGIN PRIVATE KEY-----\nc2VjcmV0LWtleS1ieXRlcw!!\n-----END PRIVATE KEY-----\n";
        let m = config_err(
            Client::builder("https://127.0.0.1:8443/tpp/")
                .identity_pem(NOT_A_CERT, secret)
                .ca_pem(NOT_A_CERT)
                .build(),
        );
        assert!(m.contains("private key"), "{m}");
        assert!(!m.contains("c2VjcmV0"), "{m}");
        let m = config_err(
            Client::builder("https://127.0.0.1:8443/tpp/")
                .identity_pem(NOT_A_CERT, b"")
                .ca_pem(NOT_A_CERT)
                .build(),
        );
        assert!(m.contains("holds no PRIVATE KEY"), "{m}");
    }

    #[test]
    fn unterminated_pem_is_rejected() {
        let m = config_err(
            Client::builder("https://127.0.0.1:8443/tpp/")
                .identity_pem(b"-----BEGIN CERTIFICATE-----\nAAAA\n", b"")
                .ca_pem(NOT_A_CERT)
                .build(),
        );
        assert!(m.contains("identity certificate chain PEM"), "{m}");
    }

    #[test]
    fn builder_debug_redacts_the_key() {
        let b = Client::builder("https://127.0.0.1:8443/tpp/")
            .identity_pem(NOT_A_CERT, b"-----BEGIN PRIVATE KEY-----\nSECRETKEY\n");
        let d = format!("{b:?}");
        assert!(d.contains("[REDACTED]"), "{d}");
        assert!(!d.contains("SECRETKEY"), "{d}");
    }
}
