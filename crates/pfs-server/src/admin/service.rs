//! Service switches, per practice and per patient.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, put};
use axum::{Json, Router};
use serde::Deserialize;

use super::{AdminState, ApiError, ApiJson, ApiResult};

pub(super) fn routes() -> Router<Arc<AdminState>> {
    Router::new()
        .route("/practices/{ods}/services/{service}", put(practice_service))
        .route("/patients/{id}/services", get(patient_services))
        .route("/patients/{id}/services/{service}", put(patient_service))
}

#[derive(Deserialize)]
struct Switch {
    /// `true`, `false`, or `null` to clear the switch.
    enabled: Option<bool>,
}

async fn practice_service(
    State(state): State<Arc<AdminState>>,
    Path((ods, service)): Path<(String, String)>,
    ApiJson(body): ApiJson<Switch>,
) -> Result<StatusCode, ApiError> {
    state
        .pfs
        .set_service(Some(&ods), None, &service, body.enabled)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn patient_service(
    State(state): State<Arc<AdminState>>,
    Path((id, service)): Path<(String, String)>,
    ApiJson(body): ApiJson<Switch>,
) -> Result<StatusCode, ApiError> {
    state
        .pfs
        .set_service(None, Some(&id), &service, body.enabled)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn patient_services(
    State(state): State<Arc<AdminState>>,
    Path(id): Path<String>,
) -> ApiResult<Vec<pfs_core::admin::ServiceState>> {
    Ok(Json(state.pfs.services_for(&id).await?))
}
