//! [`Client`]: one endpoint, pooled mutual-TLS connections, and the calls that need no session.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{ACCEPT, CONTENT_TYPE};
use http::{HeaderMap, HeaderName, HeaderValue, Request, Uri};
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use pfs_wire::{
    Application, Authenticate, AuthenticateReply, CheckVersion, CheckVersionReply, Effect,
    ErrorReply, Header, LinkAccount, LinkAccountReply, RequestMessage, WireMessage,
};
use secrecy::SecretString;
use tracing::Instrument;
use tracing::field::Empty;

use crate::builder::ClientBuilder;
use crate::error::{Error, Result};
use crate::link::LinkRequest;
use crate::retry::RetryPolicy;
use crate::session::Session;

/// The largest reply body the client reads (binary documents travel base64-encoded in XML).
pub const MAX_REPLY_BYTES: usize = 64 * 1024 * 1024;

const TYPE: HeaderName = HeaderName::from_static("type");
const SUID: HeaderName = HeaderName::from_static("suid");
const XML_CONTENT_TYPE: HeaderValue = HeaderValue::from_static("text/xml; charset=utf-8");
const XML_ACCEPT: HeaderValue = HeaderValue::from_static("text/xml");

type Http = HyperClient<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// A PFS API client for one endpoint.
///
/// Cheap to clone (the connection pool and configuration are shared), and safe to use from
/// many tasks at once. Build one with [`Client::builder`].
///
/// Every call is bounded by a timeout and may be retried under a [`RetryPolicy`], both set on
/// the builder for all calls; [`with_timeout`](Self::with_timeout) and
/// [`with_retry`](Self::with_retry) give a handle on the same connections with other values
/// for some calls.
#[derive(Clone)]
pub struct Client {
    pub(crate) inner: Arc<Inner>,
    pub(crate) options: CallOptions,
}

pub(crate) struct Inner {
    pub(crate) http: Http,
    pub(crate) endpoint: Uri,
    pub(crate) application: Option<Application>,
    pub(crate) observer: Option<ExchangeObserver>,
}

/// What [`ClientBuilder::on_exchange`](crate::ClientBuilder::on_exchange) calls.
pub(crate) type ExchangeObserver = Arc<dyn Fn(&Exchange<'_>) + Send + Sync>;

/// One HTTP exchange as it crossed the wire, for an observer set with
/// [`ClientBuilder::on_exchange`](crate::ClientBuilder::on_exchange).
#[derive(Debug, Clone, Copy)]
pub struct Exchange<'a> {
    /// The `type` header.
    pub message_type: &'a str,
    /// The request body.
    pub request: &'a [u8],
    /// The reply's HTTP status and body; `None` when no reply came (a transport failure or a
    /// timeout).
    pub reply: Option<(u16, &'a [u8])>,
}

/// What bounds one call: the time limit of each attempt and the retry policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CallOptions {
    pub(crate) timeout: Duration,
    pub(crate) retry: RetryPolicy,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("endpoint", &self.inner.endpoint)
            .field("application", &self.inner.application)
            .field("timeout", &self.options.timeout)
            .field("retry", &self.options.retry)
            .finish_non_exhaustive()
    }
}

/// A reply exactly as the server sent it, from [`Client::raw`].
#[derive(Clone)]
pub struct RawResponse {
    /// The HTTP status code.
    pub status: u16,
    /// The `suid` response header, if any (header names are case-insensitive). Secret.
    pub suid: Option<String>,
    /// Every response header (including `suid`).
    pub headers: HeaderMap,
    /// The body; bytes that are not UTF-8 are replaced by U+FFFD.
    pub body: String,
}

impl fmt::Debug for RawResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawResponse")
            .field("status", &self.status)
            .field("suid", &self.suid.as_ref().map(|_| "[REDACTED]"))
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .field("body", &self.body)
            .finish()
    }
}

impl RawResponse {
    /// Whether the body would be read as a PFS `Error` (see [`is_error_body`]).
    pub fn is_error(&self) -> bool {
        is_error_body(&self.body)
    }

    /// Interprets the reply the way typed calls do: an `Error` body becomes [`Error::Pfs`],
    /// another non-2xx reply [`Error::Http`], anything else is decoded as `T`.
    pub fn decode<T: WireMessage>(&self) -> Result<T> {
        interpret(self.status, Ok(&self.body))
    }
}

