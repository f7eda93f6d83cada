//! The community pharmacy directory: importing it from CSV, adding, closing and searching.

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use pfs_core::admin::{AdminError, ImportError, NewPharmacy};
use pfs_core::model::Pharmacy;
use serde::Deserialize;
use serde_json::json;

use super::{AdminState, ApiError, ApiJson, ApiResult};

/// The largest CSV an import accepts: a national directory is a few megabytes.
pub const MAX_IMPORT_BYTES: usize = 64 * 1024 * 1024;

/// How many bad lines an import's refusal lists at most (the count covers them all).
const LISTED_LINE_ERRORS: usize = 100;

pub(super) fn routes() -> Router<Arc<AdminState>> {
    Router::new()
        .route("/pharmacies", get(search).post(add))
        .route(
            "/pharmacies/import",
            post(import).layer(DefaultBodyLimit::max(MAX_IMPORT_BYTES)),
        )
        .route("/pharmacies/{ods}", get(show))
        .route("/pharmacies/{ods}/close", post(close))
        .route(
            "/patients/{id}/nominated-pharmacy",
            axum::routing::put(nominate),
        )
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Nomination {
    ods_code: Option<String>,
}

/// `PUT /api/patients/{id}/nominated-pharmacy` with `{"odsCode": "FA123"}` or
/// `{"odsCode": null}` (remove): the pharmacy now nominated, or null.
async fn nominate(
    State(state): State<Arc<AdminState>>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Nomination>,
) -> ApiResult<Option<Pharmacy>> {
    Ok(Json(
        state
            .pfs
            .nominate_pharmacy_as_practice(&id, body.ods_code.as_deref())
            .await?,
    ))
}

#[derive(Deserialize)]
struct Search {
    postcode: Option<String>,
    name: Option<String>,
}

async fn search(
    State(state): State<Arc<AdminState>>,
    Query(q): Query<Search>,
) -> ApiResult<Vec<Pharmacy>> {
    let found = state
        .pfs
        .search_pharmacies(q.postcode.as_deref(), q.name.as_deref())
        .await
        .map_err(AdminError::from)?;
    Ok(Json(found))
}

async fn add(
    State(state): State<Arc<AdminState>>,
    ApiJson(body): ApiJson<NewPharmacy>,
) -> Result<(StatusCode, Json<Pharmacy>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(state.pfs.add_pharmacy(body).await?),
    ))
}

async fn show(
    State(state): State<Arc<AdminState>>,
    Path(ods): Path<String>,
) -> ApiResult<Pharmacy> {
    Ok(Json(state.pfs.get_pharmacy(&ods).await?))
}

async fn close(
    State(state): State<Arc<AdminState>>,
    Path(ods): Path<String>,
) -> ApiResult<Pharmacy> {
    Ok(Json(state.pfs.close_pharmacy(&ods).await?))
}

/// `POST /api/pharmacies/import` with the CSV as the body: `200` with what was imported, or
/// `422` with every bad line (`lines`: line number and message) and nothing stored.
async fn import(State(state): State<Arc<AdminState>>, body: axum::body::Bytes) -> Response {
    let Ok(text) = std::str::from_utf8(&body) else {
        return ApiError(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
            "the CSV is not UTF-8".into(),
        )
        .into_response();
    };
    match state.pfs.import_pharmacies(text).await {
        Ok(summary) => Json(summary).into_response(),
        Err(ImportError::Lines(lines)) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({
                "error": "invalid",
                "message": format!("{} lines cannot be used; nothing was imported", lines.len()),
                "lines": lines.iter().take(LISTED_LINE_ERRORS).collect::<Vec<_>>(),
            })),
        )
            .into_response(),
        Err(ImportError::Admin(e)) => ApiError::from(e).into_response(),
    }
}
