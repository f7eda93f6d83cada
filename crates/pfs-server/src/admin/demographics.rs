//! Patients' contact details: reading and setting them, and approving or rejecting the changes
//! patients ask for online.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use pfs_core::admin::{DemographicsView, NewContactDetails};
use pfs_core::model::DemographicsChangeRecord;
use serde::Deserialize;

use super::{AdminState, ApiJson, ApiResult, optional_body};

pub(super) fn routes() -> Router<Arc<AdminState>> {
    Router::new()
        .route("/patients/{id}/demographics", get(show).put(set))
        .route("/practices/{ods}/demographics-changes", get(pending))
        .route("/demographics-changes/{id}/approve", post(approve))
        .route("/demographics-changes/{id}/reject", post(reject))
}

#[derive(Deserialize, Default)]
struct Decision {
    comment: Option<String>,
}

async fn show(
    State(state): State<Arc<AdminState>>,
    Path(id): Path<String>,
) -> ApiResult<DemographicsView> {
    Ok(Json(state.pfs.patient_demographics(&id).await?))
}

async fn set(
    State(state): State<Arc<AdminState>>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<NewContactDetails>,
) -> ApiResult<DemographicsView> {
    Ok(Json(state.pfs.set_patient_demographics(&id, body).await?))
}

async fn pending(
    State(state): State<Arc<AdminState>>,
    Path(ods): Path<String>,
) -> ApiResult<Vec<DemographicsChangeRecord>> {
    Ok(Json(
        state.pfs.list_pending_demographics_changes(&ods).await?,
    ))
}

async fn decide(
    state: &AdminState,
    id: &str,
    approve: bool,
    body: &[u8],
) -> ApiResult<DemographicsChangeRecord> {
    let body: Decision = optional_body(body)?;
    Ok(Json(
        state
            .pfs
            .settle_demographics_change(id, approve, body.comment)
            .await?,
    ))
}

async fn approve(
    State(state): State<Arc<AdminState>>,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> ApiResult<DemographicsChangeRecord> {
    decide(&state, &id, true, &body).await
}

async fn reject(
    State(state): State<Arc<AdminState>>,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> ApiResult<DemographicsChangeRecord> {
    decide(&state, &id, false, &body).await
}
