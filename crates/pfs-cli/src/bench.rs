//! `pfs bench`: a closed-loop load generator over kept-alive mutual-TLS connections.
//!
//! Each worker owns one client (one connection) and sends its next request as soon as the last
//! reply arrived. Latencies go into an HDR histogram; replies that are `Error`s are counted as
//! failures. `--background-link N` keeps N more workers sending `LinkAccount` (argon2-bound)
//! at full tilt while the measured scenario runs.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use hdrhistogram::Histogram;
use pfs_client::{Client, LinkRequest};
use pfs_wire::{Element, Guid};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::call::Connection;

/// Options of `pfs bench`.
#[derive(clap::Args)]
pub struct Args {
    /// What to measure.
    #[arg(value_parser = ["authenticate", "patient-selected", "link-account", "check-version"])]
    scenario: String,
    /// Concurrent connections (one worker each).
    #[arg(long, short = 'c', default_value_t = 16)]
    connections: usize,
    /// Seconds to measure (after a one-second warm-up).
    #[arg(long, short = 'd', default_value_t = 10)]
    duration: u64,
    /// Extra connections sending LinkAccount at full tilt while measuring.
    #[arg(long, default_value_t = 0)]
    background_link: usize,
    /// The demo accounts file (from the server's data directory).
    #[arg(long, default_value = "pfs-data/demo/accounts.json")]
    accounts: std::path::PathBuf,
    #[command(flatten)]
    conn: Connection,
}

#[derive(Deserialize, Clone)]
#[serde(rename_all = "camelCase")]
struct DemoAccount {
    account_id: String,
    linkage_key: String,
    last_name: String,
    date_of_birth: chrono::NaiveDate,
    organisation_code: String,
}

/// A prepared request: type, optional suid, and a body factory (fresh uuid each time).
#[derive(Clone)]
struct Job {
    message_type: &'static str,
    suid: Option<String>,
    template: Element,
}

impl Job {
    fn body(&self) -> String {
        let mut el = self.template.clone();
        if let Some(slot) = el.attrs.iter_mut().find(|(k, _)| k == "uuid") {
            slot.1 = Guid::new_v4().to_string();
        }
        el.to_document()
    }
}