/// A reply before interpretation.
pub(crate) struct Reply {
    status: u16,
    headers: HeaderMap,
    body: Bytes,
}

impl Reply {
    fn decode<T: WireMessage>(&self) -> Result<T> {
        interpret(self.status, std::str::from_utf8(&self.body).map_err(|_| ()))
    }
}

/// Whether a reply body is a PFS error by the rule the real client applies before parsing:
/// the text matches the regular expression `errorCode\s?=` anywhere.
///
/// A successful reply must therefore never contain that text.
pub fn is_error_body(body: &str) -> bool {
    body.match_indices("errorCode").any(|(i, m)| {
        let mut rest = body[i + m.len()..].chars();
        match rest.next() {
            Some('=') => true,
            Some(c) if c.is_whitespace() => rest.next() == Some('='),
            _ => false,
        }
    })
}

/// The response handling of the real client: error scan first, then status, then the
/// expected root element.
fn interpret<T: WireMessage>(status: u16, body: Result<&str, ()>) -> Result<T> {
    let success = (200..300).contains(&status);
    let body = match body {
        Ok(body) => body,
        Err(()) if success => {
            return Err(Error::UnexpectedReply("the reply body is not UTF-8".into()));
        }
        Err(()) => return Err(Error::Http { status }),
    };
    if is_error_body(body) {
        return match ErrorReply::decode(body.as_bytes()) {
            Ok(e) => Err(e.into()),
            Err(_) if !success => Err(Error::Http { status }),
            Err(e) => Err(Error::UnexpectedReply(format!(
                "the reply looks like an Error but cannot be decoded: {e}"
            ))),
        };
    }
    if !success {
        return Err(Error::Http { status });
    }
    T::decode(body.as_bytes()).map_err(|e| Error::UnexpectedReply(e.to_string()))
}

/// The error and its causes on one line.
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let m = c.to_string();
        if !text.contains(&m) {
            text.push_str(": ");
            text.push_str(&m);
        }
        cause = c.source();
    }
    text
}

impl Client {
    /// Starts configuring a client for `endpoint`, the full URL every message is POSTed to,
    /// e.g. `https://127.0.0.1:8443/tpp/`.
    pub fn builder(endpoint: &str) -> ClientBuilder {
        ClientBuilder::new(endpoint)
    }

    /// The endpoint URL.
    pub fn endpoint(&self) -> &Uri {
        &self.inner.endpoint
    }

    /// The configured application, if any.
    pub fn application(&self) -> Option<&Application> {
        self.inner.application.as_ref()
    }

    /// The time limit of each attempt of a call made through this handle.
    pub fn timeout(&self) -> Duration {
        self.options.timeout
    }

    /// The retry policy of calls made through this handle.
    pub fn retry_policy(&self) -> RetryPolicy {
        self.options.retry
    }

    /// A handle on the same connections and configuration whose calls have the time limit
    /// `timeout` per attempt instead of the builder's. The client it came from is unchanged.
    ///
    /// Like the builder's timeout, it bounds each attempt: connecting, sending the request and
    /// reading the whole reply. Exceeding it is [`Error::Timeout`] (retried only for a read or
    /// an idempotent request, when the retry policy allows).
    ///
    /// ```no_run
    /// # async fn demo(client: pfs_client::Client) -> pfs_client::Result<()> {
    /// use std::time::Duration;
    ///
    /// // A health check that must answer quickly, on a client whose calls may take longer.
    /// let versions = client.with_timeout(Duration::from_secs(2)).check_version().await?;
    /// # let _ = versions;
    /// # Ok(())
    /// # }
    /// ```
    pub fn with_timeout(&self, timeout: Duration) -> Client {
        let mut client = self.clone();
        client.options.timeout = timeout;
        client
    }

    /// A handle on the same connections and configuration whose calls follow `policy` instead
    /// of the builder's retry policy. The client it came from is unchanged.
    ///
    /// ```no_run
    /// # async fn demo(client: pfs_client::Client) -> pfs_client::Result<()> {
    /// use pfs_client::RetryPolicy;
    ///
    /// // Try a version check up to three times, whatever the client's own policy.
    /// let versions = client.with_retry(RetryPolicy::default()).check_version().await?;
    /// # let _ = versions;
    /// # Ok(())
    /// # }
    /// ```
    pub fn with_retry(&self, policy: RetryPolicy) -> Client {
        let mut client = self.clone();
        client.options.retry = policy;
        client
    }

