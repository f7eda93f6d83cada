//! Online accounts: issuing a linkage key, ending an account.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;

use super::{AdminState, ApiError, ApiResult, without_values};

pub(super) fn routes() -> Router<Arc<AdminState>> {
    Router::new()
        .route("/patients/{id}/account", post(issue_account))
        .route("/accounts/{id}/end", post(end_account))
}

#[derive(Deserialize, Default)]
struct IssueAccount {
    email: Option<String>,
    mobile: Option<String>,
}

async fn issue_account(
    State(state): State<Arc<AdminState>>,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> ApiResult<pfs_core::admin::IssuedAccount> {
    // The body is optional: an empty one means no contact details.
    let body: IssueAccount = if body.iter().all(u8::is_ascii_whitespace) {
        IssueAccount::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| {
            ApiError(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid",
                without_values(&e.to_string()),
            )
        })?
    };
    Ok(Json(
        state
            .pfs
            .issue_account(&id, body.email, body.mobile)
            .await?,
    ))
}

async fn end_account(
    State(state): State<Arc<AdminState>>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.pfs.end_account(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}
