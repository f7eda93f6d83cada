//! `pfs admin service`: service switches, per practice and per patient.

use anyhow::{Result, bail};
use clap::Subcommand;
use serde_json::{Value, json};

use super::Api;

#[derive(Subcommand)]
pub(super) enum ServiceCmd {
    /// Switch a service on or off (or clear the switch) for a practice or a patient.
    Set {
        /// Service key, e.g. messaging, appointments.
        service: String,
        /// A practice (ODS code).
        #[arg(long, conflicts_with = "patient", required_unless_present = "patient")]
        ods: Option<String>,
        /// A patient (patient id).
        #[arg(long)]
        patient: Option<String>,
        /// on, off or clear.
        #[arg(value_parser = ["on", "off", "clear"])]
        state: String,
    },
    /// The effective state of every service for a patient.
    List { patient_id: String },
}

pub(super) async fn run(api: &Api, cmd: ServiceCmd) -> Result<Value> {
    Ok(match cmd {
        ServiceCmd::Set {
            service,
            ods,
            patient,
            state,
        } => {
            let enabled = match state.as_str() {
                "on" => json!(true),
                "off" => json!(false),
                _ => Value::Null,
            };
            let path = match (ods, patient) {
                (_, Some(p)) => format!("/api/patients/{p}/services/{service}"),
                (Some(o), None) => format!("/api/practices/{o}/services/{service}"),
                (None, None) => bail!("give --ods or --patient"),
            };
            api.send("PUT", &path, Some(json!({"enabled": enabled})))
                .await?
        }
        ServiceCmd::List { patient_id } => {
            api.send("GET", &format!("/api/patients/{patient_id}/services"), None)
                .await?
        }
    })
}
