//! Sandbox namespaces: an isolated practice with the demo's patients and data, its own
//! provider (client certificate) and its own accounts, made for one test run and deleted
//! afterwards (docs/sandbox.md, "Namespaces").

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get};
use axum::{Json, Router};
use pfs_core::Pfs;
use pfs_core::admin::namespace_nhs_number;
use pfs_core::store::NamespaceRecord;
use serde::{Deserialize, Serialize};

use super::{AdminState, ApiError, ApiJson, ApiResult};
use crate::demo::{self, DEMO_PRACTICE_NAME, DemoAccount, World};
use crate::pki;

pub(super) fn routes() -> Router<Arc<AdminState>> {
    Router::new()
        .route(
            "/sandbox/namespaces",
            get(list_namespaces).post(create_namespace),
        )
        .route("/sandbox/namespaces/{name}", delete(delete_namespace))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewNamespace {
    name: String,
}

/// A new namespace with everything a test run needs to use it: the provider's client
/// certificate and key, the CA, and the accounts (as `demo/accounts.json` lists them).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct NamespaceCredentials {
    #[serde(flatten)]
    namespace: NamespaceRecord,
    practice_name: String,
    cert_pem: String,
    key_pem: String,
    ca_pem: String,
    accounts: Vec<DemoAccount>,
}

async fn create_namespace(
    State(state): State<Arc<AdminState>>,
    ApiJson(body): ApiJson<NewNamespace>,
) -> Result<(StatusCode, Json<NamespaceCredentials>), ApiError> {
    let practice_name = format!("{DEMO_PRACTICE_NAME} ({})", body.name);
    let record = state
        .pfs
        .create_namespace(&body.name, demo::demo_practice("", &practice_name))
        .await?;
    match fill(&state, record, practice_name).await {
        Ok(made) => Ok((StatusCode::CREATED, Json(made))),
        Err(e) => {
            // Half a namespace is of no use: what was made goes again.
            if let Err(undo) = state.pfs.delete_namespace(&body.name).await {
                tracing::warn!(namespace = body.name, error = %undo, "a half-made namespace was not deleted");
            }
            Err(ApiError(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                format!("the namespace could not be filled: {e:#}"),
            ))
        }
    }
}

/// Fills the namespace's practice with the demo's people and makes its provider.
async fn fill(
    state: &AdminState,
    mut namespace: NamespaceRecord,
    practice_name: String,
) -> anyhow::Result<NamespaceCredentials> {
    let pfs: &Pfs = &state.pfs;
    let provider_name = format!("namespace {}", namespace.name);
    let number = namespace.number;
    let nhs = move |person: usize| {
        namespace_nhs_number(number, u32::try_from(person).unwrap_or(u32::MAX))
    };
    let accounts = demo::seed_world(
        pfs,
        &World {
            ods: &namespace.ods,
            practice_name: &practice_name,
            provider_name: &provider_name,
            nhs_number: &nhs,
        },
    )
    .await?;
    let client = pki::new_client_cert(&state.ca, &provider_name)?;
    let provider = pfs
        .add_provider(
            &provider_name,
            &pki::fingerprint_pem(&client.cert_pem)?,
            true,
        )
        .await?;
    pfs.set_namespace_provider(&namespace.name, &provider.id)
        .await?;
    namespace.provider_id = Some(provider.id);
    Ok(NamespaceCredentials {
        namespace,
        practice_name,
        cert_pem: client.cert_pem,
        key_pem: client.key_pem,
        ca_pem: state.ca.cert_pem.clone(),
        accounts,
    })
}

async fn list_namespaces(State(state): State<Arc<AdminState>>) -> ApiResult<Vec<NamespaceRecord>> {
    Ok(Json(state.pfs.namespaces().await?))
}

async fn delete_namespace(
    State(state): State<Arc<AdminState>>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.pfs.delete_namespace(&name).await?;
    Ok(StatusCode::NO_CONTENT)
}
