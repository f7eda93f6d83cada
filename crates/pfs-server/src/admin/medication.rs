//! Medication courses and prescription requests: prescribing, changing, stopping and
//! re-authorising courses; listing, issuing and rejecting requests.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::NaiveDate;
use pfs_core::admin::{CourseChange, CourseView, NewCourse, present};
use pfs_core::model::{MedicationCourse, PrescriptionRequest, PrescriptionStatus};
use serde::Deserialize;

use super::{AdminState, ApiError, ApiJson, ApiResult, optional_body};

pub(super) fn routes() -> Router<Arc<AdminState>> {
    Router::new()
        .route("/patients/{id}/courses", get(list_courses).post(add_course))
        .route("/courses/{id}", axum::routing::patch(change_course))
        .route("/courses/{id}/stop", post(stop_course))
        .route("/courses/{id}/reauthorise", post(reauthorise_course))
        .route(
            "/practices/{ods}/prescription-requests",
            get(pending_requests),
        )
        .route(
            "/patients/{id}/prescription-requests",
            get(patient_requests),
        )
        .route("/prescription-requests/{id}/issue", post(issue_request))
        .route("/prescription-requests/{id}/reject", post(reject_request))
}

#[derive(Deserialize)]
struct DateFilter {
    /// First UK date, `YYYY-MM-DD` (default 180 days before `to`).
    from: Option<NaiveDate>,
    /// Last UK date, inclusive (default today).
    to: Option<NaiveDate>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Stop {
    stopped_on: Option<NaiveDate>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Reauthorise {
    #[serde(default, deserialize_with = "present")]
    max_issues: Option<Option<u32>>,
}

#[derive(Deserialize, Default)]
struct Settle {
    comment: Option<String>,
}

async fn add_course(
    State(state): State<Arc<AdminState>>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<NewCourse>,
) -> Result<(StatusCode, Json<MedicationCourse>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(state.pfs.add_course(&id, body).await?),
    ))
}

async fn list_courses(
    State(state): State<Arc<AdminState>>,
    Path(id): Path<String>,
) -> ApiResult<Vec<CourseView>> {
    Ok(Json(state.pfs.list_courses(&id).await?))
}

async fn change_course(
    State(state): State<Arc<AdminState>>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<CourseChange>,
) -> ApiResult<MedicationCourse> {
    Ok(Json(state.pfs.change_course(&id, body).await?))
}

async fn stop_course(
    State(state): State<Arc<AdminState>>,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> ApiResult<MedicationCourse> {
    let body: Stop = optional_body(&body)?;
    Ok(Json(state.pfs.stop_course(&id, body.stopped_on).await?))
}

async fn reauthorise_course(
    State(state): State<Arc<AdminState>>,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> ApiResult<MedicationCourse> {
    let body: Reauthorise = optional_body(&body)?;
    Ok(Json(
        state.pfs.reauthorise_course(&id, body.max_issues).await?,
    ))
}

async fn pending_requests(
    State(state): State<Arc<AdminState>>,
    Path(ods): Path<String>,
) -> ApiResult<Vec<PrescriptionRequest>> {
    Ok(Json(
        state.pfs.list_pending_prescription_requests(&ods).await?,
    ))
}

async fn patient_requests(
    State(state): State<Arc<AdminState>>,
    Path(id): Path<String>,
    Query(f): Query<DateFilter>,
) -> ApiResult<Vec<PrescriptionRequest>> {
    Ok(Json(
        state
            .pfs
            .list_patient_prescription_requests(&id, f.from, f.to)
            .await?,
    ))
}

async fn settle(
    state: &AdminState,
    id: &str,
    status: PrescriptionStatus,
    body: &[u8],
) -> ApiResult<PrescriptionRequest> {
    let body: Settle = optional_body(body)?;
    Ok(Json(
        state
            .pfs
            .settle_prescription_request(id, status, body.comment)
            .await?,
    ))
}

async fn issue_request(
    State(state): State<Arc<AdminState>>,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> ApiResult<PrescriptionRequest> {
    settle(&state, &id, PrescriptionStatus::Issued, &body).await
}

async fn reject_request(
    State(state): State<Arc<AdminState>>,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> ApiResult<PrescriptionRequest> {
    settle(&state, &id, PrescriptionStatus::Rejected, &body).await
}
