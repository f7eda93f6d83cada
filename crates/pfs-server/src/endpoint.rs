//! The PFS endpoint: TLS accept, provider identity from the client certificate, one POST
//! handler for every message.
//!
//! Every failure is HTTP 200 with an `Error` body echoing the request's `uuid`, as the real API
//! does; real clients treat any other status as a gateway failure. The two exceptions are
//! `CONNECT` and `HEAD`, whose HTTP 200 replies could carry no body: they get 405. Fault
//! injection rules ([`pfs_core::fault`]) break this on purpose: once the body is read, a request
//! they hit may be delayed, answered with a chosen `Error` or gateway status, dropped with no
//! reply, or run and then answered with a malformed, truncated or empty body.
//!
//! The transport is bounded: a connection slot before `accept` ([`Limits::max_connections`]),
//! a TLS handshake timeout, hyper's header timeout, a whole-request deadline while the body is
//! read ([`Limits::request_timeout`], answered with `9001` and the connection closed), and a
//! per-provider cap on requests in flight, checked before the body is read (`9008`). A panic in
//! the handler is answered with `9010` and counted ([`Counters`]).

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::FutureExt;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use pfs_core::fault::FaultAction;
use pfs_core::{DomainError, Pfs, Served};
use pfs_wire::{ErrorReply, Guid, WireMessage, sniff_uuid};
use secrecy::ExposeSecret;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tracing::Instrument;
use tracing::field::Empty;

use crate::metrics::{Metrics, OpenConnection};

use crate::transport::{
    self, BodyError, Counters, Listener, RequestHook, RequestStart, Stamped, stopping,
};

/// Limits of the listeners. docs/operations.md lists them with what a client sees when one
/// is hit.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest request body accepted (default 1 MiB); a message that declares a larger limit
    /// of its own (`MessageCreate`, see [`pfs_wire::MESSAGE_CREATE_MAX_BODY_BYTES`]) gets that.
    pub max_body_bytes: usize,
    /// Time allowed for the TLS handshake (default 10 s).
    pub handshake_timeout: Duration,
    /// Time allowed for a request's headers to arrive, counted from when the connection is
    /// ready for the request, so it also closes idle keep-alive connections (default 30 s;
    /// both listeners).
    pub header_timeout: Duration,
    /// Time allowed for a whole request, headers and body, counted from its first byte
    /// (default 30 s; both listeners).
    pub request_timeout: Duration,
    /// Connections the PFS listener holds at once, TLS handshakes included (default 1,024);
    /// more wait in the kernel's accept queue.
    pub max_connections: usize,
    /// Requests of one provider (client certificate) being served at once (default 64); more
    /// get `9008`.
    pub max_in_flight_per_provider: usize,
    /// How long a stopping server lets requests in progress finish before it closes every
    /// connection still open (default 10 s).
    pub drain_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 1024 * 1024,
            handshake_timeout: Duration::from_secs(10),
            header_timeout: Duration::from_secs(30),
            request_timeout: Duration::from_secs(30),
            max_connections: 1024,
            max_in_flight_per_provider: 64,
            drain_timeout: Duration::from_secs(10),
        }
    }
}

/// What every connection of the PFS listener shares.
struct Endpoint {
    pfs: Arc<Pfs>,
    limits: Limits,
    in_flight: InFlight,
    counters: Arc<Counters>,
    metrics: Arc<Metrics>,
    hook: Option<RequestHook>,
}

/// What one connection knows about its peer.
struct Peer {
    /// SHA-256 of the client certificate; `None` cannot happen with the verifier in place, but
    /// is answered like an unregistered provider rather than trusted.
    fingerprint: Option<String>,
    /// The in-flight slots of the certificate's provider, shared by all its connections.
    slots: Arc<Semaphore>,
    /// When the request being read began.
    start: Arc<RequestStart>,
}

/// Per-provider in-flight slots, by certificate fingerprint. A provider's semaphore lives as
/// long as one of its connections does; the table forgets it afterwards.
struct InFlight {
    max: usize,
    by_fingerprint: Mutex<HashMap<String, Weak<Semaphore>>>,
}