    fn require_application(&self) -> Result<&Application> {
        self.application().ok_or_else(|| {
            Error::Config("this call needs an application: call ClientBuilder::application".into())
        })
    }

    /// `CheckVersion`: which API versions the server speaks. Needs no session.
    ///
    /// A read: retried after transient failures under the retry policy.
    pub async fn check_version(&self) -> Result<CheckVersionReply> {
        let req = CheckVersion {
            header: Header::new(None),
            application: self.require_application()?.clone(),
        };
        self.request(&req).await
    }

    /// `LinkAccount` in the variant `request` describes. Needs no session.
    ///
    /// A write: retried only when it certainly was not processed (see
    /// [`RetryPolicy`](crate::RetryPolicy)). Errors (besides `9010`): `8` (account id or
    /// linkage key), `509` (expired key or ended account), `512`, `513`, `554` (details do not
    /// match), `553`, `555`, `5` (provider id or variant), `9008` (back-off: "retry after N
    /// seconds"), `9004`.
    pub async fn link_account(&self, request: LinkRequest) -> Result<LinkAccountReply> {
        let req = LinkAccount {
            header: Header::new(None),
            organisation_code: request.organisation_code,
            last_name: request.last_name,
            date_of_birth: request.date_of_birth,
            application: self.require_application()?.clone(),
            variant: request.variant,
        };
        self.request(&req).await
    }

    /// `Authenticate`: opens a session at practice `ods` for an online account with its
    /// long-term passphrase (the one `LinkAccount` returned, not the linkage key).
    ///
    /// The application's provider id is sent both as `Authenticate/@providerId` and in the
    /// `Application` element. The session id is taken from the `suid` response header; a reply
    /// without one is [`Error::UnexpectedReply`].
    ///
    /// A write (it opens a session; a lost reply would leave one open until its idle timeout):
    /// retried only when it certainly was not processed. Errors (besides `9010`): `9`
    /// (unknown account, wrong passphrase, another provider's account, wrong practice), `9007`.
    pub async fn authenticate(
        &self,
        ods: &str,
        account_id: &str,
        passphrase: &SecretString,
    ) -> Result<Session> {
        let application = self.require_application()?;
        let req = Authenticate {
            header: Header::new(Some(ods.to_owned())),
            account_id: account_id.to_owned(),
            passphrase: passphrase.clone(),
            provider_id: application.provider_id.clone(),
            application: application.clone(),
        };
        let (decoded, suid) = self
            .perform(Authenticate::ROOT, None, req.encode(), true, |reply| {
                let decoded: AuthenticateReply = reply.decode()?;
                let suid = reply
                    .headers
                    .get(SUID)
                    .and_then(|v| v.to_str().ok())
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .ok_or_else(|| {
                        Error::UnexpectedReply(
                            "the AuthenticateReply came without a suid header".into(),
                        )
                    })?;
                Ok((decoded, SecretString::from(suid)))
            })
            .await?;
        Ok(Session::new(self.clone(), suid, ods.to_owned(), decoded))
    }

    /// Sends any request outside a session (no `suid` header) and decodes its reply, whose type
    /// the request declares ([`RequestMessage::Reply`]).
    ///
    /// Useful for hand-built sessionless requests, e.g. a `LinkAccount` with an unusual
    /// `Application`. Calls inside a session use [`Session::request`].
    pub async fn request<Req: RequestMessage>(&self, req: &Req) -> Result<Req::Reply> {
        self.send(req, None).await
    }

    /// Sends any message outside a session (no `suid` header) and decodes the reply as `Rep`;
    /// for a reply other than the one the request declares (see [`request`](Self::request)).
    pub async fn call<Req: WireMessage, Rep: WireMessage>(&self, req: &Req) -> Result<Rep> {
        self.send(req, None).await
    }

    /// POSTs `body` with header `type: message_type` (and `suid` when given) and returns the
    /// reply without interpreting it: an `Error` body or a non-2xx status is not an error here.
    ///
    /// Sent once: the retry policy does not apply. Fails only when no reply arrives
    /// ([`Error::Transport`], [`Error::Timeout`]) or a header value is invalid
    /// ([`Error::Config`]).
    pub async fn raw(
        &self,
        message_type: &str,
        suid: Option<&str>,
        body: String,
    ) -> Result<RawResponse> {
        self.perform(message_type, suid, body, false, |reply| {
            let suid = reply
                .headers
                .get(SUID)
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
            Ok(RawResponse {
                status: reply.status,
                suid,
                body: String::from_utf8_lossy(&reply.body).into_owned(),
                headers: reply.headers.clone(),
            })
        })
        .await
    }

