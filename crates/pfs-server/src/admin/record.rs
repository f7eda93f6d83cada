//! The patient's record: events and items, documents (uploaded as raw bytes, page by page),
//! test results, online visibility, what each user may see, and the access log.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use chrono::{DateTime, Duration, Utc};
use pfs_core::admin::{
    DocumentView, GrantChange, GrantView, NewDocument, NewRecordEvent, NewRecordItem, NewTestResult,
};
use pfs_core::model::{RecordAccess, RecordEvent, RecordItem, TestResult};
use serde::Deserialize;

use super::{AdminState, ApiError, ApiJson, ApiResult};

/// Largest upload body: the largest document (40 MiB) in one page, and a little over.
const MAX_UPLOAD_BODY: usize = 40 * 1024 * 1024 + 1024;

pub(super) fn routes() -> Router<Arc<AdminState>> {
    let uploads = Router::new()
        .route("/patients/{id}/documents", post(add_document))
        .route("/documents/{id}/pages", post(append_page))
        .layer(DefaultBodyLimit::max(MAX_UPLOAD_BODY));
    Router::new()
        .merge(uploads)
        .route("/patients/{id}/record", get(record))
        .route("/patients/{id}/record/events", post(add_event))
        .route("/patients/{id}/record/events/{event}/items", post(add_item))
        .route(
            "/patients/{id}/record/items/{item}/visibility",
            put(item_visibility),
        )
        .route("/documents/{id}/pages/{page}", get(page))
        .route("/documents/{id}/complete", post(complete))
        .route(
            "/patients/{id}/test-results",
            get(test_results).post(add_test_result),
        )
        .route(
            "/patients/{id}/test-results/{result}/visibility",
            put(result_visibility),
        )
        .route(
            "/patients/{id}/record-access/{grantee}",
            get(grant).put(set_grant).delete(clear_grant),
        )
        .route("/patients/{id}/access-log", get(access_log))
}

#[derive(Deserialize)]
struct Visibility {
    visible: bool,
}

/// `from`/`to` as RFC 3339 instants; default: everything up to now.
#[derive(Deserialize)]
struct Window {
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
}

impl Window {
    fn bounds(&self, now: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
        (
            self.from
                .unwrap_or(DateTime::<Utc>::UNIX_EPOCH - Duration::days(365 * 70)),
            self.to.unwrap_or(now + Duration::days(1)),
        )
    }
}

async fn record(
    State(state): State<Arc<AdminState>>,
    Path(id): Path<String>,
) -> ApiResult<Vec<RecordEvent>> {
    Ok(Json(state.pfs.record_for_practice(&id).await?))
}

async fn add_event(
    State(state): State<Arc<AdminState>>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<NewRecordEvent>,
) -> Result<(StatusCode, Json<RecordEvent>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(state.pfs.add_record_event(&id, body).await?),
    ))
}

async fn add_item(
    State(state): State<Arc<AdminState>>,
    Path((id, event)): Path<(String, String)>,
    ApiJson(body): ApiJson<NewRecordItem>,
) -> Result<(StatusCode, Json<RecordItem>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(state.pfs.add_record_item(&id, &event, body).await?),
    ))
}

async fn item_visibility(
    State(state): State<Arc<AdminState>>,
    Path((id, item)): Path<(String, String)>,
    ApiJson(body): ApiJson<Visibility>,
) -> Result<StatusCode, ApiError> {
    state
        .pfs
        .set_record_item_visible(&id, &item, body.visible)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn add_document(
    State(state): State<Arc<AdminState>>,
    Path(id): Path<String>,
    Query(doc): Query<NewDocument>,
    body: Bytes,
) -> Result<(StatusCode, Json<DocumentView>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(state.pfs.add_document(&id, doc, body.to_vec()).await?),
    ))
}

async fn append_page(
    State(state): State<Arc<AdminState>>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<DocumentView> {
    Ok(Json(
        state.pfs.append_document_page(&id, body.to_vec()).await?,
    ))
}

async fn complete(
    State(state): State<Arc<AdminState>>,
    Path(id): Path<String>,
) -> ApiResult<DocumentView> {
    Ok(Json(state.pfs.complete_document(&id).await?))
}

async fn page(
    State(state): State<Arc<AdminState>>,
    Path((id, page)): Path<(String, u32)>,
) -> Result<impl IntoResponse, ApiError> {
    let bytes = state.pfs.document_page(&id, page).await?;
    Ok(([(header::CONTENT_TYPE, "application/octet-stream")], bytes))
}

async fn test_results(
    State(state): State<Arc<AdminState>>,
    Path(id): Path<String>,
    Query(w): Query<Window>,
) -> ApiResult<Vec<TestResult>> {
    let (from, to) = w.bounds(state.pfs.clock().now());
    Ok(Json(
        state.pfs.test_results_for_practice(&id, from, to).await?,
    ))
}

async fn add_test_result(
    State(state): State<Arc<AdminState>>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<NewTestResult>,
) -> Result<(StatusCode, Json<TestResult>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(state.pfs.add_test_result(&id, body).await?),
    ))
}

async fn result_visibility(
    State(state): State<Arc<AdminState>>,
    Path((id, result)): Path<(String, String)>,
    ApiJson(body): ApiJson<Visibility>,
) -> Result<StatusCode, ApiError> {
    state
        .pfs
        .set_test_result_visible(&id, &result, body.visible)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn grant(
    State(state): State<Arc<AdminState>>,
    Path((id, grantee)): Path<(String, String)>,
) -> ApiResult<GrantView> {
    Ok(Json(state.pfs.record_grant_view(&id, &grantee).await?))
}

async fn set_grant(
    State(state): State<Arc<AdminState>>,
    Path((id, grantee)): Path<(String, String)>,
    ApiJson(body): ApiJson<GrantChange>,
) -> ApiResult<GrantView> {
    Ok(Json(
        state
            .pfs
            .set_record_grant(&id, &grantee, Some(body))
            .await?,
    ))
}

async fn clear_grant(
    State(state): State<Arc<AdminState>>,
    Path((id, grantee)): Path<(String, String)>,
) -> ApiResult<GrantView> {
    Ok(Json(state.pfs.set_record_grant(&id, &grantee, None).await?))
}

async fn access_log(
    State(state): State<Arc<AdminState>>,
    Path(id): Path<String>,
    Query(w): Query<Window>,
) -> ApiResult<Vec<RecordAccess>> {
    let (from, to) = w.bounds(state.pfs.clock().now());
    Ok(Json(state.pfs.access_log(&id, from, to).await?))
}