impl InFlight {
    fn new(max: usize) -> Self {
        InFlight {
            max,
            by_fingerprint: Mutex::new(HashMap::new()),
        }
    }

    /// The slots of the provider holding this certificate (looked up once per connection).
    fn slots_for(&self, fingerprint: Option<&str>) -> Arc<Semaphore> {
        let key = fingerprint.unwrap_or("");
        let mut table = self
            .by_fingerprint
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(slots) = table.get(key).and_then(Weak::upgrade) {
            return slots;
        }
        table.retain(|_, slots| slots.strong_count() > 0);
        let slots = Arc::new(Semaphore::new(self.max.min(Semaphore::MAX_PERMITS)));
        table.insert(key.to_owned(), Arc::downgrade(&slots));
        slots
    }
}

/// Accepts connections until `shutdown` turns true, then drains them.
///
/// A connection slot is taken before `accept`, so connections beyond
/// [`Limits::max_connections`] wait in the kernel's accept queue until one closes.
// What the listener shares with the rest of the server, passed as it is started.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn serve(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    pfs: Arc<Pfs>,
    limits: Limits,
    counters: Arc<Counters>,
    metrics: Arc<Metrics>,
    hook: Option<RequestHook>,
    mut shutdown: watch::Receiver<bool>,
) {
    let acceptor = TlsAcceptor::from(tls);
    let endpoint = Arc::new(Endpoint {
        pfs,
        limits,
        in_flight: InFlight::new(limits.max_in_flight_per_provider),
        counters,
        metrics,
        hook,
    });
    let slots = Arc::new(Semaphore::new(
        limits.max_connections.min(Semaphore::MAX_PERMITS),
    ));
    let mut conns = JoinSet::new();
    loop {
        let permit = tokio::select! {
            permit = slots.clone().acquire_owned() => match permit {
                Ok(p) => p,
                Err(_) => break,
            },
            Some(ended) = conns.join_next() => {
                transport::reap(ended, &endpoint.counters, "pfs");
                continue;
            }
            _ = stopping(&mut shutdown) => break,
        };
        let (tcp, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(x) => x,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            Some(ended) = conns.join_next() => {
                transport::reap(ended, &endpoint.counters, "pfs");
                continue;
            }
            _ = stopping(&mut shutdown) => break,
        };
        conns.spawn(connection(
            tcp,
            remote,
            acceptor.clone(),
            endpoint.clone(),
            shutdown.clone(),
            permit,
        ));
    }
    drop(listener);
    transport::drain(&mut conns, limits.drain_timeout, &endpoint.counters, "pfs").await;
}