    /// Sends a typed message, with the session id when given, and decodes the reply.
    pub(crate) async fn send<Req: WireMessage, Rep: WireMessage>(
        &self,
        req: &Req,
        suid: Option<&str>,
    ) -> Result<Rep> {
        self.perform(Req::ROOT, suid, req.encode(), true, Reply::decode)
            .await
    }

    /// One call: attempts under the retry policy (when `retry`), each within the timeout,
    /// every reply read by `read`, all inside one `pfs.call` span.
    ///
    /// The span's fields are the message type, its effect, the number of attempts, the outcome
    /// (`ok`, `pfs`, `http`, `transport`, `timeout`, `unexpected_reply`, `config`), the PFS code
    /// or HTTP status and the elapsed time; never the body, the `suid` or anything else from
    /// the request.
    async fn perform<T>(
        &self,
        message_type: &str,
        suid: Option<&str>,
        body: String,
        retry: bool,
        read: impl Fn(&Reply) -> Result<T>,
    ) -> Result<T> {
        // A message this crate does not know is treated as a write: never sent twice.
        let effect = pfs_wire::Request::type_effect(message_type).unwrap_or(Effect::Write);
        let policy = if retry {
            self.options.retry
        } else {
            RetryPolicy::none()
        };
        // Only the names of known messages are logged, never a caller's text (`raw`).
        let known_type = pfs_wire::REQUEST_TYPES
            .iter()
            .copied()
            .find(|known| *known == message_type)
            .unwrap_or("other");
        let span = tracing::info_span!(
            "pfs.call",
            message_type = known_type,
            effect = effect.as_str(),
            attempts = Empty,
            outcome = Empty,
            code = Empty,
            status = Empty,
            elapsed_ms = Empty,
        );
        let call = async {
            let started = Instant::now();
            let body = Bytes::from(body);
            let mut attempt = 0u32;
            let mut status: Option<u16>;
            let result = loop {
                attempt += 1;
                let (result, sent) = match self.exchange(message_type, suid, body.clone()).await {
                    Ok(reply) => {
                        status = Some(reply.status);
                        (read(&reply), true)
                    }
                    Err(failed) => {
                        status = None;
                        (Err(failed.error), failed.sent)
                    }
                };
                let Err(error) = &result else { break result };
                let Some(wait) = policy.next(effect, error, sent, attempt) else {
                    break result;
                };
                // The kind and code only: a server's error texts are not this crate's to log.
                tracing::debug!(
                    attempt,
                    error = error.kind(),
                    code = error.code(),
                    wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                    "PFS call failed; retrying"
                );
                tokio::time::sleep(wait).await;
            };
            let span = tracing::Span::current();
            span.record("attempts", attempt);
            span.record(
                "elapsed_ms",
                u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            );
            if let Some(status) = status {
                span.record("status", status);
            }
            match &result {
                Ok(_) => {
                    span.record("outcome", "ok");
                }
                Err(e) => {
                    span.record("outcome", e.kind());
                    if let Some(code) = e.code() {
                        span.record("code", code);
                    }
                }
            }
            result
        };
        call.instrument(span).await
    }

