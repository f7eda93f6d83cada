//! The sandbox's controls: snapshots, reset to the demo seed, and time travel (the clock
//! offset).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use chrono::{DateTime, Duration, Utc};
use pfs_core::clock::describe_offset;
use pfs_core::store::SnapshotInfo;
use serde::{Deserialize, Serialize};

use super::{AdminState, ApiError, ApiJson, ApiResult};

pub(super) fn routes() -> Router<Arc<AdminState>> {
    Router::new()
        .route(
            "/sandbox/clock",
            get(show_clock).put(move_clock).delete(reset_clock),
        )
        .route("/sandbox/reset", post(reset))
        .route("/sandbox/snapshots", get(snapshots).post(save_snapshot))
        .route("/sandbox/snapshots/{name}", delete(delete_snapshot))
        .route("/sandbox/snapshots/{name}/restore", post(restore_snapshot))
        .route("/sandbox/seed/practices", post(seed_practices))
        .route("/sandbox/seed/patients", post(seed_patients))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedPractices {
    seed: u64,
    count: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedPatients {
    seed: u64,
    practice: u32,
    from: u32,
    count: u32,
}

async fn seed_practices(
    State(state): State<Arc<AdminState>>,
    ApiJson(body): ApiJson<SeedPractices>,
) -> ApiResult<serde_json::Value> {
    let codes = state.pfs.seed_practices(body.seed, body.count).await?;
    Ok(Json(serde_json::json!({ "practices": codes })))
}

async fn seed_patients(
    State(state): State<Arc<AdminState>>,
    ApiJson(body): ApiJson<SeedPatients>,
) -> ApiResult<serde_json::Value> {
    let written = state
        .pfs
        .seed_patients(body.seed, body.practice, body.from, body.count)
        .await?;
    Ok(Json(serde_json::json!({ "written": written })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewSnapshot {
    name: String,
}

async fn reset(State(state): State<Arc<AdminState>>) -> Result<StatusCode, ApiError> {
    state.pfs.reset_to_demo().await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn snapshots(State(state): State<Arc<AdminState>>) -> ApiResult<Vec<SnapshotInfo>> {
    Ok(Json(state.pfs.snapshots().await?))
}

async fn save_snapshot(
    State(state): State<Arc<AdminState>>,
    ApiJson(body): ApiJson<NewSnapshot>,
) -> Result<(StatusCode, Json<SnapshotInfo>), ApiError> {
    let saved = state.pfs.save_snapshot(&body.name).await?;
    Ok((StatusCode::CREATED, Json(saved)))
}

async fn restore_snapshot(
    State(state): State<Arc<AdminState>>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.pfs.restore_snapshot(&name).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn delete_snapshot(
    State(state): State<Arc<AdminState>>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.pfs.delete_snapshot(&name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The server's clock as the admin API shows it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ClockState {
    /// What the server takes to be now (UTC).
    now: DateTime<Utc>,
    /// The same instant as UK wall-clock time, the form the PFS wire uses.
    uk_wall_clock: String,
    /// The offset in whole seconds (0: no time travel).
    offset_seconds: i64,
    /// The offset for people: `+3d02h00m00s`.
    offset: String,
}

impl ClockState {
    pub(super) fn of(state: &AdminState) -> ClockState {
        let now = state.pfs.clock().now();
        let offset = state.clock_offset.get();
        ClockState {
            now,
            uk_wall_clock: pfs_core::uktime::to_wall_clock(now)
                .format("%Y-%m-%dT%H:%M:%S")
                .to_string(),
            offset_seconds: offset.num_seconds(),
            offset: describe_offset(offset),
        }
    }
}

/// How to move the clock: exactly one of the three.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct MoveClock {
    /// Set the offset from the real clock, in seconds (negative: the past).
    offset_seconds: Option<i64>,
    /// Move the clock by this many seconds from where it is now.
    advance_seconds: Option<i64>,
    /// Move the clock so that it reads this instant now (RFC 3339, e.g. `2026-12-24T09:00:00Z`).
    now: Option<DateTime<Utc>>,
}

async fn show_clock(State(state): State<Arc<AdminState>>) -> Json<ClockState> {
    Json(ClockState::of(&state))
}

async fn move_clock(
    State(state): State<Arc<AdminState>>,
    ApiJson(body): ApiJson<MoveClock>,
) -> ApiResult<ClockState> {
    let current = state.clock_offset.get();
    let offset = match (body.offset_seconds, body.advance_seconds, body.now) {
        (Some(s), None, None) => seconds(s)?,
        (None, Some(s), None) => current + seconds(s)?,
        (None, None, Some(at)) => current + (at - state.pfs.clock().now()),
        _ => {
            return Err(invalid(
                "give exactly one of offsetSeconds, advanceSeconds and now",
            ));
        }
    };
    state
        .clock_offset
        .set(offset)
        .map_err(|e| invalid(&e.to_string()))?;
    tracing::info!(
        offset = %describe_offset(offset),
        "the sandbox clock was moved"
    );
    Ok(Json(ClockState::of(&state)))
}

async fn reset_clock(State(state): State<Arc<AdminState>>) -> Json<ClockState> {
    // Zero is always within bounds.
    let _ = state.clock_offset.set(Duration::zero());
    tracing::info!("the sandbox clock is back to real time");
    Json(ClockState::of(&state))
}

/// `s` seconds, refused beyond what a clock offset may be.
fn seconds(s: i64) -> Result<Duration, ApiError> {
    Duration::try_seconds(s)
        .filter(|d| d.abs() <= pfs_core::ClockOffset::MAX)
        .ok_or_else(|| invalid(&pfs_core::clock::OffsetTooLarge.to_string()))
}

fn invalid(message: &str) -> ApiError {
    ApiError(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid",
        message.to_owned(),
    )
}