/// One connection: the TLS handshake, then HTTP/1.1 requests one at a time.
async fn connection(
    tcp: TcpStream,
    remote: std::net::SocketAddr,
    acceptor: TlsAcceptor,
    endpoint: Arc<Endpoint>,
    mut shutdown: watch::Receiver<bool>,
    _slot: OwnedSemaphorePermit,
) {
    let _open = OpenConnection::new(&endpoint.metrics);
    let limits = endpoint.limits;
    let _ = tcp.set_nodelay(true);
    let handshake = tokio::time::timeout(limits.handshake_timeout, acceptor.accept(tcp));
    let tls = tokio::select! {
        done = handshake => match done {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => {
                tracing::info!(%remote, error = %e, "TLS handshake refused");
                return;
            }
            Err(_) => {
                tracing::info!(%remote, "TLS handshake timed out");
                return;
            }
        },
        _ = stopping(&mut shutdown) => return,
    };
    let fingerprint = tls
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|c| c.first())
        .map(|c| pfs_core::secrets::fingerprint(c));
    let start = RequestStart::new();
    let peer = Arc::new(Peer {
        slots: endpoint.in_flight.slots_for(fingerprint.as_deref()),
        fingerprint,
        start: start.clone(),
    });
    let service = service_fn(move |req| {
        let endpoint = endpoint.clone();
        let peer = peer.clone();
        async move { guarded(&endpoint, &peer, req).await }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .serve_connection(TokioIo::new(Stamped::new(tls, start)), service);
    if let Err(e) = transport::serve_until_stopped(conn, shutdown).await {
        tracing::debug!(%remote, error = %e, "connection ended with an error");
    }
}

/// Handles a request inside its span; a panic in the handler is answered with `9010` and
/// counted, and the connection goes on serving.
///
/// The span (`request`, at `info`, so that warnings and errors logged while serving carry it)
/// holds the message type (a known name or `unknown`), and once known the provider's name, the
/// result code and the time taken in microseconds; never a header value, `suid` or body.
async fn guarded(
    endpoint: &Endpoint,
    peer: &Peer,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Dropped> {
    let started = peer.start.take();
    let timer = Instant::now();
    let sent_type = req.headers().get("type").and_then(|v| v.to_str().ok());
    let message_type = known_type(sent_type.map(str::trim));
    let span = tracing::info_span!(
        "request",
        r#type = message_type,
        provider = Empty,
        code = Empty,
        micros = Empty
    );
    let handled = AssertUnwindSafe(handle(endpoint, peer, req, started, timer))
        .catch_unwind()
        .instrument(span.clone())
        .await;
    match handled {
        Ok(response) => response,
        Err(_) => {
            endpoint.counters.panic_caught();
            let _entered = span.enter();
            // The panic message went to standard error through the panic hook; it is not
            // repeated here, since it might quote request data.
            tracing::error!("a PFS request handler panicked; answered 9010");
            let code = DomainError::InternalFault.code(None).code;
            done(endpoint, Some(message_type), None, None, code, timer);
            Ok(error_response(&DomainError::InternalFault, None, None))
        }
    }
}

/// A fault rule's dropped connection: returned by the service instead of a response, which
/// makes hyper close the connection without writing anything.
#[derive(Debug)]
struct Dropped;

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by a fault rule")
    }
}

impl std::error::Error for Dropped {}

/// The largest body accepted for a request whose `type` header is `message_type`:
/// [`Limits::max_body_bytes`], or the message's own larger limit
/// ([`pfs_wire::RequestMessage::MAX_BODY_BYTES`]).
fn body_limit(limits: &Limits, message_type: Option<&str>) -> usize {
    message_type
        .and_then(pfs_wire::Request::max_body_bytes)
        .map_or(limits.max_body_bytes, |own| own.max(limits.max_body_bytes))
}

