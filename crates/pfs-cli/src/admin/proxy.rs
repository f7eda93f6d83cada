//! `pfs admin proxy`: proxy access, one online user acting for another patient.

use anyhow::Result;
use clap::Subcommand;
use serde_json::{Value, json};

use super::Api;

#[derive(Subcommand)]
pub(super) enum ProxyCmd {
    /// Let GRANTEE (an online user's patient id) act for PATIENT.
    Grant { grantee: String, patient: String },
    /// Withdraw a grant.
    Revoke { grantee: String, patient: String },
    /// Patients GRANTEE may act for.
    List { grantee: String },
}

pub(super) async fn run(api: &Api, cmd: ProxyCmd) -> Result<Value> {
    Ok(match cmd {
        ProxyCmd::Grant { grantee, patient } => {
            api.send(
                "POST",
                &format!("/api/patients/{grantee}/proxies"),
                Some(json!({"patientId": patient})),
            )
            .await?
        }
        ProxyCmd::Revoke { grantee, patient } => {
            api.send(
                "DELETE",
                &format!("/api/patients/{grantee}/proxies/{patient}"),
                None,
            )
            .await?
        }
        ProxyCmd::List { grantee } => {
            api.send("GET", &format!("/api/patients/{grantee}/proxies"), None)
                .await?
        }
    })
}
