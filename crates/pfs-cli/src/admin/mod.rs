//! `pfs admin`: the practice side, as a client of the admin API.
//!
//! One file per feature area, `admin/<area>.rs`, with that area's subcommands and what they
//! send; this file holds the top-level options, the client of the admin API and the output.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use clap::Subcommand;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

mod account;
mod appointment;
mod demographics;
mod fault;
mod medication;
mod messaging;
mod namespace;
mod patient;
mod pharmacy;
mod practice;
mod provider;
mod proxy;
mod record;
mod sandbox;
mod service;

/// Options of `pfs admin`.
#[derive(clap::Args)]
pub struct Args {
    /// Admin API base URL; default: DATA_DIR/admin-url written by the running server.
    #[arg(long, env = "PFS_ADMIN_URL")]
    url: Option<String>,
    /// Admin token; default: DATA_DIR/admin-token.
    #[arg(long, env = "PFS_ADMIN_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// The server's data directory (for the defaults above).
    #[arg(long, env = "PFS_DATA_DIR", default_value = "pfs-data")]
    data_dir: PathBuf,
    #[command(subcommand)]
    what: What,
}

#[derive(Subcommand)]
enum What {
    /// Third-party providers (apps) and their client certificates.
    #[command(subcommand)]
    Provider(provider::ProviderCmd),
    /// GP practices.
    #[command(subcommand)]
    Practice(practice::PracticeCmd),
    /// Patients.
    #[command(subcommand)]
    Patient(patient::PatientCmd),
    /// Online accounts and linkage keys.
    #[command(subcommand)]
    Account(account::AccountCmd),
    /// Proxy access: one online user acting for another patient.
    #[command(subcommand)]
    Proxy(proxy::ProxyCmd),
    /// Service switches.
    #[command(subcommand)]
    Service(service::ServiceCmd),
    /// Appointment sessions (a clinician's run of equal slots).
    #[command(subcommand)]
    Session(appointment::SessionCmd),
    /// Booked appointments.
    #[command(subcommand)]
    Appointment(appointment::AppointmentCmd),
    /// Medication courses a patient is prescribed.
    #[command(subcommand)]
    Course(medication::CourseCmd),
    /// Prescription requests patients send, and issuing or rejecting them.
    #[command(subcommand)]
    Prescription(medication::PrescriptionCmd),
    /// Patients' contact details and the changes patients ask for online.
    #[command(subcommand)]
    Demographics(demographics::DemographicsCmd),
    /// The community pharmacy directory and patients' nominated pharmacies.
    #[command(subcommand)]
    Pharmacy(pharmacy::PharmacyCmd),
    /// Patient messaging: recipients, the inbox, conversations, replies and attachments.
    #[command(subcommand)]
    Message(messaging::MessageCmd),
    /// Patients' records: events and items, what is hidden online, who may see what, and the
    /// access log.
    #[command(subcommand)]
    Record(record::RecordCmd),
    /// Documents in patients' records: uploading (page by page) and reading them.
    #[command(subcommand)]
    Document(record::DocumentCmd),
    /// Patients' test results.
    #[command(subcommand, name = "test-result")]
    TestResult(record::TestResultCmd),
    /// The sandbox: reset to the demo seed, save and restore snapshots.
    #[command(subcommand)]
    Sandbox(sandbox::SandboxCmd),
    /// Namespaces: isolated practices, each with its own provider and accounts, for test runs
    /// that share one server.
    #[command(subcommand)]
    Namespace(namespace::NamespaceCmd),
    /// Synthetic practices and patients in bulk, the same for the same seed.
    Seed(sandbox::SeedArgs),
    /// The sandbox's clock: move it to test expiry and cut-offs without waiting.
    #[command(subcommand)]
    Clock(sandbox::ClockCmd),
    /// Fault injection: rules that make the PFS endpoint slow, fail, or lose replies on
    /// purpose.
    #[command(subcommand)]
    Fault(fault::FaultCmd),
    /// Whether the server and its database answer.
    Health,
}

pub async fn run(a: Args) -> Result<()> {
    let api = Api::from_args(&a)?;
    let out = match a.what {
        What::Health => api.send("GET", "/health", None).await?,
        What::Provider(cmd) => provider::run(&api, cmd).await?,
        What::Practice(cmd) => practice::run(&api, cmd).await?,
        What::Patient(cmd) => patient::run(&api, cmd).await?,
        What::Account(cmd) => account::run(&api, cmd).await?,
        What::Proxy(cmd) => proxy::run(&api, cmd).await?,
        What::Service(cmd) => service::run(&api, cmd).await?,
        What::Session(cmd) => appointment::run_session(&api, cmd).await?,
        What::Appointment(cmd) => appointment::run(&api, cmd).await?,
        What::Course(cmd) => medication::run_course(&api, cmd).await?,
        What::Prescription(cmd) => medication::run_prescription(&api, cmd).await?,
        What::Demographics(cmd) => demographics::run(&api, cmd).await?,
        What::Pharmacy(cmd) => pharmacy::run(&api, cmd).await?,
        What::Message(cmd) => messaging::run(&api, cmd).await?,
        What::Record(cmd) => record::run(&api, cmd).await?,
        What::Document(cmd) => record::run_document(&api, cmd).await?,
        What::TestResult(cmd) => record::run_test_result(&api, cmd).await?,
        What::Clock(cmd) => sandbox::run_clock(&api, cmd).await?,
        What::Sandbox(cmd) => sandbox::run_sandbox(&api, cmd).await?,
        What::Seed(a) => sandbox::run_seed(&api, a).await?,
        What::Namespace(cmd) => namespace::run(&api, cmd).await?,
        What::Fault(cmd) => fault::run(&api, cmd).await?,
    };
    if !out.is_null() {
        println!("{}", serde_json::to_string_pretty(&out)?);
    }
    Ok(())
}

