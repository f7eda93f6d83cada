//! Patients.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use pfs_core::admin::NewPatient;
use serde::Deserialize;

use super::{AdminState, ApiError, ApiJson, ApiResult};

pub(super) fn routes() -> Router<Arc<AdminState>> {
    Router::new().route("/patients", get(list_patients).post(add_patient))
}

#[derive(Deserialize)]
struct PatientFilter {
    ods: Option<String>,
}

async fn add_patient(
    State(state): State<Arc<AdminState>>,
    ApiJson(body): ApiJson<NewPatient>,
) -> Result<(StatusCode, Json<pfs_core::model::Patient>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(state.pfs.add_patient(body).await?),
    ))
}

async fn list_patients(
    State(state): State<Arc<AdminState>>,
    Query(filter): Query<PatientFilter>,
) -> ApiResult<Vec<pfs_core::model::Patient>> {
    Ok(Json(state.pfs.list_patients(filter.ods.as_deref()).await?))
}
