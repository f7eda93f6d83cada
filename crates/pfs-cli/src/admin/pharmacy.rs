//! `pfs admin pharmacy`: the community pharmacy directory (import from CSV, add, close,
//! search) and patients' nominations.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use indicatif::{ProgressBar, ProgressStyle};
use pfs_core::admin::parse_pharmacy_csv;
use serde_json::{Value, json};

use super::{Api, encode};

#[derive(Subcommand)]
pub(super) enum PharmacyCmd {
    /// Import a directory from a CSV file (see docs/admin-api.md for its columns): every line
    /// is checked first, and the file is imported whole or not at all.
    Import {
        /// The CSV file.
        file: PathBuf,
        /// Hide the progress bar.
        #[arg(long)]
        quiet: bool,
    },
    /// Add one pharmacy.
    Add {
        /// ODS code.
        #[arg(long)]
        ods: String,
        /// Name.
        #[arg(long)]
        name: String,
        /// House name or number.
        #[arg(long)]
        house: Option<String>,
        /// Street.
        #[arg(long)]
        street: Option<String>,
        /// Village or locality.
        #[arg(long)]
        village: Option<String>,
        /// Town.
        #[arg(long)]
        town: Option<String>,
        /// County.
        #[arg(long)]
        county: Option<String>,
        /// Postcode.
        #[arg(long)]
        postcode: String,
        /// Telephone number.
        #[arg(long)]
        telephone: Option<String>,
    },
    /// Mark a pharmacy closed: no longer found or nominated.
    Close {
        /// ODS code.
        ods: String,
    },
    /// Show one pharmacy.
    Show {
        /// ODS code.
        ods: String,
    },
    /// Search the open pharmacies by postcode (full or outward code) or by part of the name.
    Search {
        /// A full postcode or an outward code; nearest first.
        #[arg(long, conflicts_with = "name")]
        postcode: Option<String>,
        /// Part of the name, any case.
        #[arg(long)]
        name: Option<String>,
    },
    /// Set a patient's nominated pharmacy (or remove it with --remove).
    Nominate {
        /// Patient id.
        patient: String,
        /// ODS code of the pharmacy.
        #[arg(required_unless_present = "remove")]
        ods: Option<String>,
        /// Remove the nomination.
        #[arg(long, conflicts_with = "ods")]
        remove: bool,
    },
}

/// Checks the file line by line with a progress bar, then sends it whole.
async fn import(api: &Api, file: &PathBuf, quiet: bool) -> Result<Value> {
    let text = std::fs::read_to_string(file)
        .with_context(|| format!("cannot read {} as UTF-8 text", file.display()))?;
    let total = text.lines().count() as u64;
    let bar = if quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(total)
    };
    bar.set_style(
        ProgressStyle::with_template("{msg:9} [{bar:40}] {pos}/{len} lines ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_message("checking");
    let checked = parse_pharmacy_csv(&text, |line| {
        if line % 256 == 0 {
            bar.set_position(line as u64);
        }
    });
    bar.set_position(total);
    let rows = match checked {
        Ok(rows) => rows,
        Err(errors) => {
            bar.abandon_with_message("refused");
            for e in &errors {
                eprintln!("{}: {e}", file.display());
            }
            bail!(
                "{} lines cannot be used; nothing was imported",
                errors.len()
            );
        }
    };
    bar.set_message("importing");
    let spinner = bar.clone();
    spinner.enable_steady_tick(std::time::Duration::from_millis(120));
    let result = api
        .send_text("POST", "/api/pharmacies/import", "text/csv", text)
        .await;
    match &result {
        Ok(_) => bar.finish_with_message("imported"),
        Err(_) => bar.abandon_with_message("failed"),
    }
    let summary = result?;
    if !quiet {
        eprintln!("{} pharmacies checked and imported", rows.len());
    }
    Ok(summary)
}

pub(super) async fn run(api: &Api, cmd: PharmacyCmd) -> Result<Value> {
    Ok(match cmd {
        PharmacyCmd::Import { file, quiet } => import(api, &file, quiet).await?,
        PharmacyCmd::Add {
            ods,
            name,
            house,
            street,
            village,
            town,
            county,
            postcode,
            telephone,
        } => {
            api.send(
                "POST",
                "/api/pharmacies",
                Some(json!({
                    "ods": ods, "name": name, "houseNameFlat": house, "street": street,
                    "village": village, "town": town, "county": county, "postcode": postcode,
                    "telephone": telephone,
                })),
            )
            .await?
        }
        PharmacyCmd::Close { ods } => {
            api.send("POST", &format!("/api/pharmacies/{ods}/close"), None)
                .await?
        }
        PharmacyCmd::Show { ods } => {
            api.send("GET", &format!("/api/pharmacies/{ods}"), None)
                .await?
        }
        PharmacyCmd::Search { postcode, name } => {
            let query = match (postcode, name) {
                (Some(p), _) => format!("postcode={}", encode(&p)),
                (None, Some(n)) => format!("name={}", encode(&n)),
                (None, None) => bail!("give --postcode or --name"),
            };
            api.send("GET", &format!("/api/pharmacies?{query}"), None)
                .await?
        }
        PharmacyCmd::Nominate {
            patient,
            ods,
            remove,
        } => {
            let ods = if remove { None } else { ods };
            api.send(
                "PUT",
                &format!("/api/patients/{patient}/nominated-pharmacy"),
                Some(json!({ "odsCode": ods })),
            )
            .await?
        }
    })
}
