//! Providers: registering (with a client certificate), listing, revoking.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use pfs_core::model::Provider;
use serde::{Deserialize, Serialize};

use super::{AdminState, ApiError, ApiJson, ApiResult};
use crate::pki;

pub(super) fn routes() -> Router<Arc<AdminState>> {
    Router::new()
        .route("/providers", get(list_providers).post(add_provider))
        .route("/providers/{id}/revoke", post(revoke_provider))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AddProvider {
    name: String,
    #[serde(default)]
    trusted_identity: bool,
    /// Register an existing certificate (issued by this server's CA) instead of issuing one.
    #[serde(default)]
    cert_pem: Option<String>,
}

/// A newly registered provider with its credentials (the key only when the server made it).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ProviderCredentials {
    #[serde(flatten)]
    provider: Provider,
    cert_pem: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    key_pem: Option<String>,
    ca_pem: String,
}

async fn add_provider(
    State(state): State<Arc<AdminState>>,
    ApiJson(body): ApiJson<AddProvider>,
) -> Result<(StatusCode, Json<ProviderCredentials>), ApiError> {
    // The name goes into the certificate made below: check it before anything is made.
    pfs_core::admin::xml_safe("name", &body.name)?;
    let (cert_pem, key_pem) = match body.cert_pem {
        Some(pem) => (pem, None),
        None => {
            let pair = pki::new_client_cert(&state.ca, &body.name).map_err(|e| {
                ApiError(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string())
            })?;
            (pair.cert_pem, Some(pair.key_pem))
        }
    };
    let fingerprint = pki::fingerprint_pem(&cert_pem)
        .map_err(|e| ApiError(StatusCode::UNPROCESSABLE_ENTITY, "invalid", e.to_string()))?;
    let provider = state
        .pfs
        .add_provider(&body.name, &fingerprint, body.trusted_identity)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(ProviderCredentials {
            provider,
            cert_pem,
            key_pem,
            ca_pem: state.ca.cert_pem.clone(),
        }),
    ))
}

async fn list_providers(State(state): State<Arc<AdminState>>) -> ApiResult<Vec<Provider>> {
    Ok(Json(state.pfs.list_providers().await?))
}

async fn revoke_provider(
    State(state): State<Arc<AdminState>>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.pfs.revoke_provider(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}
