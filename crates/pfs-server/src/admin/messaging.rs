//! Messaging on the practice side: recipients, the inbox, conversations, replies, marking read
//! and downloading attachments.

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use axum::{Json, Router};
use pfs_core::admin::{NewMessageRecipient, PracticeMessage, PracticeReply, RecipientChange};
use pfs_core::model::{Message, MessageRecipient};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{AdminState, ApiError, ApiJson, ApiResult};

/// Largest reply body: a reply's attachments are base64 in JSON, as large as a patient's
/// `MessageCreate` may be.
const MAX_REPLY_BYTES: usize = pfs_wire::MESSAGE_CREATE_MAX_BODY_BYTES;

pub(super) fn routes() -> Router<Arc<AdminState>> {
    Router::new()
        .route(
            "/practices/{ods}/message-recipients",
            get(recipients).post(add_recipient),
        )
        .route(
            "/practices/{ods}/message-recipients/{id}",
            patch(change_recipient),
        )
        .route("/practices/{ods}/messages", get(inbox))
        .route("/practices/{ods}/messages/read", post(mark_read))
        .route("/practices/{ods}/conversations/{id}", get(conversation))
        .route(
            "/practices/{ods}/conversations/{id}/replies",
            post(reply).layer(DefaultBodyLimit::max(MAX_REPLY_BYTES)),
        )
        .route("/practices/{ods}/attachments/{id}", get(attachment))
}

async fn recipients(
    State(state): State<Arc<AdminState>>,
    Path(ods): Path<String>,
) -> ApiResult<Vec<MessageRecipient>> {
    Ok(Json(state.pfs.list_message_recipients(&ods).await?))
}

async fn add_recipient(
    State(state): State<Arc<AdminState>>,
    Path(ods): Path<String>,
    ApiJson(body): ApiJson<NewMessageRecipient>,
) -> Result<(StatusCode, Json<MessageRecipient>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(state.pfs.add_message_recipient(&ods, body).await?),
    ))
}

async fn change_recipient(
    State(state): State<Arc<AdminState>>,
    Path((ods, id)): Path<(String, String)>,
    ApiJson(body): ApiJson<RecipientChange>,
) -> ApiResult<MessageRecipient> {
    Ok(Json(
        state.pfs.update_message_recipient(&ods, &id, body).await?,
    ))
}

#[derive(Deserialize)]
struct InboxQuery {
    recipient: Option<String>,
}

async fn inbox(
    State(state): State<Arc<AdminState>>,
    Path(ods): Path<String>,
    Query(q): Query<InboxQuery>,
) -> ApiResult<Vec<PracticeMessage>> {
    Ok(Json(
        state
            .pfs
            .message_inbox(&ods, q.recipient.as_deref())
            .await?,
    ))
}

async fn conversation(
    State(state): State<Arc<AdminState>>,
    Path((ods, id)): Path<(String, String)>,
) -> ApiResult<Vec<PracticeMessage>> {
    Ok(Json(state.pfs.practice_conversation(&ods, &id).await?))
}

async fn reply(
    State(state): State<Arc<AdminState>>,
    Path((ods, id)): Path<(String, String)>,
    ApiJson(body): ApiJson<PracticeReply>,
) -> Result<(StatusCode, Json<Message>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(state.pfs.reply_to_conversation(&ods, &id, body).await?),
    ))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReadBody {
    message_ids: Vec<String>,
}

async fn mark_read(
    State(state): State<Arc<AdminState>>,
    Path(ods): Path<String>,
    ApiJson(body): ApiJson<ReadBody>,
) -> ApiResult<Value> {
    state
        .pfs
        .practice_mark_messages_read(&ods, &body.message_ids)
        .await?;
    Ok(Json(json!({ "read": body.message_ids.len() })))
}

/// The file's bytes, with its type; the name is in `Content-Disposition` only when it is plain
/// ASCII (other names are not repeated in a header).
async fn attachment(
    State(state): State<Arc<AdminState>>,
    Path((ods, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let file = state.pfs.practice_attachment(&ods, &id).await?;
    let mut response = file.bytes.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(&file.info.file_type)),
    );
    let name = &file.info.file_name;
    if name
        .chars()
        .all(|c| c.is_ascii_graphic() && c != '"' || c == ' ')
        && let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\""))
    {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    headers.insert(
        "x-file-type",
        HeaderValue::from_str(&file.info.file_type)
            .unwrap_or_else(|_| HeaderValue::from_static("bin")),
    );
    Ok(response)
}

fn content_type(file_type: &str) -> &'static str {
    match file_type {
        "pdf" => "application/pdf",
        "jpg" | "jpeg" | "jpe" | "jfif" => "image/jpeg",
        "png" => "image/png",
        "gif" => "image/gif",
        "bmp" => "image/bmp",
        "tif" | "tiff" => "image/tiff",
        _ => "application/octet-stream",
    }
}
