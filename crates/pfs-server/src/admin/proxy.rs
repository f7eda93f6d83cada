//! Proxy access: granting, withdrawing and listing grants.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get};
use axum::{Json, Router};
use serde::Deserialize;

use super::{AdminState, ApiError, ApiJson, ApiResult};

pub(super) fn routes() -> Router<Arc<AdminState>> {
    Router::new()
        .route(
            "/patients/{id}/proxies",
            get(list_proxies).post(grant_proxy),
        )
        .route("/patients/{id}/proxies/{patient}", delete(revoke_proxy))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Grant {
    patient_id: String,
}

async fn grant_proxy(
    State(state): State<Arc<AdminState>>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Grant>,
) -> Result<StatusCode, ApiError> {
    state.pfs.grant_proxy(&id, &body.patient_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn revoke_proxy(
    State(state): State<Arc<AdminState>>,
    Path((id, patient)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    state.pfs.revoke_proxy(&id, &patient).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn list_proxies(
    State(state): State<Arc<AdminState>>,
    Path(id): Path<String>,
) -> ApiResult<Vec<pfs_core::model::Patient>> {
    Ok(Json(state.pfs.proxies_of(&id).await?))
}
