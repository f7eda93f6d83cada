//! The PFS endpoint: TLS accept, provider identity from the client certificate, one POST
//! handler for every message.
//!
//! Every failure is HTTP 200 with an `Error` body echoing the request's `uuid`, as the real API
//! does; real clients treat any other status as a gateway failure.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use pfs_core::{DomainError, Pfs, Served};
use pfs_wire::{WireMessage, sniff_uuid};
use secrecy::ExposeSecret;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

/// Limits of the PFS listener.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest request body accepted (default 1 MiB).
    pub max_body_bytes: usize,
    /// Time allowed for the TLS handshake (default 10 s).
    pub handshake_timeout: Duration,
    /// Time allowed for a request's headers to arrive (default 30 s).
    pub header_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 1024 * 1024,
            handshake_timeout: Duration::from_secs(10),
            header_timeout: Duration::from_secs(30),
        }
    }
}

/// What one connection knows about its peer.
struct Peer {
    /// SHA-256 of the client certificate; `None` cannot happen with the verifier in place, but
    /// is answered like an unregistered provider rather than trusted.
    fingerprint: Option<String>,
}

/// Accepts connections until `shutdown` turns true.
pub async fn serve(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    pfs: Arc<Pfs>,
    limits: Limits,
    mut shutdown: watch::Receiver<bool>,
) {
    let acceptor = TlsAcceptor::from(tls);
    loop {
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
            _ = shutdown.changed() => break,
        };
        let acceptor = acceptor.clone();
        let pfs = pfs.clone();
        tokio::spawn(async move {
            let _ = tcp.set_nodelay(true);
            let tls =
                match tokio::time::timeout(limits.handshake_timeout, acceptor.accept(tcp)).await {
                    Ok(Ok(s)) => s,
                    Ok(Err(e)) => {
                        tracing::info!(%remote, error = %e, "TLS handshake refused");
                        return;
                    }
                    Err(_) => {
                        tracing::info!(%remote, "TLS handshake timed out");
                        return;
                    }
                };
            let peer = Arc::new(Peer {
                fingerprint: tls
                    .get_ref()
                    .1
                    .peer_certificates()
                    .and_then(|c| c.first())
                    .map(|c| pfs_core::secrets::fingerprint(c)),
            });
            let service = service_fn(move |req| {
                let pfs = pfs.clone();
                let peer = peer.clone();
                async move { Ok::<_, Infallible>(handle(&pfs, &peer, limits, req).await) }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_timeout)
                .serve_connection(TokioIo::new(tls), service);
            if let Err(e) = conn.await {
                tracing::debug!(%remote, error = %e, "connection ended with an error");
            }
        });
    }
}

async fn handle(
    pfs: &Pfs,
    peer: &Peer,
    limits: Limits,
    req: Request<Incoming>,
) -> Response<Full<Bytes>> {
    let started = Instant::now();
    let message_type = header_text(&req, "type");
    let suid = header_text(&req, "suid");
    let is_post = req.method() == Method::POST;
    let declared_too_large = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        .is_some_and(|n| n > limits.max_body_bytes);

    let body = if declared_too_large {
        Err(DomainError::TooLarge(limits.max_body_bytes))
    } else {
        read_body(req.into_body(), limits.max_body_bytes).await
    };
    let served = match body {
        Ok(body) if is_post => {
            pfs.serve(
                peer.fingerprint.as_deref(),
                message_type.as_deref(),
                suid.as_deref(),
                &body,
            )
            .await
        }
        // Refused before the body is looked at: echo a uuid if one can be found.
        other => Served {
            uuid: other.as_ref().ok().and_then(|b| sniff_uuid(b)),
            result: Err(match other {
                Ok(_) => DomainError::NotPost,
                Err(e) => e,
            }),
            provider: None,
        },
    };
    let uuid = served.uuid;
    let (status_code, body, reply_suid) = match served.result {
        Ok(reply) => ("0", reply.body.to_document(), reply.suid),
        Err(e) => {
            let reply = e.to_reply(message_type.as_deref(), uuid);
            if let DomainError::Unavailable(detail) = &e {
                // Store errors name tables and keys, never values: safe to log in full.
                tracing::error!(%detail, "request failed inside the server");
            }
            (e.code(message_type.as_deref()).code, reply.encode(), None)
        }
    };
    tracing::debug!(
        r#type = message_type.as_deref().unwrap_or("-"),
        uuid = %uuid.map(|g| g.to_string()).unwrap_or_default(),
        provider = served.provider.as_deref().unwrap_or("-"),
        error_code = status_code,
        micros = started.elapsed().as_micros() as u64,
        "request"
    );
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/xml; charset=utf-8"),
    );
    if let Some(v) = reply_suid.and_then(|s| HeaderValue::from_str(s.expose_secret()).ok()) {
        headers.insert("suid", v);
    }
    response
}

async fn read_body(body: Incoming, max: usize) -> Result<Bytes, DomainError> {
    match Limited::new(body, max).collect().await {
        Ok(b) => Ok(b.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(DomainError::TooLarge(max)),
        Err(_) => Err(DomainError::Decode(pfs_wire::DecodeError::Xml(
            pfs_wire::XmlError::Malformed {
                position: 0,
                reason: "the request body could not be read".into(),
            },
        ))),
    }
}

fn header_text(req: &Request<Incoming>, name: &str) -> Option<String> {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
}
