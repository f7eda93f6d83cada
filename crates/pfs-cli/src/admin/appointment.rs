//! `pfs admin session` and `pfs admin appointment`: appointment sessions and bookings.

use anyhow::Result;
use clap::Subcommand;
use serde_json::{Value, json};

use super::Api;

#[derive(Subcommand)]
pub(super) enum SessionCmd {
    /// Create a session from a template.
    Add {
        /// Practice ODS code.
        #[arg(long)]
        ods: String,
        /// Session name, e.g. "Morning surgery".
        #[arg(long)]
        session_type: String,
        /// Clinician, e.g. "Dr A Jones (Female)".
        #[arg(long)]
        staff: String,
        /// Location, e.g. "Main site".
        #[arg(long)]
        location: String,
        /// Slot type, e.g. Routine, Telephone, Nurse.
        #[arg(long)]
        slot_type: String,
        /// Start of the first slot, UK local time YYYY-MM-DDTHH:MM.
        #[arg(long)]
        start: String,
        /// Slot length in minutes.
        #[arg(long)]
        slot_minutes: u32,
        /// Number of slots.
        #[arg(long)]
        slot_count: u32,
    },
    /// List a practice's sessions.
    List(PracticeDates),
}

#[derive(Subcommand)]
pub(super) enum AppointmentCmd {
    /// List a practice's bookings.
    List(PracticeDates),
    /// Cancel an appointment as the practice.
    Cancel {
        /// Appointment id.
        id: String,
    },
}

/// A practice and a range of UK dates, for the listings by date.
#[derive(clap::Args)]
pub(super) struct PracticeDates {
    /// Practice ODS code.
    ods: String,
    /// First UK date, YYYY-MM-DD (default today).
    #[arg(long)]
    from: Option<String>,
    /// Last UK date, inclusive (default 56 days after --from).
    #[arg(long)]
    to: Option<String>,
}

impl PracticeDates {
    /// The admin API path of the practice's `listing`, with the dates as its query.
    fn path(&self, listing: &str) -> String {
        let parts: Vec<String> = [("from", &self.from), ("to", &self.to)]
            .into_iter()
            .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={v}")))
            .collect();
        let query = if parts.is_empty() {
            String::new()
        } else {
            format!("?{}", parts.join("&"))
        };
        format!("/api/practices/{}/{listing}{query}", self.ods)
    }
}

pub(super) async fn run_session(api: &Api, cmd: SessionCmd) -> Result<Value> {
    Ok(match cmd {
        SessionCmd::Add {
            ods,
            session_type,
            staff,
            location,
            slot_type,
            start,
            slot_minutes,
            slot_count,
        } => {
            api.send(
                "POST",
                &format!("/api/practices/{ods}/sessions"),
                Some(json!({
                    "sessionType": session_type, "staffDetails": staff, "location": location,
                    "slotType": slot_type, "start": start, "slotMinutes": slot_minutes,
                    "slotCount": slot_count
                })),
            )
            .await?
        }
        SessionCmd::List(dates) => api.send("GET", &dates.path("sessions"), None).await?,
    })
}

pub(super) async fn run(api: &Api, cmd: AppointmentCmd) -> Result<Value> {
    Ok(match cmd {
        AppointmentCmd::List(dates) => api.send("GET", &dates.path("appointments"), None).await?,
        AppointmentCmd::Cancel { id } => {
            api.send("POST", &format!("/api/appointments/{id}/cancel"), None)
                .await?
        }
    })
}
