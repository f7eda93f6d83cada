//! Practices and their settings.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, put};
use axum::{Json, Router};
use pfs_core::admin::NewPractice;
use pfs_core::model::PracticeSettings;

use super::{AdminState, ApiError, ApiJson, ApiResult};

pub(super) fn routes() -> Router<Arc<AdminState>> {
    Router::new()
        .route("/practices", get(list_practices).post(add_practice))
        .route("/practices/{ods}/settings", put(practice_settings))
}

async fn add_practice(
    State(state): State<Arc<AdminState>>,
    ApiJson(body): ApiJson<NewPractice>,
) -> Result<(StatusCode, Json<pfs_core::model::Practice>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(state.pfs.add_practice(body).await?),
    ))
}

async fn list_practices(
    State(state): State<Arc<AdminState>>,
) -> ApiResult<Vec<pfs_core::model::Practice>> {
    Ok(Json(state.pfs.list_practices().await?))
}

async fn practice_settings(
    State(state): State<Arc<AdminState>>,
    Path(ods): Path<String>,
    ApiJson(body): ApiJson<PracticeSettings>,
) -> ApiResult<pfs_core::model::Practice> {
    Ok(Json(state.pfs.update_practice_settings(&ods, body).await?))
}
