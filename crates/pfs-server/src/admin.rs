//! The JSON admin API: the practice side, on its own listener, behind a bearer token.
//! docs/admin-api.md documents every route.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use pfs_core::Pfs;
use pfs_core::admin::{
    AdminError, AppointmentView, NewAppointmentSession, NewPatient, NewPractice, SessionView,
};
use pfs_core::model::{PracticeSettings, Provider};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::pki::{self, PemPair};

/// What the admin handlers share.
pub struct AdminState {
    /// The service.
    pub pfs: Arc<Pfs>,
    /// The bearer token.
    pub token: String,
    /// The provider CA, for issuing client certificates.
    pub ca: PemPair,
}

/// An admin API failure: a status and a JSON body `{"error": kind, "message": text}`.
pub struct ApiError(StatusCode, &'static str, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "error": self.1, "message": self.2 }))).into_response()
    }
}

impl From<AdminError> for ApiError {
    fn from(e: AdminError) -> Self {
        match e {
            AdminError::NotFound(m) => ApiError(StatusCode::NOT_FOUND, "not_found", m),
            AdminError::Conflict(m) => ApiError(StatusCode::CONFLICT, "conflict", m),
            AdminError::Invalid(m) => ApiError(StatusCode::UNPROCESSABLE_ENTITY, "invalid", m),
            AdminError::Store(m) => ApiError(StatusCode::SERVICE_UNAVAILABLE, "unavailable", m),
        }
    }
}

type ApiResult<T> = Result<Json<T>, ApiError>;

/// A JSON request body whose rejections (bad JSON, missing fields, wrong content type) use the
/// API's error shape rather than axum's plain text.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> axum::extract::FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, ApiError> {
        <Json<T> as axum::extract::FromRequest<S>>::from_request(req, state)
            .await
            .map(|Json(v)| ApiJson(v))
            .map_err(|r| ApiError(r.status(), "invalid", r.body_text()))
    }
}

/// The admin router.
pub fn router(state: Arc<AdminState>) -> Router {
    let api = Router::new()
        .route("/providers", get(list_providers).post(add_provider))
        .route("/providers/{id}/revoke", post(revoke_provider))
        .route("/practices", get(list_practices).post(add_practice))
        .route("/practices/{ods}/settings", put(practice_settings))
        .route("/practices/{ods}/services/{service}", put(practice_service))
        .route(
            "/practices/{ods}/sessions",
            get(list_sessions).post(add_session),
        )
        .route("/practices/{ods}/appointments", get(list_appointments))
        .route("/appointments/{id}/cancel", post(cancel_appointment))
        .route("/patients", get(list_patients).post(add_patient))
        .route("/patients/{id}/account", post(issue_account))
        .route(
            "/patients/{id}/proxies",
            get(list_proxies).post(grant_proxy),
        )
        .route("/patients/{id}/proxies/{patient}", delete(revoke_proxy))
        .route("/patients/{id}/services", get(patient_services))
        .route("/patients/{id}/services/{service}", put(patient_service))
        .route("/accounts/{id}/end", post(end_account))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            require_token,
        ));
    Router::new()
        .route("/health", get(health))
        .nest("/api", api)
        .with_state(state)
}

async fn require_token(
    State(state): State<Arc<AdminState>>,
    headers: HeaderMap,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let given = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    // Comparing digests keeps the comparison's timing independent of the token.
    if Sha256::digest(given.trim().as_bytes()) != Sha256::digest(state.token.as_bytes()) {
        return ApiError(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "send Authorization: Bearer <admin token> (DATA_DIR/admin-token)".into(),
        )
        .into_response();
    }
    next.run(req).await
}

async fn health(State(state): State<Arc<AdminState>>) -> Response {
    match state.pfs.store().ping().await {
        Ok(()) => Json(json!({ "status": "ok", "database": "reachable" })).into_response(),
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "degraded", "database": "unreachable" })),
        )
            .into_response(),
    }
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
        serde_json::from_slice(&body)
            .map_err(|e| ApiError(StatusCode::UNPROCESSABLE_ENTITY, "invalid", e.to_string()))?
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

#[derive(Deserialize)]
struct DateFilter {
    /// First UK date, `YYYY-MM-DD` (default today).
    from: Option<chrono::NaiveDate>,
    /// Last UK date, inclusive (default 56 days after `from`).
    to: Option<chrono::NaiveDate>,
}

async fn add_session(
    State(state): State<Arc<AdminState>>,
    Path(ods): Path<String>,
    ApiJson(body): ApiJson<NewAppointmentSession>,
) -> Result<(StatusCode, Json<pfs_core::model::AppointmentSession>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(state.pfs.add_appointment_session(&ods, body).await?),
    ))
}

async fn list_sessions(
    State(state): State<Arc<AdminState>>,
    Path(ods): Path<String>,
    Query(f): Query<DateFilter>,
) -> ApiResult<Vec<SessionView>> {
    Ok(Json(
        state
            .pfs
            .list_appointment_sessions(&ods, f.from, f.to)
            .await?,
    ))
}

async fn list_appointments(
    State(state): State<Arc<AdminState>>,
    Path(ods): Path<String>,
    Query(f): Query<DateFilter>,
) -> ApiResult<Vec<AppointmentView>> {
    Ok(Json(
        state
            .pfs
            .list_practice_appointments(&ods, f.from, f.to)
            .await?,
    ))
}

async fn cancel_appointment(
    State(state): State<Arc<AdminState>>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.pfs.cancel_appointment_as_practice(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}
