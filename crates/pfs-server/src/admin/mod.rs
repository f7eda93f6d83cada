//! The JSON admin API: the practice side, on its own listener, behind a bearer token.
//! docs/admin-api.md documents every route.
//!
//! One file per feature area, `admin/<area>.rs`, with that area's routes and handlers; this
//! file assembles the router and holds what they share: the state, the bearer-token check, the
//! error shape and `/health`.

use std::convert::Infallible;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use futures_util::FutureExt;
use http::HeaderValue;
use hyper::body::Incoming;
use hyper::service::{Service, service_fn};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use pfs_core::Pfs;
use pfs_core::admin::AdminError;
use serde_json::json;
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::Limits;
use crate::pki::PemPair;
use crate::transport::{
    self, Counters, DeadlineBody, Listener, RequestHook, RequestStart, Stamped, stopping,
};

mod account;
mod appointment;
mod demographics;
mod fault;
mod medication;
mod messaging;
mod namespace;
mod patient;
mod pharmacy;
mod practice;
mod provider;
mod proxy;
mod record;
mod sandbox;
mod service;

/// What the admin handlers share.
pub struct AdminState {
    /// The service.
    pub pfs: Arc<Pfs>,
    /// The bearer token.
    pub token: String,
    /// The provider CA, for issuing client certificates.
    pub ca: PemPair,
    /// The server's counters, reported by `/health`.
    pub counters: Arc<Counters>,
    /// The server's metrics, rendered by `/metrics`.
    pub metrics: Arc<crate::Metrics>,
    /// The sandbox's clock offset (time travel), set by `/api/sandbox/clock`.
    pub clock_offset: pfs_core::ClockOffset,
}

/// An admin API failure: a status and a JSON body `{"error": kind, "message": text}`.
pub struct ApiError(StatusCode, &'static str, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "error": self.1, "message": self.2 }))).into_response()
    }
}

impl From<AdminError> for ApiError {
    fn from(e: AdminError) -> Self {
        match e {
            AdminError::NotFound(m) => ApiError(StatusCode::NOT_FOUND, "not_found", m),
            AdminError::Conflict(m) => ApiError(StatusCode::CONFLICT, "conflict", m),
            AdminError::Invalid(m) => ApiError(StatusCode::UNPROCESSABLE_ENTITY, "invalid", m),
            AdminError::Store(m) => ApiError(StatusCode::SERVICE_UNAVAILABLE, "unavailable", m),
        }
    }
}

type ApiResult<T> = Result<Json<T>, ApiError>;

/// A JSON request body whose rejections (bad JSON, missing fields, wrong content type) use the
/// API's error shape rather than axum's plain text, without the values serde quotes.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> axum::extract::FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, ApiError> {
        <Json<T> as axum::extract::FromRequest<S>>::from_request(req, state)
            .await
            .map(|Json(v)| ApiJson(v))
            .map_err(|r| ApiError(r.status(), "invalid", without_values(&r.body_text())))
    }
}

/// A JSON body a route may also be sent without: an empty (or blank) body is `T::default()`;
/// a body that does not decode is refused with `422` and the API's error shape.
fn optional_body<T: serde::de::DeserializeOwned + Default>(body: &[u8]) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body).map_err(|e| {
        ApiError(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
            without_values(&e.to_string()),
        )
    })
}