async fn handle(
    endpoint: &Endpoint,
    peer: &Peer,
    req: Request<Incoming>,
    started: tokio::time::Instant,
    timer: Instant,
) -> Result<Response<Full<Bytes>>, Dropped> {
    let limits = endpoint.limits;
    if let Some(hook) = &endpoint.hook {
        hook(Listener::Pfs, req.headers());
    }
    // A reply to CONNECT with a 2xx status opens a tunnel and carries no body, and a reply to
    // HEAD never carries one: these two are refused with 405 (the Error body goes with
    // CONNECT) and the connection closed.
    if matches!(*req.method(), Method::CONNECT | Method::HEAD) {
        let mut response = error_response(&DomainError::NotPost, None, None);
        *response.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
        let headers = response.headers_mut();
        headers.insert(header::ALLOW, HeaderValue::from_static("POST"));
        headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
        done(
            endpoint,
            None,
            None,
            None,
            DomainError::NotPost.code(None).code,
            timer,
        );
        return Ok(response);
    }
    let message_type = single_header(&req, "type");
    let suid = single_header(&req, "suid");
    let refusal = if req.method() != Method::POST {
        Some(DomainError::NotPost)
    } else if message_type.is_err() {
        Some(DomainError::DuplicateHeader("type"))
    } else if suid.is_err() {
        Some(DomainError::DuplicateHeader("suid"))
    } else {
        None
    };
    let message_type = message_type.ok().flatten();
    let suid = suid.ok().flatten();

    // The provider's in-flight cap is checked before the body is read.
    let Ok(_slot) = peer.slots.try_acquire() else {
        let e = DomainError::TooManyInFlight(limits.max_in_flight_per_provider);
        done(
            endpoint,
            message_type.as_deref(),
            None,
            None,
            e.code(None).code,
            timer,
        );
        return Ok(error_response(&e, message_type.as_deref(), None));
    };

    // The body limit is the type's: the listener's for every request, unless the message
    // declares a larger one (MessageCreate, whose attachments travel as base64).
    let max_body = body_limit(&limits, message_type.as_deref());
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    let declared_too_large = declared.is_some_and(|n| n > max_body);
    let deadline = started + limits.request_timeout;
    let mut close = false;
    let body = if declared_too_large {
        Err(DomainError::TooLarge(max_body))
    } else {
        match transport::read_body(req.into_body(), max_body, declared, deadline).await {
            Ok(body) => Ok(body),
            Err(BodyError::TooLarge) => Err(DomainError::TooLarge(max_body)),
            Err(BodyError::TimedOut) => {
                close = true;
                Err(DomainError::RequestTimeout(
                    limits.request_timeout.as_millis() as u64,
                ))
            }
            Err(BodyError::Unreadable) => {
                close = true;
                Err(DomainError::Decode(pfs_wire::DecodeError::Xml(
                    pfs_wire::XmlError::Malformed {
                        position: 0,
                        reason: "the request body could not be read".into(),
                    },
                )))
            }
        }
    };
    // A fault that leaves the request executed changes its reply below.
    let mut after: Option<FaultAction> = None;
    let served = match (refusal, body) {
        (None, Ok(body)) => {
            if let Some(injection) = endpoint
                .pfs
                .fault_for(message_type.as_deref(), peer.fingerprint.as_deref(), &body)
                .await
            {
                if !injection.delay.is_zero() {
                    tokio::time::sleep(injection.delay).await;
                }
                if let Some(fired) = injection.action {
                    if !fired.action.executes() {
                        done(
                            endpoint,
                            message_type.as_deref(),
                            None,
                            None,
                            "fault",
                            timer,
                        );
                        return fault_response(&fired.action, &body);
                    }
                    after = Some(fired.action);
                }
            }
            endpoint
                .pfs
                .serve(
                    peer.fingerprint.as_deref(),
                    message_type.as_deref(),
                    suid.as_deref(),
                    &body,
                )
                .await
        }
        // Refused before the body is looked at: echo a uuid if one can be found.
        (Some(refusal), body) => Served {
            uuid: body.ok().and_then(|b| sniff_uuid(&b)),
            result: Err(refusal),
            provider: None,
        },
        (None, Err(e)) => Served {
            uuid: None,
            result: Err(e),
            provider: None,
        },
    };
    let uuid = served.uuid;
    let mut response = match served.result {
        Ok(reply) => {
            done(
                endpoint,
                message_type.as_deref(),
                uuid,
                served.provider.as_deref(),
                "0",
                timer,
            );
            let mut response = xml_response(reply.body.to_document());
            if let Some(v) = reply
                .suid
                .and_then(|s| HeaderValue::from_str(s.expose_secret()).ok())
            {
                response.headers_mut().insert("suid", v);
            }
            response
        }
        Err(e) => {
            if let DomainError::Unavailable(detail) = &e {
                // Store errors name tables and keys, never values: safe to log in full.
                tracing::error!(%detail, "request failed inside the server");
            }
            done(
                endpoint,
                message_type.as_deref(),
                uuid,
                served.provider.as_deref(),
                e.code(message_type.as_deref()).code,
                timer,
            );
            error_response(&e, message_type.as_deref(), uuid)
        }
    };
    if close {
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    match after {
        None => Ok(response),
        Some(action) => spoil(response, &action),
    }
}

/// The answer to a request that a fault rule hit before it was handled (an `Error`, an HTTP
/// status, or a dropped connection).
fn fault_response(action: &FaultAction, body: &[u8]) -> Result<Response<Full<Bytes>>, Dropped> {
    match action {
        FaultAction::Error {
            error_code,
            user_friendly_message,
            technical_message,
        } => {
            let reply = ErrorReply {
                error_code: error_code.clone(),
                user_friendly_message: user_friendly_message.clone().unwrap_or_default(),
                technical_message: technical_message.clone().unwrap_or_default(),
                // Real errors echo the request's uuid, or make one up when it had none.
                uuid: Some(sniff_uuid(body).unwrap_or_else(Guid::new_v4)),
            };
            Ok(xml_response(reply.encode()))
        }
        FaultAction::HttpStatus { status } => {
            let status = StatusCode::from_u16(*status).unwrap_or(StatusCode::BAD_GATEWAY);
            let text = format!(
                "{} {}\n",
                status.as_u16(),
                status.canonical_reason().unwrap_or("")
            );
            let mut response = Response::new(Full::new(Bytes::from(text)));
            *response.status_mut() = status;
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            );
            Ok(response)
        }
        // Drop before handling; the others run the request first (see `spoil`).
        _ => Err(Dropped),
    }
}