pub async fn run(a: Args) -> Result<()> {
    anyhow::ensure!(a.connections > 0, "--connections must be at least 1");
    let accounts: Vec<DemoAccount> = serde_json::from_slice(
        &std::fs::read(&a.accounts)
            .with_context(|| format!("cannot read {}", a.accounts.display()))?,
    )
    .context("accounts file is not the demo accounts.json format")?;
    anyhow::ensure!(
        accounts.len() >= 2,
        "the accounts file needs at least two accounts"
    );
    // The first account is used for sessions, the second for LinkAccount load, so that
    // re-linking under load never replaces the passphrase the sessions were opened with.
    let account = accounts[0].clone();
    let linker = accounts[1].clone();
    let provider_id = a.conn.provider_id()?;
    let setup = a.conn.client()?;

    // Link once to get a passphrase for this provider.
    let linked = setup
        .link_account(LinkRequest::register(
            &account.organisation_code,
            &account.last_name,
            account.date_of_birth,
            &account.account_id,
            SecretString::from(account.linkage_key.clone()),
        ))
        .await
        .context("linking the first demo account (has its linkage key expired?)")?;
    let passphrase = linked
        .passphrase
        .context("LinkAccount returned no passphrase")?;

    let application = Element::new("Application")
        .attr("name", "pfs-bench")
        .attr("version", "1")
        .attr("providerId", provider_id.clone())
        .attr("deviceType", "pfs-bench");
    let authenticate = Job {
        message_type: "Authenticate",
        suid: None,
        template: Element::new("Authenticate")
            .attr("apiVersion", "1")
            .attr("uuid", "")
            .attr("unitId", account.organisation_code.clone())
            .attr("accountId", account.account_id.clone())
            .attr("passphrase", passphrase.expose_secret())
            .attr("providerId", provider_id.clone())
            .child(application.clone()),
    };
    let link = Job {
        message_type: "LinkAccount",
        suid: None,
        template: Element::new("LinkAccount")
            .attr("apiVersion", "1")
            .attr("uuid", "")
            .attr("organisationCode", linker.organisation_code.clone())
            .attr("lastName", linker.last_name.clone())
            .attr(
                "dateOfBirth",
                pfs_wire::scalar::format_date_sortable(linker.date_of_birth),
            )
            .attr("accountId", linker.account_id.clone())
            // The right key: every request runs argon2 in full and links the account again.
            .attr("passphrase", linker.linkage_key.clone())
            .child(application.clone()),
    };

    let mut jobs = Vec::with_capacity(a.connections);
    for _ in 0..a.connections {
        let job = match a.scenario.as_str() {
            "authenticate" => authenticate.clone(),
            "link-account" => link.clone(),
            "check-version" => Job {
                message_type: "CheckVersion",
                suid: None,
                template: Element::new("CheckVersion")
                    .attr("apiVersion", "1")
                    .attr("uuid", "")
                    .child(application.clone()),
            },
            _ => {
                let reply = setup.raw("Authenticate", None, authenticate.body()).await?;
                let suid = reply
                    .suid
                    .clone()
                    .context("Authenticate returned no suid")?;
                let auth: pfs_wire::AuthenticateReply = reply.decode()?;
                Job {
                    message_type: "PatientSelected",
                    suid: Some(suid),
                    template: Element::new("PatientSelected")
                        .attr("apiVersion", "1")
                        .attr("uuid", "")
                        .attr("unitId", account.organisation_code.clone())
                        .attr("patientId", auth.online_user_id.clone())
                        .attr("onlineUserId", auth.online_user_id),
                }
            }
        };
        jobs.push(job);
    }

    let stop = Arc::new(AtomicBool::new(false));
    let recording = Arc::new(AtomicBool::new(false));
    let background_done = Arc::new(AtomicU64::new(0));
    let mut background = Vec::new();
    for _ in 0..a.background_link {
        let client = a.conn.client()?;
        let (job, stop, done) = (link.clone(), stop.clone(), background_done.clone());
        background.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                if client
                    .raw(job.message_type, None, job.body())
                    .await
                    .is_ok_and(|r| !r.is_error())
                {
                    done.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }

    let mut workers = Vec::new();
    for job in jobs {
        let client = a.conn.client()?;
        let (stop, recording) = (stop.clone(), recording.clone());
        workers.push(tokio::spawn(async move {
            worker(client, job, stop, recording).await
        }));
    }
    eprintln!(
        "{}: {} connections, {} s (+1 s warm-up){}",
        a.scenario,
        a.connections,
        a.duration,
        if a.background_link > 0 {
            format!(
                ", {} LinkAccount connections in the background",
                a.background_link
            )
        } else {
            String::new()
        }
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    recording.store(true, Ordering::Relaxed);
    let background_start = background_done.load(Ordering::Relaxed);
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(a.duration)).await;
    stop.store(true, Ordering::Relaxed);
    let elapsed = started.elapsed().as_secs_f64();
    let background_count = background_done.load(Ordering::Relaxed) - background_start;

    let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    let mut failures = 0u64;
    for w in workers {
        let (h, f) = w.await??;
        hist.add(h)?;
        failures += f;
    }
    for b in background {
        let _ = b.await;
    }
    let ms = |q: f64| hist.value_at_quantile(q) as f64 / 1000.0;
    println!(
        "{} ok/s: {:.0}  requests: {}  errors: {}  p50: {:.2} ms  p90: {:.2} ms  p99: {:.2} ms  max: {:.2} ms",
        a.scenario,
        hist.len() as f64 / elapsed,
        hist.len(),
        failures,
        ms(0.5),
        ms(0.9),
        ms(0.99),
        hist.max() as f64 / 1000.0
    );
    if a.background_link > 0 {
        println!(
            "background LinkAccount/s: {:.1}",
            background_count as f64 / elapsed
        );
    }
    if failures > 0 {
        bail!("{failures} requests failed");
    }
    Ok(())
}

async fn worker(
    client: Client,
    job: Job,
    stop: Arc<AtomicBool>,
    recording: Arc<AtomicBool>,
) -> Result<(Histogram<u64>, u64)> {
    let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    let mut failures = 0;
    while !stop.load(Ordering::Relaxed) {
        let body = job.body();
        let t = Instant::now();
        let reply = client
            .raw(job.message_type, job.suid.as_deref(), body)
            .await;
        let micros = t.elapsed().as_micros() as u64;
        if !recording.load(Ordering::Relaxed) {
            continue;
        }
        match reply {
            Ok(r) if !r.is_error() => hist.record(micros.max(1))?,
            _ => failures += 1,
        }
    }
    Ok((hist, failures))
}
