//! `pfs admin provider`: third-party providers (apps) and their client certificates.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Subcommand;
use serde_json::{Value, json};

use super::Api;

#[derive(Subcommand)]
pub(super) enum ProviderCmd {
    /// Register a provider: issues a client certificate and key and writes them to --out.
    Add {
        /// A name for people.
        #[arg(long)]
        name: String,
        /// May use the NHS-login LinkAccount variants (retrieve, create).
        #[arg(long)]
        trusted_identity: bool,
        /// Where to write client.pem, client-key.pem, ca.pem and provider-id.
        #[arg(long)]
        out: PathBuf,
    },
    /// List providers.
    List,
    /// Revoke a provider at once (its certificate is refused, its sessions end).
    Revoke {
        /// Provider id.
        id: String,
    },
}

pub(super) async fn run(api: &Api, cmd: ProviderCmd) -> Result<Value> {
    Ok(match cmd {
        ProviderCmd::Add {
            name,
            trusted_identity,
            out,
        } => {
            let v = api
                .send(
                    "POST",
                    "/api/providers",
                    Some(json!({"name": name, "trustedIdentity": trusted_identity})),
                )
                .await?;
            write_credentials(&out, &v)?;
            json!({"id": v["id"], "name": v["name"], "fingerprint": v["fingerprint"], "written": out})
        }
        ProviderCmd::List => api.send("GET", "/api/providers", None).await?,
        ProviderCmd::Revoke { id } => {
            api.send("POST", &format!("/api/providers/{id}/revoke"), None)
                .await?
        }
    })
}

fn write_credentials(out: &std::path::Path, v: &Value) -> Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let field = |k: &str| {
        v[k].as_str()
            .map(str::to_owned)
            .with_context(|| format!("reply lacks {k}"))
    };
    pfs_server::datadir::write_public(&out.join("client.pem"), &field("certPem")?)?;
    pfs_server::datadir::write_secret(&out.join("client-key.pem"), &field("keyPem")?)?;
    pfs_server::datadir::write_public(&out.join("ca.pem"), &field("caPem")?)?;
    pfs_server::datadir::write_secret(&out.join("provider-id"), &(field("id")? + "\n"))?;
    Ok(())
}
