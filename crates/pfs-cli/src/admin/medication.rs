//! `pfs admin course` and `pfs admin prescription`: medication courses and the prescription
//! requests patients send.

use anyhow::{Result, bail};
use clap::Subcommand;
use serde_json::{Map, Value, json};

use super::Api;

#[derive(Subcommand)]
pub(super) enum CourseCmd {
    /// Prescribe a course for a patient.
    Add {
        /// Patient id.
        patient: String,
        /// Drug name, e.g. "Amlodipine 5mg tablets".
        #[arg(long)]
        drug: String,
        /// Dosage and quantity, e.g. "One to be taken each day - 28 tablet".
        #[arg(long)]
        details: String,
        /// Course type: repeat or acute.
        #[arg(long = "type", value_parser = ["repeat", "acute", "Repeat", "Acute"], default_value = "repeat")]
        course_type: String,
        /// The patient may not order it online.
        #[arg(long)]
        not_requestable: bool,
        /// The patient does not see it online.
        #[arg(long)]
        hidden: bool,
        /// First day, YYYY-MM-DD (default today).
        #[arg(long)]
        started_on: Option<String>,
        /// Most issues of this authorisation (1 to 100; default no limit).
        #[arg(long)]
        max_issues: Option<u32>,
    },
    /// List a patient's courses (stopped and hidden ones too).
    List {
        /// Patient id.
        patient: String,
    },
    /// Change a course (the options not given keep their values).
    Change {
        /// Course id.
        id: String,
        /// New drug name.
        #[arg(long)]
        drug: Option<String>,
        /// New dosage and quantity.
        #[arg(long)]
        details: Option<String>,
        /// Whether the patient may order it online.
        #[arg(long)]
        requestable: Option<bool>,
        /// Whether the patient sees it online.
        #[arg(long)]
        online_visible: Option<bool>,
        /// Most issues of this authorisation: a number (1 to 100) or "none" for no limit.
        #[arg(long)]
        max_issues: Option<String>,
    },
    /// Stop a course; the patient no longer sees or orders it.
    Stop {
        /// Course id.
        id: String,
        /// Day it stops, YYYY-MM-DD (default today).
        #[arg(long)]
        on: Option<String>,
    },
    /// Re-authorise a course: its issue count starts again from 0.
    Reauthorise {
        /// Course id.
        id: String,
        /// New most issues: a number (1 to 100) or "none" for no limit (default: unchanged).
        #[arg(long)]
        max_issues: Option<String>,
    },
}

#[derive(Subcommand)]
pub(super) enum PrescriptionCmd {
    /// A practice's requests waiting to be actioned, oldest first.
    Pending {
        /// Practice ODS code.
        ods: String,
    },
    /// A patient's requests, newest first.
    List {
        /// Patient id.
        patient: String,
        /// First UK date, YYYY-MM-DD (default 180 days before --to).
        #[arg(long)]
        from: Option<String>,
        /// Last UK date, inclusive (default today).
        #[arg(long)]
        to: Option<String>,
    },
    /// Issue a request: the prescription is issued and each course counts an issue.
    Issue {
        /// Request id.
        id: String,
        /// Comment the patient sees.
        #[arg(long)]
        comment: Option<String>,
    },
    /// Reject a request.
    Reject {
        /// Request id.
        id: String,
        /// Comment the patient sees (why).
        #[arg(long)]
        comment: Option<String>,
    },
}

/// `--max-issues`: a number, or `none` for no limit.
fn max_issues(text: &str) -> Result<Value> {
    if text.trim().eq_ignore_ascii_case("none") {
        return Ok(Value::Null);
    }
    match text.trim().parse::<u32>() {
        Ok(n) => Ok(json!(n)),
        Err(_) => bail!("--max-issues must be a number or none"),
    }
}

pub(super) async fn run_course(api: &Api, cmd: CourseCmd) -> Result<Value> {
    Ok(match cmd {
        CourseCmd::Add {
            patient,
            drug,
            details,
            course_type,
            not_requestable,
            hidden,
            started_on,
            max_issues,
        } => {
            let course_type = if course_type.eq_ignore_ascii_case("acute") {
                "Acute"
            } else {
                "Repeat"
            };
            api.send(
                "POST",
                &format!("/api/patients/{patient}/courses"),
                Some(json!({
                    "drug": drug, "details": details, "courseType": course_type,
                    "requestable": !not_requestable, "onlineVisible": !hidden,
                    "startedOn": started_on, "maxIssues": max_issues
                })),
            )
            .await?
        }
        CourseCmd::List { patient } => {
            api.send("GET", &format!("/api/patients/{patient}/courses"), None)
                .await?
        }
        CourseCmd::Change {
            id,
            drug,
            details,
            requestable,
            online_visible,
            max_issues: max,
        } => {
            let mut body = Map::new();
            let fields = [
                ("drug", drug.map(Value::from)),
                ("details", details.map(Value::from)),
                ("requestable", requestable.map(Value::from)),
                ("onlineVisible", online_visible.map(Value::from)),
                ("maxIssues", max.as_deref().map(max_issues).transpose()?),
            ];
            for (key, value) in fields {
                if let Some(v) = value {
                    body.insert(key.into(), v);
                }
            }
            api.send(
                "PATCH",
                &format!("/api/courses/{id}"),
                Some(Value::Object(body)),
            )
            .await?
        }
        CourseCmd::Stop { id, on } => {
            api.send(
                "POST",
                &format!("/api/courses/{id}/stop"),
                Some(json!({ "stoppedOn": on })),
            )
            .await?
        }
        CourseCmd::Reauthorise {
            id,
            max_issues: max,
        } => {
            let mut body = Map::new();
            if let Some(m) = max {
                body.insert("maxIssues".into(), max_issues(&m)?);
            }
            api.send(
                "POST",
                &format!("/api/courses/{id}/reauthorise"),
                Some(Value::Object(body)),
            )
            .await?
        }
    })
}

pub(super) async fn run_prescription(api: &Api, cmd: PrescriptionCmd) -> Result<Value> {
    Ok(match cmd {
        PrescriptionCmd::Pending { ods } => {
            api.send(
                "GET",
                &format!("/api/practices/{ods}/prescription-requests"),
                None,
            )
            .await?
        }
        PrescriptionCmd::List { patient, from, to } => {
            let parts: Vec<String> = [("from", from), ("to", to)]
                .into_iter()
                .filter_map(|(k, v)| v.map(|v| format!("{k}={v}")))
                .collect();
            let query = if parts.is_empty() {
                String::new()
            } else {
                format!("?{}", parts.join("&"))
            };
            api.send(
                "GET",
                &format!("/api/patients/{patient}/prescription-requests{query}"),
                None,
            )
            .await?
        }
        PrescriptionCmd::Issue { id, comment } => {
            api.send(
                "POST",
                &format!("/api/prescription-requests/{id}/issue"),
                Some(json!({ "comment": comment })),
            )
            .await?
        }
        PrescriptionCmd::Reject { id, comment } => {
            api.send(
                "POST",
                &format!("/api/prescription-requests/{id}/reject"),
                Some(json!({ "comment": comment })),
            )
            .await?
        }
    })
}