    /// One HTTP exchange within the per-attempt timeout.
    async fn exchange(
        &self,
        message_type: &str,
        suid: Option<&str>,
        body: Bytes,
    ) -> Result<Reply, Failed> {
        let type_value = HeaderValue::from_str(message_type).map_err(|_| {
            Failed::unsent(Error::Config(
                "the message type is not a valid HTTP header value".into(),
            ))
        })?;
        let uuid = pfs_wire::sniff_uuid(&body);
        // Kept for the observer: a clone of `Bytes` shares the buffer.
        let sent_body = self.inner.observer.as_ref().map(|_| body.clone());
        let mut request = Request::post(self.inner.endpoint.clone())
            .body(Full::new(body))
            .map_err(|e| Failed::unsent(Error::Config(format!("cannot build the request: {e}"))))?;
        let headers = request.headers_mut();
        headers.insert(TYPE, type_value);
        headers.insert(CONTENT_TYPE, XML_CONTENT_TYPE);
        headers.insert(ACCEPT, XML_ACCEPT);
        if let Some(suid) = suid {
            let mut value = HeaderValue::from_str(suid).map_err(|_| {
                Failed::unsent(Error::Config(
                    "the suid is not a valid HTTP header value".into(),
                ))
            })?;
            value.set_sensitive(true);
            headers.insert(SUID, value);
        }

        let started = Instant::now();
        let exchange = async {
            let response = self.inner.http.request(request).await.map_err(|e| Failed {
                // A connect error (TCP or TLS handshake) comes before any byte of the request
                // is written; anything later may have reached the server.
                sent: !e.is_connect(),
                error: Error::Transport(error_chain(&e)),
            })?;
            let (parts, body) = response.into_parts();
            let body = Limited::new(body, MAX_REPLY_BYTES)
                .collect()
                .await
                .map_err(|e| {
                    Failed::sent(Error::Transport(format!(
                        "reading the reply: {}",
                        error_chain(&*e)
                    )))
                })?
                .to_bytes();
            Ok(Reply {
                status: parts.status.as_u16(),
                headers: parts.headers,
                body,
            })
        };
        let result = tokio::time::timeout(self.options.timeout, exchange)
            .await
            .unwrap_or(Err(Failed::sent(Error::Timeout)));
        let elapsed_ms = started.elapsed().as_millis();
        if let (Some(observe), Some(request)) = (&self.inner.observer, &sent_body) {
            observe(&Exchange {
                message_type,
                request,
                reply: result
                    .as_ref()
                    .ok()
                    .map(|reply| (reply.status, &reply.body[..])),
            });
        }
        match &result {
            Ok(reply) => tracing::debug!(
                uuid = ?uuid,
                status = reply.status,
                elapsed_ms,
                "PFS exchange"
            ),
            Err(f) => tracing::debug!(
                uuid = ?uuid,
                elapsed_ms,
                error = %f.error,
                sent = f.sent,
                "PFS exchange failed"
            ),
        }
        result
    }
}

/// An attempt that got no reply.
pub(crate) struct Failed {
    pub(crate) error: Error,
    /// Whether a byte of the request may have reached the server. A timeout counts as sent.
    pub(crate) sent: bool,
}

impl Failed {
    fn unsent(error: Error) -> Self {
        Failed { error, sent: false }
    }

