//! `pfs admin account`: online accounts and linkage keys.

use anyhow::Result;
use clap::Subcommand;
use serde_json::{Value, json};

use super::Api;

#[derive(Subcommand)]
pub(super) enum AccountCmd {
    /// Open the patient's online account if needed and issue a new linkage key.
    Issue {
        /// Patient id.
        patient_id: String,
        /// Contact e-mail.
        #[arg(long)]
        email: Option<String>,
        /// Contact mobile.
        #[arg(long)]
        mobile: Option<String>,
    },
    /// End an online account.
    End {
        /// Account id.
        account_id: String,
    },
}

pub(super) async fn run(api: &Api, cmd: AccountCmd) -> Result<Value> {
    Ok(match cmd {
        AccountCmd::Issue {
            patient_id,
            email,
            mobile,
        } => {
            api.send(
                "POST",
                &format!("/api/patients/{patient_id}/account"),
                Some(json!({"email": email, "mobile": mobile})),
            )
            .await?
        }
        AccountCmd::End { account_id } => {
            api.send("POST", &format!("/api/accounts/{account_id}/end"), None)
                .await?
        }
    })
}
