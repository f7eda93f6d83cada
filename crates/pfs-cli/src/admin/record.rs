//! `pfs admin record`, `pfs admin document` and `pfs admin test-result`: patients' records,
//! their documents and test results, what is hidden online, who may see what, and the access
//! log.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Value, json};

use super::{Api, encode};

#[derive(Subcommand)]
pub(super) enum RecordCmd {
    /// Show a patient's record, hidden items too (newest event first).
    Show {
        /// Patient id.
        patient: String,
    },
    /// Add an event with one item, or with the items of a JSON file (`-f`).
    AddEvent {
        /// Patient id.
        patient: String,
        /// Who, e.g. "Dr A Jones".
        #[arg(long)]
        done_by: String,
        /// Where, e.g. "Riverside Surgery".
        #[arg(long)]
        location: String,
        /// When, RFC 3339 (default now).
        #[arg(long)]
        at: Option<String>,
        #[command(flatten)]
        item: ItemArgs,
        /// The items as a JSON array of {type, details, snomedCode, visible} instead.
        #[arg(short = 'f', long = "items-file", conflicts_with_all = ["item_type", "details"])]
        items_file: Option<PathBuf>,
    },
    /// Add an item to an event.
    AddItem {
        /// Patient id.
        patient: String,
        /// Event id.
        event: String,
        #[command(flatten)]
        item: ItemArgs,
    },
    /// Hide an item (a document too) from online access.
    Hide {
        /// Patient id.
        patient: String,
        /// Item id.
        item: String,
    },
    /// Show a hidden item online again.
    Unhide {
        /// Patient id.
        patient: String,
        /// Item id.
        item: String,
    },
    /// Show, set or clear what a user may see of a patient's record online.
    Access {
        /// Patient id.
        patient: String,
        /// The user: a proxy's patient id (default: the patient themself).
        #[arg(long)]
        grantee: Option<String>,
        /// None, Summary, Coded or Full (sets the grant).
        #[arg(long)]
        level: Option<String>,
        /// Documents too (with --level).
        #[arg(long, requires = "level")]
        documents: bool,
        /// Test results too (with --level).
        #[arg(long, requires = "level")]
        test_results: bool,
        /// Return to the default (the patient: everything; a proxy: the overview only).
        #[arg(long, conflicts_with = "level")]
        clear: bool,
    },
    /// The patient's access log, newest first.
    AccessLog {
        /// Patient id.
        patient: String,
        /// From, RFC 3339.
        #[arg(long)]
        from: Option<String>,
        /// To, RFC 3339.
        #[arg(long)]
        to: Option<String>,
    },
}

/// One item given by options.
#[derive(clap::Args)]
pub(super) struct ItemArgs {
    /// The item's type, e.g. Problem, Consultation, Allergy, "Drug sensitivity", Note.
    #[arg(long = "type")]
    item_type: Option<String>,
    /// Its text, stored exactly as given.
    #[arg(long)]
    details: Option<String>,
    /// SNOMED CT concept id (makes it part of the coded record).
    #[arg(long)]
    snomed: Option<String>,
    /// Hidden from online access.
    #[arg(long)]
    hidden: bool,
}

impl ItemArgs {
    fn json(&self) -> Result<Value> {
        let (Some(t), Some(d)) = (&self.item_type, &self.details) else {
            bail!("give --type and --details");
        };
        Ok(json!({"type": t, "details": d, "snomedCode": self.snomed, "visible": !self.hidden}))
    }
}

#[derive(Subcommand)]
pub(super) enum DocumentCmd {
    /// Upload a document into a patient's record: each FILE is one page, in order.
    Upload {
        /// Patient id.
        patient: String,
        /// The pages' files; the first one's name is the document's (its extension gives the
        /// type). A PDF or a photo is one page.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Letter or Attachment (default Attachment).
        #[arg(long)]
        kind: Option<String>,
        /// Shown after the file name in the record.
        #[arg(long)]
        comments: Option<String>,
        /// Add it to this event (default: a new event).
        #[arg(long)]
        event: Option<String>,
        /// Who filed it, for a new event.
        #[arg(long)]
        done_by: Option<String>,
        /// Where, for a new event.
        #[arg(long)]
        location: Option<String>,
        /// Keep it uploading after these pages (patients get 45 until `complete`).
        #[arg(long)]
        keep_uploading: bool,
        /// Hidden from online access.
        #[arg(long)]
        hidden: bool,
    },
    /// Add a page to a document that is still uploading.
    AddPage {
        /// binaryDataId.
        id: String,
        /// The page's file.
        file: PathBuf,
    },
    /// Mark an uploading document complete.
    Complete {
        /// binaryDataId.
        id: String,
    },
    /// Save one page of a document to a file.
    Page {
        /// binaryDataId.
        id: String,
        /// Page number, from 1.
        page: u32,
        /// Where to write it.
        #[arg(long, short = 'o')]
        out: PathBuf,
    },
}

