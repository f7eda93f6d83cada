//! Fault injection rules: `POST`/`GET`/`DELETE /api/faults`, `GET`/`DELETE /api/faults/{id}`.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use pfs_core::admin::{AdminError, FaultRuleView};
use pfs_core::fault::FaultSpec;
use serde_json::{Value, json};

use super::{AdminState, ApiError, ApiJson, ApiResult};

pub(super) fn routes() -> Router<Arc<AdminState>> {
    Router::new()
        .route("/faults", get(list).post(add).delete(clear))
        .route("/faults/{id}", get(show).delete(remove))
}

/// A rule id from the path; anything else is `404` like an id no rule has.
fn rule_id(id: &str) -> Result<u64, ApiError> {
    id.parse()
        .map_err(|_| ApiError::from(AdminError::NotFound("fault rule".into())))
}

async fn add(
    State(state): State<Arc<AdminState>>,
    ApiJson(spec): ApiJson<FaultSpec>,
) -> Result<(StatusCode, Json<FaultRuleView>), ApiError> {
    Ok((StatusCode::CREATED, Json(state.pfs.add_fault(spec).await?)))
}

async fn list(State(state): State<Arc<AdminState>>) -> ApiResult<Vec<FaultRuleView>> {
    Ok(Json(state.pfs.fault_rules().await?))
}

async fn show(
    State(state): State<Arc<AdminState>>,
    Path(id): Path<String>,
) -> ApiResult<FaultRuleView> {
    Ok(Json(state.pfs.fault_rule(rule_id(&id)?).await?))
}

async fn remove(
    State(state): State<Arc<AdminState>>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.pfs.remove_fault(rule_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn clear(State(state): State<Arc<AdminState>>) -> ApiResult<Value> {
    let removed = state.pfs.clear_faults().await?;
    Ok(Json(json!({ "removed": removed })))
}