/// serde's and axum's texts quote the value they could not use (`invalid type: string "…",
/// expected u32`, ``unknown variant `…` ``); an error body must not send it back (it can be
/// large, or hold the characters that made it bad). Keeps the words, the position and the
/// names the code itself supplies (``missing field `x` ``, what was expected); every other
/// quoted value becomes `…`. At most 300 characters.
fn without_values(text: &str) -> String {
    const MAX_CHARS: usize = 300;
    let mut out = String::with_capacity(text.len().min(MAX_CHARS));
    let mut chars = text.chars();
    let mut after_expected = false;
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                let mut escaped = false;
                for d in chars.by_ref() {
                    match d {
                        _ if escaped => escaped = false,
                        '\\' => escaped = true,
                        '"' => break,
                        _ => {}
                    }
                }
                out.push_str("\"…\"");
            }
            '`' => {
                let keep = after_expected || out.ends_with("missing field ");
                let quoted: String = chars.by_ref().take_while(|d| *d != '`').collect();
                out.push('`');
                out.push_str(if keep { &quoted } else { "…" });
                out.push('`');
            }
            _ => out.push(c),
        }
        after_expected = after_expected || out.ends_with("expected");
    }
    match out.char_indices().nth(MAX_CHARS) {
        Some((cut, _)) => {
            out.truncate(cut);
            out.push('…');
            out
        }
        None => out,
    }
}

/// The admin router.
pub fn router(state: Arc<AdminState>) -> Router {
    let api = Router::new()
        .merge(provider::routes())
        .merge(practice::routes())
        .merge(appointment::routes())
        .merge(medication::routes())
        .merge(demographics::routes())
        .merge(pharmacy::routes())
        .merge(messaging::routes())
        .merge(patient::routes())
        .merge(account::routes())
        .merge(proxy::routes())
        .merge(record::routes())
        .merge(sandbox::routes())
        .merge(namespace::routes())
        .merge(service::routes())
        .merge(fault::routes())
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            require_token,
        ));
    // `/metrics` takes the same token as the API: request volumes by message type and result
    // are the practice side's business, and Prometheus sends a bearer token from a file.
    let metrics = Router::new().route("/metrics", get(metrics)).route_layer(
        axum::middleware::from_fn_with_state(state.clone(), require_token),
    );
    Router::new()
        .route("/health", get(health))
        .merge(metrics)
        .nest("/api", api)
        .with_state(state)
}

async fn require_token(
    State(state): State<Arc<AdminState>>,
    headers: HeaderMap,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let given = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    // Comparing digests keeps the comparison's timing independent of the token.
    if Sha256::digest(given.trim().as_bytes()) != Sha256::digest(state.token.as_bytes()) {
        return ApiError(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "send Authorization: Bearer <admin token> (DATA_DIR/admin-token)".into(),
        )
        .into_response();
    }
    next.run(req).await
}

/// The Prometheus text exposition of this server's metrics (docs/operations.md, "Monitoring").
async fn metrics(State(state): State<Arc<AdminState>>) -> Response {
    let text = state.metrics.render(&state.pfs, &state.counters);
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

async fn health(State(state): State<Arc<AdminState>>) -> Response {
    let panics = state.counters.panics_caught();
    let clock = sandbox::ClockState::of(&state);
    let faults = state.pfs.active_fault_rules();
    match state.pfs.store().ping().await {
        Ok(()) => Json(json!({
            "status": "ok",
            "database": "reachable",
            "panicsCaught": panics,
            "clock": clock,
            "faultRules": faults,
        }))
        .into_response(),
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({
                "status": "degraded",
                "database": "unreachable",
                "panicsCaught": panics,
                "clock": clock,
                "faultRules": faults,
            })),
        )
            .into_response(),
    }
}

