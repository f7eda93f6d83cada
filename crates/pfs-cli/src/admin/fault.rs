//! `pfs admin fault`: fault injection rules (docs/sandbox.md, "Fault injection").

use anyhow::{Result, bail};
use clap::Subcommand;
use serde_json::{Map, Value, json};

use super::Api;

#[derive(Subcommand)]
pub(super) enum FaultCmd {
    /// Add a rule: what it matches (every request by default), when it fires (always by
    /// default) and what it does. Prints the rule with its id and seed.
    Add(Box<AddArgs>),
    /// Every rule with its hits, matched requests and hits left.
    List,
    /// One rule.
    Show { id: u64 },
    /// Remove one rule.
    Remove { id: u64 },
    /// Remove every rule.
    Clear,
}

#[derive(clap::Args)]
pub(super) struct AddArgs {
    /// What a hit does.
    #[arg(value_parser = ["latency", "error", "http-status", "drop", "malformed", "truncated", "empty"])]
    kind: String,
    /// Match: the practice's ODS code (unitId).
    #[arg(long)]
    practice: Option<String>,
    /// Match: the patientId of the request.
    #[arg(long)]
    patient_id: Option<String>,
    /// Match: the provider id of the client certificate.
    #[arg(long)]
    provider: Option<String>,
    /// Match: the message type (the `type` header), e.g. BookAppointment.
    #[arg(long)]
    message_type: Option<String>,
    /// Trigger: chance of a hit, 0 to 1.
    #[arg(long)]
    probability: Option<f64>,
    /// Trigger: the seed of the rule's random choices (default: chosen at random, and shown).
    #[arg(long)]
    seed: Option<u64>,
    /// Trigger: only every Nth matching request.
    #[arg(long)]
    every_nth: Option<u64>,
    /// Trigger: requests within this rate pass, those beyond it are hit (per instance).
    #[arg(long)]
    rate_per_second: Option<f64>,
    /// Trigger: at most this many hits ("fail the next 3": --count 3).
    #[arg(long)]
    count: Option<u64>,
    /// latency: a fixed delay in milliseconds.
    #[arg(long, conflicts_with_all = ["min_ms", "max_ms"])]
    ms: Option<u64>,
    /// latency: the shortest random delay in milliseconds.
    #[arg(long, requires = "max_ms")]
    min_ms: Option<u64>,
    /// latency: the longest random delay in milliseconds.
    #[arg(long, requires = "min_ms")]
    max_ms: Option<u64>,
    /// error: the errorCode.
    #[arg(long)]
    error_code: Option<String>,
    /// error: the userFriendlyMessage.
    #[arg(long)]
    user_friendly_message: Option<String>,
    /// error: the technicalMessage.
    #[arg(long)]
    technical_message: Option<String>,
    /// http-status: 502, 503 or 504.
    #[arg(long)]
    status: Option<u16>,
    /// drop: before or after the request is handled.
    #[arg(long, value_parser = ["before-handling", "after-handling"])]
    when: Option<String>,
}

/// Inserts the fields that are given.
fn fields(pairs: Vec<(&str, Option<Value>)>) -> Value {
    let map: Map<String, Value> = pairs
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k.to_owned(), v)))
        .collect();
    Value::Object(map)
}

/// The JSON rule `pfs admin fault add` sends.
fn rule(a: AddArgs) -> Result<Value> {
    let matches = fields(vec![
        ("practice", a.practice.map(Value::from)),
        ("patientId", a.patient_id.map(Value::from)),
        ("provider", a.provider.map(Value::from)),
        ("messageType", a.message_type.map(Value::from)),
    ]);
    let trigger = fields(vec![
        ("probability", a.probability.map(Value::from)),
        ("seed", a.seed.map(Value::from)),
        ("everyNth", a.every_nth.map(Value::from)),
        ("ratePerSecond", a.rate_per_second.map(Value::from)),
        ("count", a.count.map(Value::from)),
    ]);
    let action = match a.kind.as_str() {
        "latency" => {
            let mut v = fields(vec![
                ("ms", a.ms.map(Value::from)),
                ("minMs", a.min_ms.map(Value::from)),
                ("maxMs", a.max_ms.map(Value::from)),
            ]);
            v["kind"] = json!("latency");
            v
        }
        "error" => {
            let Some(code) = a.error_code else {
                bail!("an error rule needs --error-code");
            };
            let mut v = fields(vec![
                ("errorCode", Some(Value::from(code))),
                (
                    "userFriendlyMessage",
                    a.user_friendly_message.map(Value::from),
                ),
                ("technicalMessage", a.technical_message.map(Value::from)),
            ]);
            v["kind"] = json!("error");
            v
        }
        "http-status" => {
            let Some(status) = a.status else {
                bail!("an http-status rule needs --status (502, 503 or 504)");
            };
            json!({"kind": "httpStatus", "status": status})
        }
        "drop" => {
            let when = match a.when.as_deref() {
                Some("before-handling") => "beforeHandling",
                Some("after-handling") => "afterHandling",
                _ => bail!("a drop rule needs --when before-handling or --when after-handling"),
            };
            json!({"kind": "drop", "when": when})
        }
        other => json!({ "kind": other }),
    };
    Ok(json!({"match": matches, "trigger": trigger, "action": action}))
}

pub(super) async fn run(api: &Api, cmd: FaultCmd) -> Result<Value> {
    Ok(match cmd {
        FaultCmd::Add(a) => api.send("POST", "/api/faults", Some(rule(*a)?)).await?,
        FaultCmd::List => api.send("GET", "/api/faults", None).await?,
        FaultCmd::Show { id } => api.send("GET", &format!("/api/faults/{id}"), None).await?,
        FaultCmd::Remove { id } => {
            api.send("DELETE", &format!("/api/faults/{id}"), None)
                .await?
        }
        FaultCmd::Clear => api.send("DELETE", "/api/faults", None).await?,
    })
}