/// A client of the admin API.
pub(crate) struct Api {
    base: String,
    token: String,
    http: Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>,
}

/// One admin API call for another command (e.g. `pfs bench` adjusting practice rules), with the
/// URL and token of the server whose data directory is `data_dir`.
pub async fn request(
    data_dir: &std::path::Path,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> Result<Value> {
    Api::new(None, None, data_dir)?
        .send(method, path, body)
        .await
}

/// As [`request`], with a body sent as it is (e.g. a CSV) with `content_type`.
pub async fn request_text(
    data_dir: &std::path::Path,
    method: &str,
    path: &str,
    content_type: &str,
    body: String,
) -> Result<Value> {
    Api::new(None, None, data_dir)?
        .send_text(method, path, content_type, body)
        .await
}

/// As [`request`], with raw bytes as the body (a document's page).
pub async fn request_bytes(
    data_dir: &std::path::Path,
    method: &str,
    path: &str,
    body: Vec<u8>,
) -> Result<Value> {
    Api::new(None, None, data_dir)?
        .send_bytes(method, path, "application/octet-stream", body)
        .await
}

impl Api {
    fn from_args(a: &Args) -> Result<Self> {
        Api::new(a.url.as_deref(), a.token.as_deref(), &a.data_dir)
    }

    /// The admin API at `url` with `token`; each defaults to what the running server wrote in
    /// `data_dir`.
    pub(crate) fn new(
        url: Option<&str>,
        token: Option<&str>,
        data_dir: &std::path::Path,
    ) -> Result<Self> {
        let read = |name: &str| {
            let p = data_dir.join(name);
            std::fs::read_to_string(&p)
                .map(|s| s.trim().to_owned())
                .with_context(|| {
                    format!(
                        "cannot read {} (is the server running with --data-dir {}?)",
                        p.display(),
                        data_dir.display()
                    )
                })
        };
        let base = match url {
            Some(u) => u.trim_end_matches('/').to_owned(),
            None => read("admin-url")?,
        };
        let token = match token {
            Some(t) => t.to_owned(),
            None => read("admin-token")?,
        };
        Ok(Api {
            base,
            token,
            http: Client::builder(TokioExecutor::new()).build_http(),
        })
    }

    pub(crate) async fn send(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value> {
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        self.send_text(method, path, "application/json", body).await
    }

    /// A `GET` whose answer is a file: its bytes.
    async fn get_bytes(&self, path: &str) -> Result<Vec<u8>> {
        let req = http::Request::builder()
            .method("GET")
            .uri(format!("{}{path}", self.base))
            .header("authorization", format!("Bearer {}", self.token))
            .body(Full::new(Bytes::new()))?;
        let res = self
            .http
            .request(req)
            .await
            .with_context(|| format!("cannot reach the admin API at {}", self.base))?;
        let status = res.status();
        let bytes = res.into_body().collect().await?.to_bytes();
        if !status.is_success() {
            let value: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            let msg = value["message"].as_str().unwrap_or("").to_owned();
            bail!("{status}: {msg}");
        }
        Ok(bytes.to_vec())
    }

    /// Sends `body` as it is, with `content_type`.
    async fn send_text(
        &self,
        method: &str,
        path: &str,
        content_type: &str,
        body: String,
    ) -> Result<Value> {
        self.send_bytes(method, path, content_type, body.into_bytes())
            .await
    }

    /// Sends `body` as it is, with `content_type`; the reply as JSON.
    async fn send_bytes(
        &self,
        method: &str,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> Result<Value> {
        let (status, bytes) = self.exchange(method, path, content_type, body).await?;
        let value: Value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        if !status.is_success() {
            let msg = value["message"]
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| value.to_string());
            bail!("{status}: {msg}");
        }
        Ok(value)
    }

    /// GETs `path` and returns its body's bytes as they are (a document's page).
    async fn fetch_bytes(&self, path: &str) -> Result<Vec<u8>> {
        let (status, bytes) = self
            .exchange("GET", path, "application/json", Vec::new())
            .await?;
        if !status.is_success() {
            let value: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            let msg = value["message"].as_str().unwrap_or("no details").to_owned();
            bail!("{status}: {msg}");
        }
        Ok(bytes.to_vec())
    }

    async fn exchange(
        &self,
        method: &str,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> Result<(http::StatusCode, Bytes)> {
        let req = http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base))
            .header("authorization", format!("Bearer {}", self.token))
            .header("content-type", content_type)
            .body(Full::new(Bytes::from(body)))?;
        let res = self
            .http
            .request(req)
            .await
            .with_context(|| format!("cannot reach the admin API at {}", self.base))?;
        let status = res.status();
        let bytes = res.into_body().collect().await?.to_bytes();
        Ok((status, bytes))
    }
}

/// Percent-encodes a query value.
pub(super) fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
