//! `pfs admin message`: the practice's message recipients, its inbox, conversations, replies
//! (with attachments from files), marking read and saving attachments.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Subcommand;
use serde_json::{Value, json};

use super::Api;

#[derive(Subcommand)]
pub(super) enum MessageCmd {
    /// The practice's recipients (people and teams), enabled or not.
    Recipients {
        /// Practice ODS code.
        ods: String,
    },
    /// Add a recipient patients may write to.
    AddRecipient {
        /// Practice ODS code.
        ods: String,
        /// `Recipient` (a person) or `UnitRecipient` (a team).
        #[arg(long, default_value = "Recipient")]
        kind: String,
        /// The name patients see.
        #[arg(long)]
        name: String,
        /// Add it switched off (not listed to patients).
        #[arg(long)]
        disabled: bool,
    },
    /// Rename a recipient, or switch patient messages to them on or off.
    SetRecipient {
        /// Practice ODS code.
        ods: String,
        /// Recipient id.
        id: String,
        /// New name.
        #[arg(long)]
        name: Option<String>,
        /// Whether patients may write to them.
        #[arg(long)]
        enabled: Option<bool>,
    },
    /// Patients' messages to the practice (or to one recipient): unread first, then newest.
    Inbox {
        /// Practice ODS code.
        ods: String,
        /// Only messages to this recipient.
        #[arg(long)]
        recipient: Option<String>,
    },
    /// Every message of a conversation, with its attachments.
    Conversation {
        /// Practice ODS code.
        ods: String,
        /// Conversation id.
        id: String,
    },
    /// Reply to a conversation from one of the practice's recipients.
    Reply {
        /// Practice ODS code.
        ods: String,
        /// Conversation id.
        conversation: String,
        /// The recipient (person or team) the reply comes from.
        #[arg(long)]
        from: String,
        /// The text.
        #[arg(long)]
        text: String,
        /// Attach this file (its extension is its type). May be repeated.
        #[arg(long, value_name = "PATH")]
        attach: Vec<PathBuf>,
    },
    /// Mark patients' messages to the practice read (all or none).
    Read {
        /// Practice ODS code.
        ods: String,
        /// Message ids.
        #[arg(required = true)]
        ids: Vec<String>,
    },
    /// Save an attachment of one of the practice's patients' messages to a file.
    Attachment {
        /// Practice ODS code.
        ods: String,
        /// The attachment's binaryDataId.
        id: String,
        /// Where to write it.
        #[arg(long, short = 'o')]
        out: PathBuf,
    },
}

pub(super) async fn run(api: &Api, cmd: MessageCmd) -> Result<Value> {
    match cmd {
        MessageCmd::Recipients { ods } => {
            api.send(
                "GET",
                &format!("/api/practices/{ods}/message-recipients"),
                None,
            )
            .await
        }
        MessageCmd::AddRecipient {
            ods,
            kind,
            name,
            disabled,
        } => {
            api.send(
                "POST",
                &format!("/api/practices/{ods}/message-recipients"),
                Some(json!({ "kind": kind, "name": name, "enabled": !disabled })),
            )
            .await
        }
        MessageCmd::SetRecipient {
            ods,
            id,
            name,
            enabled,
        } => {
            api.send(
                "PATCH",
                &format!("/api/practices/{ods}/message-recipients/{id}"),
                Some(json!({ "name": name, "enabled": enabled })),
            )
            .await
        }
        MessageCmd::Inbox { ods, recipient } => {
            let query = recipient
                .map(|r| format!("?recipient={r}"))
                .unwrap_or_default();
            api.send(
                "GET",
                &format!("/api/practices/{ods}/messages{query}"),
                None,
            )
            .await
        }
        MessageCmd::Conversation { ods, id } => {
            api.send(
                "GET",
                &format!("/api/practices/{ods}/conversations/{id}"),
                None,
            )
            .await
        }
        MessageCmd::Reply {
            ods,
            conversation,
            from,
            text,
            attach,
        } => {
            let mut attachments = Vec::new();
            for path in &attach {
                let (name, file_type) = pfs_client::file_name_and_type(path)?;
                let bytes = std::fs::read(path)
                    .with_context(|| format!("cannot read {}", path.display()))?;
                let a = pfs_wire::MessageAttachment::from_bytes(name, file_type, &bytes);
                attachments.push(json!({
                    "fileName": a.file_name,
                    "fileType": a.file_type,
                    "content": a.content,
                }));
            }
            api.send(
                "POST",
                &format!("/api/practices/{ods}/conversations/{conversation}/replies"),
                Some(json!({ "fromRecipientId": from, "text": text, "attachments": attachments })),
            )
            .await
        }
        MessageCmd::Read { ods, ids } => {
            api.send(
                "POST",
                &format!("/api/practices/{ods}/messages/read"),
                Some(json!({ "messageIds": ids })),
            )
            .await
        }
        MessageCmd::Attachment { ods, id, out } => {
            let bytes = api
                .get_bytes(&format!("/api/practices/{ods}/attachments/{id}"))
                .await?;
            std::fs::write(&out, &bytes)
                .with_context(|| format!("cannot write {}", out.display()))?;
            Ok(json!({ "saved": out.display().to_string(), "bytes": bytes.len() }))
        }
    }
}