    fn sent(error: Error) -> Self {
        Failed { error, sent: true }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use pfs_wire::{LogoffReply, ServiceAccess};

    /// A client that never connects anywhere (no roots, no identity), for tests that need a
    /// `Client` value but no server.
    pub(crate) fn offline_client() -> Client {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("default protocol versions")
            .with_root_certificates(rustls::RootCertStore::empty())
            .with_no_client_auth();
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        let https = HttpsConnector::from((http, config));
        Client {
            inner: Arc::new(Inner {
                http: HyperClient::builder(hyper_util::rt::TokioExecutor::new()).build(https),
                endpoint: Uri::from_static("https://127.0.0.1:9/tpp/"),
                application: None,
                observer: None,
            }),
            options: CallOptions {
                timeout: Duration::from_secs(1),
                retry: RetryPolicy::none(),
            },
        }
    }

    #[test]
    fn error_detection_follows_the_regex() {
        assert!(is_error_body(r#"<Error errorCode="6"/>"#));
        assert!(is_error_body(r#"<Error errorCode ="6"/>"#));
        assert!(is_error_body("<Error errorCode\t=\"6\"/>"));
        assert!(is_error_body("<Error errorCode\n='6'/>"));
        assert!(is_error_body("errorCode="));
        // Anywhere in the body, even inside a successful reply.
        assert!(is_error_body(
            r#"<LogoffReply uuid="x"><Note text="errorCode=1"/></LogoffReply>"#
        ));
        // Second occurrence matches although the first does not.
        assert!(is_error_body("errorCode: 1 and errorCode=2"));

        assert!(!is_error_body(r#"<LogoffReply uuid="x"/>"#));
        assert!(
            !is_error_body("errorCode  =1"),
            "only one white-space character"
        );
        assert!(!is_error_body("errorcode=1"), "case-sensitive");
        assert!(!is_error_body("ErrorCode"));
        assert!(!is_error_body("errorCode"));
        assert!(!is_error_body("errorCode "));
        assert!(!is_error_body("errorCodes=1"));
        assert!(!is_error_body(""));
    }

    #[test]
    fn interpret_error_before_status_and_root() {
        let body = r#"<Error errorCode="9" userFriendlyMessage="Problem logging on" technicalMessage="t" uuid="0f5a2c8e-3b7d-4e61-9a20-5c1d8e4f7b93"/>"#;
        let e = interpret::<LogoffReply>(200, Ok(body)).unwrap_err();
        assert_eq!(e.code(), Some("9"));
        let Error::Pfs { uuid, .. } = &e else {
            panic!("{e:?}")
        };
        assert!(uuid.is_some());
        // An Error body wins over a non-2xx status.
        let e = interpret::<LogoffReply>(500, Ok(body)).unwrap_err();
        assert_eq!(e.code(), Some("9"));
    }

    #[test]
    fn interpret_status_and_root() {
        assert_eq!(
            interpret::<LogoffReply>(502, Ok("bad gateway")).unwrap_err(),
            Error::Http { status: 502 }
        );
        assert_eq!(
            interpret::<LogoffReply>(503, Err(())).unwrap_err(),
            Error::Http { status: 503 }
        );
        assert!(matches!(
            interpret::<LogoffReply>(200, Err(())),
            Err(Error::UnexpectedReply(_))
        ));
        let e = interpret::<LogoffReply>(200, Ok("<PatientSelectedReply/>")).unwrap_err();
        assert!(
            matches!(&e, Error::UnexpectedReply(m) if m.contains("PatientSelectedReply")),
            "{e:?}"
        );
        assert!(matches!(
            interpret::<LogoffReply>(200, Ok("")),
            Err(Error::UnexpectedReply(_))
        ));
        // An Error-looking body that is not an Error document.
        assert!(matches!(
            interpret::<LogoffReply>(200, Ok(r#"<LogoffReply note="errorCode=1"/>"#)),
            Err(Error::UnexpectedReply(_))
        ));
        let ok: LogoffReply = interpret(
            200,
            Ok(r#"<?xml version="1.0"?><LogoffReply uuid="0f5a2c8e-3b7d-4e61-9a20-5c1d8e4f7b93"/>"#),
        )
        .expect("a LogoffReply");
        assert!(ok.uuid.is_some());
    }

    #[test]
    fn raw_response_decode_and_debug() {
        let raw = RawResponse {
            status: 200,
            suid: Some("very-secret-suid".into()),
            headers: HeaderMap::new(),
            body: r#"<ListServiceAccessesReply><ServiceAccess description="Messaging" status="A"/></ListServiceAccessesReply>"#.into(),
        };
        assert!(!raw.is_error());
        let reply: pfs_wire::ListServiceAccessesReply = raw.decode().expect("decodes");
        let first: &ServiceAccess = &reply.services[0];
        assert_eq!(first.description, "Messaging");
        let debug = format!("{raw:?}");
        assert!(!debug.contains("very-secret-suid"), "{debug}");
        assert!(debug.contains("[REDACTED]"), "{debug}");
    }

    #[tokio::test]
    async fn calls_needing_an_application_fail_without_one() {
        let client = offline_client();
        let e = client.check_version().await.unwrap_err();
        assert!(
            matches!(&e, Error::Config(m) if m.contains("application")),
            "{e:?}"
        );
        let e = client
            .authenticate("X12345", "1", &SecretString::from("pw"))
            .await
            .unwrap_err();
        assert!(matches!(e, Error::Config(_)), "{e:?}");
    }

    #[tokio::test]
    async fn invalid_header_values_are_config_errors_without_the_value() {
        let client = offline_client();
        let e = client
            .raw("Logoff", Some("bad\nsuid-value"), String::new())
            .await
            .unwrap_err();
        assert!(
            matches!(&e, Error::Config(m) if !m.contains("suid-value")),
            "{e:?}"
        );
        let e = client
            .raw("Bad\nType", None, String::new())
            .await
            .unwrap_err();
        assert!(matches!(e, Error::Config(_)), "{e:?}");
    }

    #[tokio::test]
    async fn connection_refused_is_a_transport_error() {
        let client = offline_client();
        let e = client.raw("Logoff", None, String::new()).await.unwrap_err();
        assert!(matches!(e, Error::Transport(_) | Error::Timeout), "{e:?}");
    }
}