#[derive(Subcommand)]
pub(super) enum TestResultCmd {
    /// Add a test result.
    Add {
        /// Patient id.
        patient: String,
        /// e.g. "Full blood count".
        #[arg(long)]
        name: String,
        /// e.g. Pathology (default), Radiology.
        #[arg(long)]
        category: Option<String>,
        /// A value as NAME=VALUE[;UNITS[;RANGE[;abnormal]]], e.g.
        /// "Haemoglobin=131;g/L;115 - 165"; repeatable.
        #[arg(long = "value")]
        values: Vec<String>,
        /// The clinician's comment.
        #[arg(long)]
        comment: Option<String>,
        /// When it was reported, RFC 3339 (default now).
        #[arg(long)]
        at: Option<String>,
        /// Hidden from online access.
        #[arg(long)]
        hidden: bool,
    },
    /// A patient's test results, hidden ones too, newest first.
    List {
        /// Patient id.
        patient: String,
    },
    /// Hide a test result from online access.
    Hide {
        /// Patient id.
        patient: String,
        /// Test result id.
        id: String,
    },
    /// Show a hidden test result online again.
    Unhide {
        /// Patient id.
        patient: String,
        /// Test result id.
        id: String,
    },
}

/// `Haemoglobin=131;g/L;115 - 165;abnormal` as a value.
fn test_value(spec: &str) -> Result<Value> {
    let Some((name, rest)) = spec.split_once('=') else {
        bail!("--value must be NAME=VALUE[;UNITS[;RANGE[;abnormal]]]");
    };
    let mut parts = rest.split(';');
    let value = parts.next().unwrap_or_default();
    let units = parts.next().filter(|s| !s.is_empty());
    let range = parts.next().filter(|s| !s.is_empty());
    let abnormal = match parts.next() {
        None | Some("") => false,
        Some(f) if f.eq_ignore_ascii_case("abnormal") => true,
        Some(_) => bail!("the fourth part of --value can only be `abnormal`"),
    };
    Ok(json!({
        "name": name, "value": value, "units": units, "referenceRange": range,
        "abnormal": abnormal,
    }))
}

fn window(from: Option<String>, to: Option<String>) -> String {
    let parts: Vec<String> = [("from", from), ("to", to)]
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| format!("{k}={}", encode(&v))))
        .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!("?{}", parts.join("&"))
    }
}

pub(super) async fn run(api: &Api, cmd: RecordCmd) -> Result<Value> {
    Ok(match cmd {
        RecordCmd::Show { patient } => {
            api.send("GET", &format!("/api/patients/{patient}/record"), None)
                .await?
        }
        RecordCmd::AddEvent {
            patient,
            done_by,
            location,
            at,
            item,
            items_file,
        } => {
            let items = match items_file {
                Some(path) => {
                    let text = std::fs::read_to_string(&path)
                        .with_context(|| format!("cannot read {}", path.display()))?;
                    serde_json::from_str(&text)
                        .with_context(|| format!("{} is not a JSON array", path.display()))?
                }
                None => json!([item.json()?]),
            };
            let body = json!({"doneBy": done_by, "location": location, "at": at, "items": items});
            api.send(
                "POST",
                &format!("/api/patients/{patient}/record/events"),
                Some(body),
            )
            .await?
        }
        RecordCmd::AddItem {
            patient,
            event,
            item,
        } => {
            api.send(
                "POST",
                &format!("/api/patients/{patient}/record/events/{event}/items"),
                Some(item.json()?),
            )
            .await?
        }
        RecordCmd::Hide { patient, item } => {
            set_visible(api, &patient, &format!("record/items/{item}"), false).await?
        }
        RecordCmd::Unhide { patient, item } => {
            set_visible(api, &patient, &format!("record/items/{item}"), true).await?
        }
        RecordCmd::Access {
            patient,
            grantee,
            level,
            documents,
            test_results,
            clear,
        } => {
            let grantee = grantee.unwrap_or_else(|| patient.clone());
            let path = format!("/api/patients/{patient}/record-access/{grantee}");
            match (level, clear) {
                (Some(level), _) => {
                    let body = json!({"level": level, "documents": documents,
                                      "testResults": test_results});
                    api.send("PUT", &path, Some(body)).await?
                }
                (None, true) => api.send("DELETE", &path, None).await?,
                (None, false) => api.send("GET", &path, None).await?,
            }
        }
        RecordCmd::AccessLog { patient, from, to } => {
            api.send(
                "GET",
                &format!("/api/patients/{patient}/access-log{}", window(from, to)),
                None,
            )
            .await?
        }
    })
}

