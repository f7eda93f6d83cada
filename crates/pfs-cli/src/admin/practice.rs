//! `pfs admin practice`: GP practices and their settings.

use anyhow::{Context, Result};
use clap::Subcommand;
use serde_json::{Value, json};

use super::Api;

#[derive(Subcommand)]
pub(super) enum PracticeCmd {
    /// Add a practice.
    Add {
        /// ODS code.
        #[arg(long)]
        ods: String,
        /// Name.
        #[arg(long)]
        name: String,
        /// One-line address.
        #[arg(long)]
        address: String,
        /// Youngest age for self-linking (default 16).
        #[arg(long)]
        minimum_age: Option<u32>,
    },
    /// List practices.
    List,
    /// Change a practice's settings (the ones not given keep their values).
    Settings {
        /// ODS code.
        ods: String,
        /// Youngest age for self-linking.
        #[arg(long)]
        minimum_age: Option<u32>,
        /// How many days ahead patients may see and book slots.
        #[arg(long)]
        booking_window_days: Option<u32>,
        /// Most future appointments a patient may hold.
        #[arg(long)]
        max_future_appointments: Option<u32>,
        /// Minutes before the start within which patients can no longer cancel online.
        #[arg(long)]
        cancellation_cutoff_minutes: Option<u32>,
        /// Booking guidance shown above the slot list ("" clears it).
        #[arg(long)]
        booking_guidance: Option<String>,
        /// Text shown after a medication request ("" clears it).
        #[arg(long)]
        medication_request_confirmation: Option<String>,
        /// Medication guidance ("" clears it).
        #[arg(long)]
        medication_guidance: Option<String>,
        /// Whether patients may order acute courses online.
        #[arg(long)]
        acute_requests_allowed: Option<bool>,
        /// Most courses one medication order may name (1 to 100).
        #[arg(long)]
        max_medications_per_request: Option<u32>,
        /// Longest note on a medication order, in characters (1 to 2000).
        #[arg(long)]
        max_medication_notes: Option<u32>,
        /// Whether patients' changes of contact details wait for the practice's approval.
        #[arg(long)]
        demographics_approval: Option<bool>,
        /// Largest file patients may download online, in bytes (1 to 41943040).
        #[arg(long)]
        max_document_bytes: Option<u64>,
        /// Attachment types patients may send, comma-separated (e.g. pdf,jpg,jpeg,png).
        #[arg(long, value_delimiter = ',')]
        message_attachment_types: Option<Vec<String>>,
        /// Largest attachment a patient may send, decoded, in bytes (1 to 5242880).
        #[arg(long)]
        max_message_attachment_bytes: Option<u32>,
        /// Most attachments on one message (0 to 3).
        #[arg(long)]
        max_message_attachments: Option<u32>,
    },
}

pub(super) async fn run(api: &Api, cmd: PracticeCmd) -> Result<Value> {
    Ok(match cmd {
        PracticeCmd::Add {
            ods,
            name,
            address,
            minimum_age,
        } => {
            let settings = minimum_age.map(|m| json!({"minimumAge": m}));
            api.send(
                "POST",
                "/api/practices",
                Some(json!({"ods": ods, "name": name, "address": address, "settings": settings})),
            )
            .await?
        }
        PracticeCmd::List => api.send("GET", "/api/practices", None).await?,
        PracticeCmd::Settings {
            ods,
            minimum_age,
            booking_window_days,
            max_future_appointments,
            cancellation_cutoff_minutes,
            booking_guidance,
            medication_request_confirmation,
            medication_guidance,
            acute_requests_allowed,
            max_medications_per_request,
            max_medication_notes,
            demographics_approval,
            max_document_bytes,
            message_attachment_types,
            max_message_attachment_bytes,
            max_message_attachments,
        } => {
            let practices = api.send("GET", "/api/practices", None).await?;
            let mut settings = practices
                .as_array()
                .and_then(|all| {
                    all.iter().find(|p| {
                        p["ods"]
                            .as_str()
                            .is_some_and(|o| o.eq_ignore_ascii_case(&ods))
                    })
                })
                .map(|p| p["settings"].clone())
                .with_context(|| format!("no practice {ods}"))?;
            let text = |t: String| if t.is_empty() { Value::Null } else { json!(t) };
            let changes = [
                ("minimumAge", minimum_age.map(|v| json!(v))),
                ("bookingWindowDays", booking_window_days.map(|v| json!(v))),
                (
                    "maxFutureAppointments",
                    max_future_appointments.map(|v| json!(v)),
                ),
                (
                    "cancellationCutoffMinutes",
                    cancellation_cutoff_minutes.map(|v| json!(v)),
                ),
                ("bookingGuidance", booking_guidance.map(text)),
                (
                    "medicationRequestConfirmation",
                    medication_request_confirmation.map(text),
                ),
                ("medicationGuidance", medication_guidance.map(text)),
                (
                    "acuteRequestsAllowed",
                    acute_requests_allowed.map(|v| json!(v)),
                ),
                (
                    "maxMedicationsPerRequest",
                    max_medications_per_request.map(|v| json!(v)),
                ),
                ("maxMedicationNotes", max_medication_notes.map(|v| json!(v))),
                (
                    "demographicsApproval",
                    demographics_approval.map(|v| json!(v)),
                ),
                ("maxDocumentBytes", max_document_bytes.map(|v| json!(v))),
                (
                    "messageAttachmentTypes",
                    message_attachment_types.map(|v| json!(v)),
                ),
                (
                    "maxMessageAttachmentBytes",
                    max_message_attachment_bytes.map(|v| json!(v)),
                ),
                (
                    "maxMessageAttachments",
                    max_message_attachments.map(|v| json!(v)),
                ),
            ];
            for (key, value) in changes {
                if let Some(v) = value {
                    settings[key] = v;
                }
            }
            api.send(
                "PUT",
                &format!("/api/practices/{ods}/settings"),
                Some(settings),
            )
            .await?
        }
    })
}
