//! `pfs admin namespace`: isolated practices for test runs that share a server
//! (docs/sandbox.md, "Namespaces").

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use pfs_server::datadir::{write_public, write_secret};
use serde_json::{Value, json};

use super::Api;

#[derive(Subcommand)]
pub(super) enum NamespaceCmd {
    /// Make namespace NAME: a practice with the demo's patients and data, its own provider
    /// (client certificate) and its own accounts.
    Create {
        name: String,
        /// Write the credentials into DIR as `pfs serve --demo` writes `DATA_DIR/demo/`
        /// (ca.pem, client.pem, client-key.pem, provider-id, accounts.json), for `pfs login
        /// --credentials DIR` and `pfs conformance --credentials DIR --accounts
        /// DIR/accounts.json`; only a summary is printed. Without it, everything is printed.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
    /// The namespaces.
    List,
    /// Delete namespace NAME with everything in it (its practice, provider, patients,
    /// accounts, sessions and all they hold).
    Delete { name: String },
}

pub(super) async fn run(api: &Api, cmd: NamespaceCmd) -> Result<Value> {
    match cmd {
        NamespaceCmd::Create { name, out } => {
            let made = api
                .send(
                    "POST",
                    "/api/sandbox/namespaces",
                    Some(json!({ "name": name })),
                )
                .await?;
            match out {
                None => Ok(made),
                Some(dir) => write_credentials(&dir, &made),
            }
        }
        NamespaceCmd::List => api.send("GET", "/api/sandbox/namespaces", None).await,
        NamespaceCmd::Delete { name } => {
            if name.is_empty()
                || !name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            {
                bail!("a namespace name is lower-case letters, digits, - and _");
            }
            let path = format!("/api/sandbox/namespaces/{name}");
            api.send("DELETE", &path, None).await
        }
    }
}

/// Writes a new namespace's credentials into `dir` (keys and linkage keys readable by the
/// owner only); the summary printed instead of them.
fn write_credentials(dir: &Path, made: &Value) -> Result<Value> {
    let text = |field: &str| -> Result<&str> {
        made.get(field)
            .and_then(Value::as_str)
            .with_context(|| format!("the server's answer has no {field}"))
    };
    let accounts = made
        .get("accounts")
        .context("the server's answer has no accounts")?;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    write_public(&dir.join("ca.pem"), text("caPem")?)?;
    write_public(&dir.join("client.pem"), text("certPem")?)?;
    write_secret(&dir.join("client-key.pem"), text("keyPem")?)?;
    write_secret(
        &dir.join("provider-id"),
        &format!("{}\n", text("providerId")?),
    )?;
    write_secret(
        &dir.join("accounts.json"),
        &(serde_json::to_string_pretty(accounts)? + "\n"),
    )?;
    Ok(json!({
        "name": made.get("name"),
        "ods": made.get("ods"),
        "practiceName": made.get("practiceName"),
        "accounts": accounts.as_array().map_or(0, Vec::len),
        "credentials": dir.display().to_string(),
    }))
}