/// Serves the admin API on `listener` until `shutdown` turns true, then drains its connections
/// like the PFS listener does. Each request's headers must arrive within
/// [`Limits::header_timeout`] and the whole request within [`Limits::request_timeout`] (else
/// `408` and the connection is closed); a panic in a handler is answered with `500` and counted.
pub(crate) async fn serve(
    listener: TcpListener,
    state: Arc<AdminState>,
    limits: Limits,
    hook: Option<RequestHook>,
    mut shutdown: watch::Receiver<bool>,
) {
    let counters = state.counters.clone();
    let app = TowerToHyperService::new(router(state));
    let mut conns = JoinSet::new();
    loop {
        let (tcp, _remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!(error = %e, "admin accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            Some(ended) = conns.join_next() => {
                transport::reap(ended, &counters, "admin");
                continue;
            }
            _ = stopping(&mut shutdown) => break,
        };
        let start = RequestStart::new();
        let app = app.clone();
        let counters = counters.clone();
        let hook = hook.clone();
        let conn_start = start.clone();
        let service = service_fn(move |req| {
            let app = app.clone();
            let counters = counters.clone();
            let hook = hook.clone();
            let started = conn_start.take();
            async move {
                let handled = AssertUnwindSafe(handle(app, hook, limits, started, req))
                    .catch_unwind()
                    .await;
                Ok::<_, Infallible>(handled.unwrap_or_else(|_| {
                    counters.panic_caught();
                    tracing::error!("an admin request handler panicked; answered 500");
                    ApiError(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "internal",
                        "an internal fault interrupted the request; it may not have completed"
                            .into(),
                    )
                    .into_response()
                }))
            }
        });
        let conn = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_timeout)
            .serve_connection(TokioIo::new(Stamped::new(tcp, start)), service);
        let shutdown = shutdown.clone();
        conns.spawn(async move {
            if let Err(e) = transport::serve_until_stopped(conn, shutdown).await {
                tracing::debug!(error = %e, "admin connection ended with an error");
            }
        });
    }
    drop(listener);
    transport::drain(&mut conns, limits.drain_timeout, &counters, "admin").await;
}

/// Hands the request to the router with a body that fails at the request's deadline; a
/// request whose body timed out is answered with `408` and its connection closed.
async fn handle(
    app: TowerToHyperService<Router>,
    hook: Option<RequestHook>,
    limits: Limits,
    started: tokio::time::Instant,
    req: http::Request<Incoming>,
) -> Response {
    if let Some(hook) = &hook {
        hook(Listener::Admin, req.headers());
    }
    let timed_out = Arc::new(AtomicBool::new(false));
    let deadline = started + limits.request_timeout;
    let req =
        req.map(|body| axum::body::Body::new(DeadlineBody::new(body, deadline, timed_out.clone())));
    let response = match app.call(req).await {
        Ok(response) => response,
        Err(never) => match never {},
    };
    if !timed_out.load(Ordering::Relaxed) {
        return response;
    }
    let mut response = ApiError(
        StatusCode::REQUEST_TIMEOUT,
        "timeout",
        format!(
            "the request did not arrive in full within {} ms of its first byte",
            limits.request_timeout.as_millis()
        ),
    )
    .into_response();
    response
        .headers_mut()
        .insert(http::header::CONNECTION, HeaderValue::from_static("close"));
    response
}

#[cfg(test)]
mod tests {
    use super::without_values;

    #[test]
    fn rejection_texts_lose_their_values() {
        for (text, want) in [
            (
                "Failed to deserialize the JSON body into the target type: address: invalid type: string \"a \\\"quoted\\\" value\", expected u32 at line 1 column 40",
                "Failed to deserialize the JSON body into the target type: address: invalid type: string \"…\", expected u32 at line 1 column 40",
            ),
            (
                "invalid value: integer `-5`, expected u32",
                "invalid value: integer `…`, expected u32",
            ),
            (
                "unknown variant `huge`, expected one of `on`, `off`",
                "unknown variant `…`, expected one of `on`, `off`",
            ),
            (
                "Failed to deserialize the JSON body into the target type: missing field `nhsNumber` at line 1 column 2",
                "Failed to deserialize the JSON body into the target type: missing field `nhsNumber` at line 1 column 2",
            ),
            (
                "EOF while parsing a string at line 1 column 9",
                "EOF while parsing a string at line 1 column 9",
            ),
        ] {
            assert_eq!(without_values(text), want);
        }
        let long = format!("invalid type: map, expected {}", "x".repeat(1000));
        assert_eq!(without_values(&long).chars().count(), 301);
        let unclosed = format!("invalid type: string \"{}", "v".repeat(1000));
        assert_eq!(without_values(&unclosed), "invalid type: string \"…\"");
    }
}
