//! `pfs admin patient`: patients.

use anyhow::Result;
use clap::Subcommand;
use serde_json::{Value, json};

use super::Api;

#[derive(Subcommand)]
pub(super) enum PatientCmd {
    /// Add a patient.
    Add {
        /// Practice ODS code.
        #[arg(long)]
        ods: String,
        /// NHS number (10 digits, valid check digit).
        #[arg(long)]
        nhs_number: String,
        /// Title.
        #[arg(long)]
        title: Option<String>,
        /// Given names.
        #[arg(long)]
        first_name: String,
        /// Family name.
        #[arg(long)]
        last_name: String,
        /// YYYY-MM-DD.
        #[arg(long)]
        date_of_birth: String,
        /// Gender text, e.g. Female.
        #[arg(long)]
        gender: String,
        /// One-line address.
        #[arg(long)]
        address: String,
    },
    /// List patients.
    List {
        /// Only this practice.
        #[arg(long)]
        ods: Option<String>,
    },
}

pub(super) async fn run(api: &Api, cmd: PatientCmd) -> Result<Value> {
    Ok(match cmd {
        PatientCmd::Add { ods, nhs_number, title, first_name, last_name, date_of_birth, gender, address } => {
            api.send(
                "POST",
                "/api/patients",
                Some(json!({
                    "ods": ods, "nhsNumber": nhs_number, "title": title, "firstName": first_name,
                    "lastName": last_name, "dateOfBirth": date_of_birth, "gender": gender, "address": address
                })),
            )
            .await?
        }
        PatientCmd::List { ods } => {
            let q = ods.map(|o| format!("?ods={o}")).unwrap_or_default();
            api.send("GET", &format!("/api/patients{q}"), None).await?
        }
    })
}
