//! `pfs admin demographics`: patients' contact details, and approving or rejecting the changes
//! patients ask for online.

use anyhow::{Result, bail};
use clap::Subcommand;
use serde_json::{Value, json};

use super::Api;

#[derive(Subcommand)]
pub(super) enum DemographicsCmd {
    /// Show a patient's contact details and recent changes.
    Show {
        /// Patient id.
        patient: String,
    },
    /// Replace a patient's contact details (options not given are cleared).
    Set {
        /// Patient id.
        patient: String,
        /// House name or number, flat.
        #[arg(long)]
        house: Option<String>,
        /// Street.
        #[arg(long)]
        street: Option<String>,
        /// Village or locality.
        #[arg(long)]
        village: Option<String>,
        /// Post town.
        #[arg(long)]
        town: Option<String>,
        /// County.
        #[arg(long)]
        county: Option<String>,
        /// Postcode (needed with any other address part).
        #[arg(long)]
        postcode: Option<String>,
        /// A telephone number as TYPE:NUMBER, TYPE one of home, mobile, work; repeatable.
        #[arg(long = "phone")]
        phones: Vec<String>,
        /// E-mail address.
        #[arg(long)]
        email: Option<String>,
    },
    /// List the changes waiting for approval at a practice, oldest first.
    Pending {
        /// Practice ODS code.
        ods: String,
    },
    /// Approve a waiting change: it is made at once.
    Approve {
        /// Change id.
        id: String,
        /// A comment the patient sees.
        #[arg(long)]
        comment: Option<String>,
    },
    /// Reject a waiting change.
    Reject {
        /// Change id.
        id: String,
        /// A comment the patient sees.
        #[arg(long)]
        comment: Option<String>,
    },
}

/// `home:01134960000` as `{"number": …, "type": "Home"}`.
fn phone(spec: &str) -> Result<Value> {
    let Some((kind, number)) = spec.split_once(':') else {
        bail!("--phone must be TYPE:NUMBER, e.g. mobile:07700900123");
    };
    let kind = match kind.trim().to_ascii_lowercase().as_str() {
        "home" => "Home",
        "mobile" => "Mobile",
        "work" => "Work",
        _ => bail!("--phone TYPE must be home, mobile or work"),
    };
    Ok(json!({"number": number.trim(), "type": kind}))
}

pub(super) async fn run(api: &Api, cmd: DemographicsCmd) -> Result<Value> {
    Ok(match cmd {
        DemographicsCmd::Show { patient } => {
            api.send(
                "GET",
                &format!("/api/patients/{patient}/demographics"),
                None,
            )
            .await?
        }
        DemographicsCmd::Set {
            patient,
            house,
            street,
            village,
            town,
            county,
            postcode,
            phones,
            email,
        } => {
            let parts = [&house, &street, &village, &town, &county, &postcode];
            let address = if parts.iter().all(|p| p.is_none()) {
                Value::Null
            } else {
                json!({
                    "houseNameFlat": house,
                    "street": street,
                    "village": village,
                    "town": town,
                    "county": county,
                    "postcode": postcode.unwrap_or_default(),
                })
            };
            let telephones = phones
                .iter()
                .map(|p| phone(p))
                .collect::<Result<Vec<_>>>()?;
            api.send(
                "PUT",
                &format!("/api/patients/{patient}/demographics"),
                Some(json!({"address": address, "telephones": telephones, "email": email})),
            )
            .await?
        }
        DemographicsCmd::Pending { ods } => {
            api.send(
                "GET",
                &format!("/api/practices/{ods}/demographics-changes"),
                None,
            )
            .await?
        }
        DemographicsCmd::Approve { id, comment } => {
            api.send(
                "POST",
                &format!("/api/demographics-changes/{id}/approve"),
                Some(json!({ "comment": comment })),
            )
            .await?
        }
        DemographicsCmd::Reject { id, comment } => {
            api.send(
                "POST",
                &format!("/api/demographics-changes/{id}/reject"),
                Some(json!({ "comment": comment })),
            )
            .await?
        }
    })
}
