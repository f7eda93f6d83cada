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
use pfs_wire::{Element, Guid, MessageAttachment};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::call::Connection;

mod medication;
mod messaging;
mod pharmacy;
mod record;

/// Options of `pfs bench`.
#[derive(clap::Args)]
pub struct Args {
    /// What to measure.
    #[arg(value_parser = [
        "authenticate",
        "patient-selected",
        "link-account",
        "check-version",
        "view-appointments",
        "list-slots",
        "book-appointment",
        "list-repeat-medication",
        "request-medication",
        "pharmacy-search",
        "message-create",
        "message-create-attachment",
        "messages-view",
        "patient-record",
        "binary-data",
    ])]
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
    /// Sessions to open (Authenticate, on as many connections as `--connections`) and leave
    /// open before measuring, so that the server holds this many live sessions besides the
    /// run's own; the time taken is printed.
    #[arg(long, default_value_t = 0)]
    open_sessions: usize,
    /// The demo accounts file (from the server's data directory).
    #[arg(long, default_value = "pfs-data/demo/accounts.json")]
    accounts: std::path::PathBuf,
    /// The server's data directory: `book-appointment` raises the demo practice's limit of
    /// future appointments per patient and adds patients through its admin API.
    #[arg(long, default_value = "pfs-data")]
    data_dir: std::path::PathBuf,
    /// `book-appointment`, `request-medication`: how many patients the writes are spread over
    /// (the demo patients plus patients added for the run), so that no patient piles up
    /// thousands of bookings or courses.
    #[arg(long, default_value_t = 64)]
    patients: usize,
    /// `request-medication`: courses added to each patient for the run (each order takes one;
    /// a worker that runs out stops early, which the report shows as fewer orders).
    #[arg(long, default_value_t = 200)]
    courses: usize,
    /// `pharmacy-search`: pharmacies in the synthetic directory imported (through the admin
    /// API, timed) before measuring.
    #[arg(long, default_value_t = 15_000)]
    pharmacies: usize,
    /// `message-create-attachment`: the size of the PDF attached to each message, in bytes.
    #[arg(long, default_value_t = 1024 * 1024)]
    attachment_bytes: usize,
    /// `messages-view`: how many messages the patient has.
    #[arg(long, default_value_t = 200)]
    messages: usize,
    /// `patient-record`: events added to the bench patient's record before measuring.
    #[arg(long, default_value_t = 300)]
    record_events: usize,
    /// `patient-record`: items those events hold between them.
    #[arg(long, default_value_t = 1000)]
    record_items: usize,
    /// `binary-data`: size of the document fetched, in bytes.
    #[arg(long, default_value_t = 1024 * 1024)]
    document_bytes: usize,
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

/// A prepared request: type, optional suid, and a body factory (fresh uuid each time). A
/// booking job also holds the slots its worker books, one per request, and the patients it
/// books for in turn (each with their own session).
#[derive(Clone)]
struct Job {
    message_type: &'static str,
    suid: Option<String>,
    template: Element,
    slots: Vec<(String, String, String)>,
    bookers: Vec<Booker>,
    turn: usize,
    /// `request-medication`: (index into `bookers`, course id), one order each.
    orders: Vec<(usize, String)>,
    /// `pharmacy-search`: the postcodes searched, in turn.
    postcodes: Vec<String>,
}

/// One request of an operation: its type, suid and body.
struct Step {
    message_type: &'static str,
    suid: Option<String>,
    body: String,
}

/// A patient with an open session of their own.
#[derive(Clone)]
struct Booker {
    suid: String,
    patient_id: String,
}

impl Job {
    fn new(message_type: &'static str, suid: Option<String>, template: Element) -> Self {
        Job {
            message_type,
            suid,
            template,
            slots: Vec::new(),
            bookers: Vec::new(),
            turn: 0,
            orders: Vec::new(),
            postcodes: Vec::new(),
        }
    }

    /// The requests of the next operation (one, or for `request-medication` the list fetch and
    /// the order), or `None` when the worker has run out of slots or courses.
    fn next_op(&mut self) -> Option<Vec<Step>> {
        if self.message_type == "RequestMedication" {
            return medication::next_order(self);
        }
        let body = self.next_body()?;
        Some(vec![Step {
            message_type: self.message_type,
            suid: self.suid.clone(),
            body,
        }])
    }

