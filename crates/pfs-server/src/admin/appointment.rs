//! Appointment sessions and bookings: creating and listing sessions, listing and cancelling
//! bookings.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use pfs_core::admin::{AppointmentView, NewAppointmentSession, SessionView};
use serde::Deserialize;

use super::{AdminState, ApiError, ApiJson, ApiResult};

pub(super) fn routes() -> Router<Arc<AdminState>> {
    Router::new()
        .route(
            "/practices/{ods}/sessions",
            get(list_sessions).post(add_session),
        )
        .route("/practices/{ods}/appointments", get(list_appointments))
        .route("/appointments/{id}/cancel", post(cancel_appointment))
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
