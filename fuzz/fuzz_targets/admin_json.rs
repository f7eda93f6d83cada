//! The admin API's JSON bodies through the real router and handlers (in process, with the
//! token): never panics, never answers 5xx, and every error is a JSON body that names no more
//! than a bounded amount of the input.
//!
//! Input: a route selector byte, then the body. `$P` and `$Q` stand for demo patients.

#![no_main]

use axum::body::Body;
use axum::http::{Method, Request, header};
use http_body_util::BodyExt;
use libfuzzer_sys::fuzz_target;
use tower::ServiceExt;

/// Every admin route that takes a JSON body: (method, path).
const ROUTES: &[(Method, &str)] = &[
    (Method::POST, "/api/practices"),
    (Method::PUT, "/api/practices/Y99001/settings"),
    (Method::PUT, "/api/practices/Y99001/services/appointments"),
    (Method::POST, "/api/practices/Y99001/sessions"),
    (Method::POST, "/api/patients"),
    (Method::POST, "/api/patients/$P/proxies"),
    (Method::PUT, "/api/patients/$P/services/messaging"),
    (Method::POST, "/api/patients/$Q/account"),
    (Method::POST, "/api/providers"),
    (Method::POST, "/api/patients/$P/courses"),
    (Method::PATCH, "/api/courses/999999999"),
    (Method::POST, "/api/prescription-requests/999999999/issue"),
    (Method::PUT, "/api/patients/$P/demographics"),
    (Method::POST, "/api/demographics-changes/999999999/reject"),
    (Method::POST, "/api/pharmacies"),
    (Method::POST, "/api/pharmacies/import"),
    (Method::PUT, "/api/patients/$P/nominated-pharmacy"),
    (Method::POST, "/api/practices/Y99001/message-recipients"),
    (Method::PATCH, "/api/practices/Y99001/message-recipients/999999999999"),
    (Method::POST, "/api/practices/Y99001/conversations/999999999999/replies"),
    (Method::POST, "/api/practices/Y99001/messages/read"),
    (Method::POST, "/api/faults"),
    (Method::PUT, "/api/sandbox/clock"),
    (Method::POST, "/api/sandbox/snapshots"),
    (Method::POST, "/api/sandbox/seed/practices"),
    (Method::POST, "/api/sandbox/seed/patients"),
    (Method::POST, "/api/sandbox/namespaces"),
];

fuzz_target!(|data: &[u8]| {
    let Some((selector, body)) = data.split_first() else {
        return;
    };
    let world = pfs_fuzz::world();
    let (method, path) = &ROUTES[usize::from(*selector) % ROUTES.len()];
    let path = String::from_utf8(world.fill(path.as_bytes())).expect("ASCII path");
    let request = Request::builder()
        .method(method.clone())
        .uri(path)
        .header(
            header::AUTHORIZATION,
            format!("Bearer {}", world.server.admin_token),
        )
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(world.fill(body)))
        .expect("request");
    let router = pfs_fuzz::admin_router();
    let (status, bytes) = world.runtime.block_on(async {
        let response = router.oneshot(request).await.expect("infallible");
        let status = response.status();
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        (status, bytes)
    });
    assert!(!status.is_server_error(), "{status}");
    // Error bodies name the field, not the value: they stay small whatever came in.
    if !status.is_success() {
        assert!(bytes.len() < 1024, "{status}: {} bytes", bytes.len());
    }
});