    /// The next body, or `None` when a booking worker has run out of slots.
    fn next_body(&mut self) -> Option<String> {
        let mut el = self.template.clone();
        if self.message_type == "MessageCreate" && !self.bookers.is_empty() {
            let booker = &self.bookers[self.turn % self.bookers.len()];
            self.turn += 1;
            self.suid = Some(booker.suid.clone());
            set(&mut el, "patientId", booker.patient_id.clone());
            set(&mut el, "onlineUserId", booker.patient_id.clone());
        }
        if self.message_type == "BookAppointment" {
            let (session, start, end) = self.slots.pop()?;
            if !self.bookers.is_empty() {
                let booker = &self.bookers[self.turn % self.bookers.len()];
                self.turn += 1;
                self.suid = Some(booker.suid.clone());
                set(&mut el, "patientId", booker.patient_id.clone());
                set(&mut el, "onlineUserId", booker.patient_id.clone());
            }
            set(&mut el, "sessionId", session);
            set(&mut el, "startDate", start);
            set(&mut el, "endDate", end);
        }
        if !self.postcodes.is_empty() {
            let postcode = self.postcodes[self.turn % self.postcodes.len()].clone();
            self.turn += 1;
            set(&mut el, "postcode", postcode);
        }
        set(&mut el, "uuid", Guid::new_v4().to_string());
        Some(el.to_document())
    }

    fn body(&self) -> String {
        self.clone().next_body().unwrap_or_default()
    }
}