/// Shows or hides `what` (a path under the patient) online.
async fn set_visible(api: &Api, patient: &str, what: &str, visible: bool) -> Result<Value> {
    api.send(
        "PUT",
        &format!("/api/patients/{patient}/{what}/visibility"),
        Some(json!({ "visible": visible })),
    )
    .await?;
    Ok(json!({ "visible": visible }))
}

fn read_file(path: &PathBuf) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
}

pub(super) async fn run_document(api: &Api, cmd: DocumentCmd) -> Result<Value> {
    Ok(match cmd {
        DocumentCmd::Upload {
            patient,
            files,
            kind,
            comments,
            event,
            done_by,
            location,
            keep_uploading,
            hidden,
        } => {
            let Some((first, rest)) = files.split_first() else {
                bail!("give at least one file");
            };
            let file_name = first
                .file_name()
                .and_then(|n| n.to_str())
                .context("the first file's name is not UTF-8")?;
            let mut query = vec![
                format!("fileName={}", encode(file_name)),
                format!("uploading={}", !rest.is_empty() || keep_uploading),
                format!("visible={}", !hidden),
            ];
            for (key, value) in [
                ("kind", kind),
                ("comments", comments),
                ("eventId", event),
                ("doneBy", done_by),
                ("location", location),
            ] {
                if let Some(v) = value {
                    query.push(format!("{key}={}", encode(&v)));
                }
            }
            let bar = ProgressBar::new(files.len() as u64).with_style(
                ProgressStyle::with_template("uploading {pos}/{len} pages {wide_bar}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            let mut doc = api
                .send_bytes(
                    "POST",
                    &format!("/api/patients/{patient}/documents?{}", query.join("&")),
                    "application/octet-stream",
                    read_file(first)?,
                )
                .await?;
            bar.inc(1);
            let id = doc["binaryDataId"].as_str().unwrap_or_default().to_owned();
            for page in rest {
                doc = api
                    .send_bytes(
                        "POST",
                        &format!("/api/documents/{id}/pages"),
                        "application/octet-stream",
                        read_file(page)?,
                    )
                    .await?;
                bar.inc(1);
            }
            bar.finish_and_clear();
            if !rest.is_empty() && !keep_uploading {
                doc = api
                    .send("POST", &format!("/api/documents/{id}/complete"), None)
                    .await?;
            }
            doc
        }
        DocumentCmd::AddPage { id, file } => {
            api.send_bytes(
                "POST",
                &format!("/api/documents/{id}/pages"),
                "application/octet-stream",
                read_file(&file)?,
            )
            .await?
        }
        DocumentCmd::Complete { id } => {
            api.send("POST", &format!("/api/documents/{id}/complete"), None)
                .await?
        }
        DocumentCmd::Page { id, page, out } => {
            let bytes = api
                .fetch_bytes(&format!("/api/documents/{id}/pages/{page}"))
                .await?;
            std::fs::write(&out, &bytes)
                .with_context(|| format!("cannot write {}", out.display()))?;
            json!({ "written": out.display().to_string(), "bytes": bytes.len() })
        }
    })
}

pub(super) async fn run_test_result(api: &Api, cmd: TestResultCmd) -> Result<Value> {
    Ok(match cmd {
        TestResultCmd::Add {
            patient,
            name,
            category,
            values,
            comment,
            at,
            hidden,
        } => {
            let values: Vec<Value> = values
                .iter()
                .map(|v| test_value(v))
                .collect::<Result<_>>()?;
            let body = json!({
                "name": name, "category": category, "values": values, "comment": comment,
                "at": at, "visible": !hidden,
            });
            api.send(
                "POST",
                &format!("/api/patients/{patient}/test-results"),
                Some(body),
            )
            .await?
        }
        TestResultCmd::List { patient } => {
            api.send(
                "GET",
                &format!("/api/patients/{patient}/test-results"),
                None,
            )
            .await?
        }
        TestResultCmd::Hide { patient, id } => {
            set_visible(api, &patient, &format!("test-results/{id}"), false).await?
        }
        TestResultCmd::Unhide { patient, id } => {
            set_visible(api, &patient, &format!("test-results/{id}"), true).await?
        }
    })
}