/// What a fault rule that leaves the request executed does to its reply: drops the
/// connection, or sends a body that is not XML, the first half of the reply, or nothing, with
/// the reply's status and headers.
fn spoil(
    response: Response<Full<Bytes>>,
    action: &FaultAction,
) -> Result<Response<Full<Bytes>>, Dropped> {
    let (parts, body) = response.into_parts();
    // The body is a `Full`: it is ready now.
    let bytes = http_body_util::BodyExt::collect(body)
        .now_or_never()
        .and_then(Result::ok)
        .map(http_body_util::Collected::to_bytes)
        .unwrap_or_default();
    let spoilt = match action {
        FaultAction::Malformed => Bytes::from_static(b"Service temporarily unavailable: <<garbled"),
        FaultAction::Truncated => bytes.slice(..bytes.len() / 2),
        FaultAction::Empty => Bytes::new(),
        _ => return Err(Dropped),
    };
    Ok(Response::from_parts(parts, Full::new(spoilt)))
}

/// A request answered: counted in the metrics, its result recorded in its span, and one
/// debug line. The `type` header is counted and logged only when it names a known message;
/// anything else a client sends there is `unknown`.
fn done(
    endpoint: &Endpoint,
    message_type: Option<&str>,
    uuid: Option<Guid>,
    provider: Option<&str>,
    error_code: &'static str,
    timer: Instant,
) {
    let took = timer.elapsed();
    endpoint.metrics.request(message_type, error_code, took);
    let span = tracing::Span::current();
    let micros = took.as_micros() as u64;
    if let Some(provider) = provider {
        span.record("provider", provider);
    }
    span.record("code", error_code);
    span.record("micros", micros);
    tracing::debug!(
        uuid = %uuid.map(|g| g.to_string()).unwrap_or_default(),
        error_code,
        micros,
        "request"
    );
}

/// The message type as a static name from the list, or `unknown`.
fn known_type(message_type: Option<&str>) -> &'static str {
    message_type
        .and_then(|t| pfs_wire::REQUEST_TYPES.iter().find(|known| **known == t))
        .copied()
        .unwrap_or("unknown")
}

/// An HTTP 200 `text/xml` reply.
fn xml_response(body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = StatusCode::OK;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/xml; charset=utf-8"),
    );
    response
}

/// The `Error` reply for `e`, with HTTP 200.
fn error_response(
    e: &DomainError,
    message_type: Option<&str>,
    uuid: Option<Guid>,
) -> Response<Full<Bytes>> {
    xml_response(e.to_reply(message_type, uuid).encode())
}

/// A header's text, trimmed; `None` when absent or empty, `Err` when sent more than once.
fn single_header(req: &Request<Incoming>, name: &str) -> Result<Option<String>, ()> {
    let mut values = req.headers().get_all(name).iter();
    let first = values.next();
    if values.next().is_some() {
        return Err(());
    }
    Ok(first
        .and_then(|v| v.to_str().ok())
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty()))
}

#[cfg(test)]
mod tests {
    use super::known_type;

    #[test]
    fn only_known_message_types_are_logged() {
        assert_eq!(known_type(Some("CheckVersion")), "CheckVersion");
        assert_eq!(known_type(Some("PatientSelected")), "PatientSelected");
        for sent in ["checkversion", "CheckVersionReply", "<x>\n", ""] {
            assert_eq!(known_type(Some(sent)), "unknown", "{sent:?}");
        }
        assert_eq!(known_type(None), "unknown");
    }
}