fn set(el: &mut Element, name: &str, value: String) {
    match el.attrs.iter_mut().find(|(k, _)| k == name) {
        Some(slot) => slot.1 = value,
        None => el.attrs.push((name.to_owned(), value)),
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
    let authenticate = Job::new(
        "Authenticate",
        None,
        Element::new("Authenticate")
            .attr("apiVersion", "1")
            .attr("uuid", "")
            .attr("unitId", account.organisation_code.clone())
            .attr("accountId", account.account_id.clone())
            .attr("passphrase", passphrase.expose_secret())
            .attr("providerId", provider_id.clone())
            .child(application.clone()),
    );
    let link = Job::new(
        "LinkAccount",
        None,
        Element::new("LinkAccount")
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
    );

    // Bookings are spread over many patients, as real bookings are (each booking counts the
    // patient's own future appointments); each worker books for its own share of them.
    let mut bookers = Vec::new();
    if matches!(
        a.scenario.as_str(),
        "book-appointment" | "request-medication" | "message-create" | "message-create-attachment"
    ) {
        let mut to_link = accounts.clone();
        let extra = a.patients.saturating_sub(accounts.len());
        to_link.extend(add_patients(&a, &account.organisation_code, extra).await?);
        for acc in &to_link {
            let linked = setup
                .link_account(LinkRequest::register(
                    &acc.organisation_code,
                    &acc.last_name,
                    acc.date_of_birth,
                    &acc.account_id,
                    SecretString::from(acc.linkage_key.clone()),
                ))
                .await
                .context("linking a bench patient's account")?;
            let pass = linked
                .passphrase
                .context("LinkAccount returned no passphrase")?;
            let session = setup
                .authenticate(&acc.organisation_code, &acc.account_id, &pass)
                .await?;
            let patient_id = session.online_user_id().to_owned();
            let suid = session.detach().expose_secret().to_owned();
            bookers.push(Booker { suid, patient_id });
        }
        eprintln!("{} patients with a session each", bookers.len());
    }

    let mut jobs = Vec::with_capacity(a.connections);
    if a.scenario.starts_with("message-create") {
        let probe = Job::new(
            "MessageRecipients",
            Some(bookers[0].suid.clone()),
            Element::new("MessageRecipients")
                .attr("unitId", account.organisation_code.clone())
                .attr("patientId", bookers[0].patient_id.clone())
                .attr("onlineUserId", bookers[0].patient_id.clone()),
        );
        let team = messaging::team(&setup, &probe).await?;
        let attachment = (a.scenario == "message-create-attachment").then(|| {
            MessageAttachment::from_bytes(
                "scan.pdf",
                "pdf",
                &messaging::bench_pdf(a.attachment_bytes),
            )
        });
        for i in 0..a.connections {
            jobs.push(messaging::create_job(
                &account.organisation_code,
                &bookers,
                i,
                a.connections,
                &team,
                attachment.as_ref(),
            ));
        }
    }
    for i in 0..a.connections {
        if a.scenario.starts_with("message-create") {
            break;
        }
        if a.scenario == "request-medication" {
            jobs.push(medication::order_job(
                &account.organisation_code,
                &bookers,
                i,
            ));
            continue;
        }
        if !bookers.is_empty() {
            let first = &bookers[i % bookers.len()];
            let template = Element::new("BookAppointment")
                .attr("apiVersion", "1")
                .attr("uuid", "")
                .attr("unitId", account.organisation_code.clone())
                .attr("patientId", first.patient_id.clone())
                .attr("onlineUserId", first.patient_id.clone());
            let mut job = Job::new("BookAppointment", Some(first.suid.clone()), template);
            // Worker i books for patients i, i + c, i + 2c, ...: no two workers share one.
            job.bookers = bookers
                .iter()
                .skip(i)
                .step_by(a.connections)
                .cloned()
                .collect();
            jobs.push(job);
            continue;
        }
        let job = match a.scenario.as_str() {
            "authenticate" => authenticate.clone(),
            "link-account" => link.clone(),
            "check-version" => Job::new(
                "CheckVersion",
                None,
                Element::new("CheckVersion")
                    .attr("apiVersion", "1")
                    .attr("uuid", "")
                    .child(application.clone()),
            ),
            scenario => {
                let reply = setup.raw("Authenticate", None, authenticate.body()).await?;
                let suid = reply
                    .suid
                    .clone()
                    .context("Authenticate returned no suid")?;
                let auth: pfs_wire::AuthenticateReply = reply.decode()?;
                let (message_type, extra): (&'static str, &[(&str, &str)]) = match scenario {
                    "view-appointments" => ("ViewAppointments", &[("futureAppointments", "Y")]),
                    "list-slots" => ("ListSlots", &[("numberOfDays", "7")]),
                    "list-repeat-medication" => ("ListRepeatMedication", &[]),
                    "pharmacy-search" => ("RequestCommunityPharmacy", &[]),
                    "messages-view" => ("MessagesView", &[]),
                    "patient-record" => ("RequestPatientRecord", &[]),
                    "binary-data" => ("RequestBinaryData", &[]),
                    _ => ("PatientSelected", &[]),
                };
                let mut template = Element::new(message_type)
                    .attr("apiVersion", "1")
                    .attr("uuid", "")
                    .attr("unitId", account.organisation_code.clone())
                    .attr("patientId", auth.online_user_id.clone())
                    .attr("onlineUserId", auth.online_user_id);
                for (k, v) in extra {
                    template = template.attr(k, *v);
                }
                if scenario == "list-slots" {
                    // From now: a past start reads as now (as `pfs call` sends it).
                    let now = chrono::Utc::now().naive_utc();
                    template =
                        template.attr("startDate", pfs_wire::scalar::format_request_time(now));
                }
                let mut job = Job::new(message_type, Some(suid), template);
                if scenario == "pharmacy-search" {
                    pharmacy::give_postcodes(&mut job, i, a.pharmacies);
                }
                job
            }
        };
        jobs.push(job);
    }

    match a.scenario.as_str() {
        "book-appointment" => deal_slots(&a, &setup, &mut jobs).await?,
        // Something to view: the patient holds three future appointments.
        "view-appointments" => book_a_few(&setup, &jobs[0], 3).await?,
        // The figure: a patient with 12 current repeat courses.
        "list-repeat-medication" => medication::give_courses(&a, &setup, &jobs[0], 12).await?,
        "request-medication" => medication::deal_courses(&a, &bookers, &mut jobs).await?,
        "pharmacy-search" => pharmacy::import(&a).await?,
        // The figure: a patient with 200 messages.
        "messages-view" => {
            let team = messaging::team(&setup, &jobs[0]).await?;
            messaging::give_messages(&setup, &jobs[0], a.messages, &team).await?;
        }
        "patient-record" => record::give_record(&a, &jobs[0]).await?,
        "binary-data" => record::give_document(&a, &mut jobs).await?,
        _ => {}
    }

    if a.open_sessions > 0 {
        open_sessions(&a, &authenticate).await?;
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
    let mut ran_out_workers = 0usize;
    for w in workers {
        let (h, f, out) = w.await??;
        hist.add(h)?;
        failures += f;
        ran_out_workers += usize::from(out);
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
    match a.scenario.as_str() {
        "book-appointment" => check_no_double_bookings(&a).await?,
        "request-medication" => medication::check_no_double_orders(&a).await?,
        _ => {}
    }
    if failures > 0 {
        bail!("{failures} requests failed");
    }
    if ran_out_workers > 0 {
        bail!(
            "{ran_out_workers} workers ran out of work before the end, so the rate above \
             counts idle time: give more (--patients, --courses) or a shorter --duration"
        );
    }
    Ok(())
}

/// Opens `--open-sessions` sessions of the first account and leaves them open, over
/// `--connections` connections at once; prints how long it took.
async fn open_sessions(a: &Args, authenticate: &Job) -> Result<()> {
    let started = Instant::now();
    let per = a.open_sessions.div_ceil(a.connections);
    let mut openers = Vec::new();
    for i in 0..a.connections {
        let n = per.min(a.open_sessions.saturating_sub(i * per));
        let (client, job) = (a.conn.client()?, authenticate.clone());
        openers.push(tokio::spawn(async move {
            for _ in 0..n {
                let reply = client.raw(job.message_type, None, job.body()).await?;
                anyhow::ensure!(
                    !reply.is_error(),
                    "Authenticate failed while opening sessions"
                );
            }
            anyhow::Ok(())
        }));
    }
    for o in openers {
        o.await??;
    }
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "open-sessions: {}  seconds: {seconds:.1}  per second: {:.0}",
        a.open_sessions,
        a.open_sessions as f64 / seconds
    );
    Ok(())
}

async fn worker(
    client: Client,
    job: Job,
    stop: Arc<AtomicBool>,
    recording: Arc<AtomicBool>,
) -> Result<(Histogram<u64>, u64, bool)> {
    let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    let mut failures = 0;
    let mut ran_out = false;
    let mut job = job;
    while !stop.load(Ordering::Relaxed) {
        let Some(steps) = job.next_op() else {
            // Out of slots or orders before the end: the rate would count idle time.
            ran_out = true;
            break;
        };
        let t = Instant::now();
        let mut ok = true;
        for step in steps {
            let reply = client
                .raw(step.message_type, step.suid.as_deref(), step.body)
                .await;
            if !matches!(reply, Ok(r) if !r.is_error()) {
                ok = false;
                break;
            }
        }
        let micros = t.elapsed().as_micros() as u64;
        if !recording.load(Ordering::Relaxed) {
            continue;
        }
        if ok {
            hist.record(micros.max(1))?;
        } else {
            failures += 1;
        }
    }
    Ok((hist, failures, ran_out))
}

/// The free slots of the next eight weeks, as (sessionId, start, end) in the booking form.
async fn free_slots(client: &Client, job: &Job) -> Result<Vec<(String, String, String)>> {
    let attr = |name: &str| job.template.get(name).unwrap_or_default().to_owned();
    let list = Element::new("ListSlots")
        .attr("apiVersion", "1")
        .attr("uuid", Guid::new_v4().to_string())
        .attr("unitId", attr("unitId"))
        .attr("patientId", attr("patientId"))
        .attr("onlineUserId", attr("onlineUserId"))
        .attr(
            "startDate",
            pfs_wire::scalar::format_request_time(chrono::Utc::now().naive_utc()),
        )
        .attr("numberOfDays", "56");
    let reply: pfs_wire::ListSlotsReply = client
        .raw("ListSlots", job.suid.as_deref(), list.to_document())
        .await?
        .decode()?;
    Ok(reply
        .sessions
        .iter()
        .flat_map(|s| {
            s.slots.iter().map(|slot| {
                (
                    s.session_id.clone(),
                    pfs_wire::scalar::format_booking(slot.start_date),
                    pfs_wire::scalar::format_booking(slot.end_date),
                )
            })
        })
        .collect())
}

/// Makes sure the job's patient holds at least `n` future appointments, booking free slots for
/// what is missing (so the scenario can be run again against the same server).
async fn book_a_few(client: &Client, job: &Job, n: usize) -> Result<()> {
    let held = client
        .raw("ViewAppointments", job.suid.as_deref(), job.body())
        .await?
        .decode::<pfs_wire::ViewAppointmentsReply>()?
        .appointments
        .len();
    let mut booking = Job::new("BookAppointment", job.suid.clone(), job.template.clone());
    booking.template.name = "BookAppointment".into();
    booking
        .template
        .attrs
        .retain(|(k, _)| k != "futureAppointments");
    booking.slots = free_slots(client, job)
        .await?
        .into_iter()
        .take(n.saturating_sub(held))
        .collect();
    while let Some(body) = booking.next_body() {
        let reply = client
            .raw("BookAppointment", job.suid.as_deref(), body)
            .await?;
        anyhow::ensure!(
            !reply.is_error(),
            "booking for the benchmark failed: {}",
            reply.body
        );
    }
    Ok(())
}

/// Lifts the demo practice's per-patient limit (bookings pile up during the run) and deals every
/// free slot of the next eight weeks out to the booking workers, one slot per request, so that
/// every booking is for a distinct, free slot.
async fn deal_slots(a: &Args, client: &Client, jobs: &mut [Job]) -> Result<()> {
    let first = jobs.first().context("no workers")?;
    let ods = first.template.get("unitId").unwrap_or_default().to_owned();
    crate::admin::request(
        &a.data_dir,
        "PUT",
        &format!("/api/practices/{ods}/settings"),
        Some(serde_json::json!({"maxFutureAppointments": 1_000_000, "bookingWindowDays": 56})),
    )
    .await
    .context("raising the practice's appointment limit through the admin API")?;
    // Enough slots for a long run: 50 days x 5 sessions x 240 one-minute slots.
    let today = chrono::Utc::now().date_naive();
    for day in 1..=50 {
        for (k, hour) in [0u32, 4, 8, 12, 16].into_iter().enumerate() {
            let start = (today + chrono::Days::new(day))
                .and_hms_opt(hour, 0, 0)
                .context("time")?;
            crate::admin::request(
                &a.data_dir,
                "POST",
                &format!("/api/practices/{ods}/sessions"),
                Some(serde_json::json!({
                    "sessionType": "Bench clinic",
                    "staffDetails": format!("Bench clinician {k}"),
                    "location": "Main site",
                    "slotType": "Routine",
                    "start": start.format("%Y-%m-%dT%H:%M").to_string(),
                    "slotMinutes": 1,
                    "slotCount": 240,
                })),
            )
            .await
            .context("adding bench sessions through the admin API")?;
        }
    }
    let mut slots = free_slots(client, first).await?;
    anyhow::ensure!(!slots.is_empty(), "the practice has no free slots to book");
    let workers = jobs.len();
    for (i, slot) in slots.drain(..).enumerate() {
        jobs[i % workers].slots.push(slot);
    }
    eprintln!(
        "{} free slots dealt to {workers} workers",
        jobs.iter().map(|j| j.slots.len()).sum::<usize>()
    );
    Ok(())
}

/// Adds `n` patients to practice `ods` through the admin API, each with an online account, and
/// returns their linkage details.
async fn add_patients(a: &Args, ods: &str, n: usize) -> Result<Vec<DemoAccount>> {
    let date_of_birth = chrono::NaiveDate::from_ymd_opt(1980, 1, 1).context("date")?;
    // NHS numbers in a range of their own, different on every run (patients accumulate).
    let base = 900_000_000 + (chrono::Utc::now().timestamp() as u64 % 1_000_000) * 90;
    let mut added = Vec::with_capacity(n);
    let mut candidate = base;
    while added.len() < n {
        candidate += 1;
        let Some(nhs_number) = pfs_core::nhs::complete(&format!("{candidate:09}")) else {
            continue;
        };
        let last_name = format!("Bench{}", added.len());
        let patient = crate::admin::request(
            &a.data_dir,
            "POST",
            "/api/patients",
            Some(serde_json::json!({
                "ods": ods,
                "nhsNumber": nhs_number,
                "firstName": "Pat",
                "lastName": last_name,
                "dateOfBirth": date_of_birth.to_string(),
                "gender": "Unknown",
                "address": "1 Bench Street, Leeds LS1 1AA",
            })),
        )
        .await
        .context("adding a bench patient through the admin API")?;
        let id = patient["id"].as_str().context("patient without id")?;
        let issued = crate::admin::request(
            &a.data_dir,
            "POST",
            &format!("/api/patients/{id}/account"),
            None,
        )
        .await
        .context("issuing a bench patient's account")?;
        let field = |name: &str| issued[name].as_str().map(str::to_owned);
        added.push(DemoAccount {
            account_id: field("accountId").context("no accountId")?,
            linkage_key: field("linkageKey").context("no linkageKey")?,
            last_name,
            date_of_birth,
            organisation_code: ods.to_owned(),
        });
    }
    Ok(added)
}

/// Reads every booking of the next eight weeks back through the admin API and fails if two
/// live appointments share a slot.
async fn check_no_double_bookings(a: &Args) -> Result<()> {
    let accounts: Vec<DemoAccount> = serde_json::from_slice(&std::fs::read(&a.accounts)?)?;
    let ods = &accounts.first().context("no accounts")?.organisation_code;
    let today = chrono::Utc::now().date_naive();
    let to = today + chrono::Days::new(60);
    let list = crate::admin::request(
        &a.data_dir,
        "GET",
        &format!("/api/practices/{ods}/appointments?from={today}&to={to}"),
        None,
    )
    .await?;
    let list = list
        .as_array()
        .context("the bookings list is not an array")?;
    let slots: std::collections::HashSet<(String, String)> = list
        .iter()
        .map(|x| (x["sessionId"].to_string(), x["start"].to_string()))
        .collect();
    let doubles = list.len() - slots.len();
    println!(
        "live appointments: {}  distinct slots: {}  double bookings: {doubles}",
        list.len(),
        slots.len()
    );
    anyhow::ensure!(doubles == 0, "{doubles} slots are booked twice");
    Ok(())
}
