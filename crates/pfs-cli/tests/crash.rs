//! Crash safety: `pfs serve --demo` as a real process, a mixed write load from several
//! concurrent clients over the real wire, `kill -9` in the middle of it, a restart on the same
//! data directory (SQLite) or database (PostgreSQL), and then:
//!
//! * every acknowledged `Authenticate` is a session that still answers (sessions are stored);
//! * the passphrase of the last acknowledged `LinkAccount` of each account still authenticates
//!   (unless a later `LinkAccount` of that account got no answer, which may have replaced it);
//! * every acknowledged `BookAppointment` is there, booked by its patient, unless its
//!   cancellation was acknowledged (then it stayed cancelled) or was still in flight (either);
//! * a booking in flight at the kill may or may not be there; a refused one is not;
//! * `ViewAppointments` of each patient lists exactly the appointments the practice lists;
//! * nothing is half-written, read from the database itself once the server is down: no slot
//!   holds two live appointments, and each patient has exactly as many "Booked appointment"
//!   access-log entries as appointment rows and as many "Cancelled appointment" entries as
//!   cancelled rows (a booking or cancellation writes both in one transaction); on SQLite the
//!   file also passes `integrity_check` and `foreign_key_check`.
//!
//! Each worker keeps a ledger of the writes it sent: acknowledged (a reply came), refused (a
//! PFS `Error` reply other than `9010`), or in doubt (no reply: the server died with the
//! request in flight; or `9010`, a database failure whose outcome the client cannot know).
//! The load runs until some bookings are acknowledged (bounded) and a second more; no
//! assertion is about speed.
//!
//! The PostgreSQL test is ignored unless run with `--include-ignored` (or `--ignored`), and
//! then fails when `PFS_TEST_POSTGRES_URL` is unset.

mod common;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use chrono::{NaiveDate, NaiveDateTime};
use pfs_client::pfs_wire::{
    Header, PatientScope, PatientSelected, PatientSelectedReply, UpperYesNo, ViewAppointments,
    ViewAppointmentsReply, WireMessage,
};
use pfs_client::{Application, Client, ExposeSecret, SecretString, Session};
use pfs_store::pg_testing::{TestSchema, required_test_url};
use pfs_testkit::{DemoAccount, TestServer};
use serde_json::Value;

const PFS: &str = env!("CARGO_BIN_EXE_pfs");

/// How long a process may take to migrate, seed and listen (debug build, busy machine).
const STARTUP: Duration = Duration::from_secs(60);
/// Concurrent clients, each acting for a demo account of its own.
const WORKERS: usize = 6;
/// Appointment sessions added for the load, one a day, each of `SLOTS_PER_SESSION` one-minute
/// slots from 20:00 UK time (clear of the demo's daytime sessions and of clock changes).
const SESSIONS: u64 = 10;
const SLOTS_PER_SESSION: i64 = 240;
/// The load runs until this many bookings were acknowledged (or `PROGRESS_BOUND` passed), then
/// for `MORE_LOAD`, and the server is killed while it runs.
const MIN_ACKNOWLEDGED_BOOKINGS: usize = 30;
const PROGRESS_BOUND: Duration = Duration::from_secs(60);
const MORE_LOAD: Duration = Duration::from_secs(1);
/// Each worker links and authenticates again every `RELINK_EVERY` bookings (a new session
/// each time), and cancels its oldest live booking after every `CANCEL_EVERY`th.
const RELINK_EVERY: usize = 10;
const CANCEL_EVERY: usize = 3;
/// The most requests a worker sends: the load is bounded even if the kill never came.
const MAX_ITERATIONS: usize = 5_000;
/// How long a client waits for any one reply.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_kill_9_on_sqlite() {
    crash_and_check(&Backend::Sqlite, &[]).await;
}

/// The same with `synchronous = FULL` (an fsync per commit), which a process crash cannot tell
/// apart from the default.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_kill_9_on_sqlite_with_synchronous_full() {
    crash_and_check(&Backend::Sqlite, &["--sqlite-synchronous", "full"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: set PFS_TEST_POSTGRES_URL and run with --include-ignored"]
async fn acknowledged_writes_survive_kill_9_on_postgres() {
    let schema = TestSchema::create(&required_test_url()).await;
    crash_and_check(&Backend::Postgres(schema.url().to_owned()), &[]).await;
    drop(schema);
}

enum Backend {
    /// `pfs.db` in the data directory.
    Sqlite,
    /// This database URL (a test schema's).
    Postgres(String),
}

/// The whole scenario: start, load, kill -9, restart, check through the wire, stop, check the
/// database.
async fn crash_and_check(backend: &Backend, extra: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let first_args: Vec<&str> = ["--demo"].iter().chain(extra).copied().collect();
    let server = Server::start(&data_dir, backend, &first_args);

    let demo_dir = data_dir.join("demo");
    let provider = Provider::read(&demo_dir);
    let accounts: Vec<DemoAccount> =
        serde_json::from_str(&std::fs::read_to_string(demo_dir.join("accounts.json")).unwrap())
            .expect("demo/accounts.json");
    assert!(accounts.len() >= WORKERS, "a demo account per worker");
    let ods = accounts[0].organisation_code.clone();

    // As `pfs bench book-appointment` does: lift the per-patient limit, add sessions of slots.
    server.admin(&[
        "practice",
        "settings",
        &ods,
        "--max-future-appointments",
        "1000000",
    ]);
    let first_day = chrono::Utc::now().date_naive() + chrono::Days::new(2);
    let last_day = first_day + chrono::Days::new(SESSIONS);
    let slots = add_sessions(&server, &ods, first_day);

    // Deal the slots out: worker w books slots w, w + WORKERS, … (no two workers share one).
    let stop = Arc::new(AtomicBool::new(false));
    let acknowledged = Arc::new(AtomicUsize::new(0));
    let mut workers = Vec::new();
    for (w, account) in accounts.iter().take(WORKERS).enumerate() {
        let mut own: Vec<Slot> = slots.iter().skip(w).step_by(WORKERS).cloned().collect();
        own.reverse(); // popped from the end: earliest first
        let worker = Worker {
            client: server.client(&provider),
            account: account.clone(),
            slots: own,
            stop: stop.clone(),
            acknowledged: acknowledged.clone(),
        };
        workers.push(tokio::spawn(worker.run()));
    }

    // Let the load run, then kill the server in the middle of it.
    let deadline = Instant::now() + PROGRESS_BOUND;
    while acknowledged.load(Ordering::Relaxed) < MIN_ACKNOWLEDGED_BOOKINGS
        && Instant::now() < deadline
        && !workers.iter().all(|w| w.is_finished())
    {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(MORE_LOAD).await;
    server.kill_9();
    stop.store(true, Ordering::Relaxed);
    let mut ledgers = Vec::new();
    for worker in workers {
        let ledger = tokio::time::timeout(REQUEST_TIMEOUT * 2, worker)
            .await
            .expect("a worker stops once the server is gone")
            .expect("worker task");
        ledgers.push(ledger);
    }
    let summary = Summary::of(&ledgers);
    eprintln!("at the kill: {summary:?}");
    assert!(
        summary.booked > 0 && summary.cancelled > 0 && summary.sessions > 0,
        "the load acknowledged bookings, cancellations and sessions before the kill: {summary:?}"
    );
    for ledger in &ledgers {
        assert!(ledger.anomalies.is_empty(), "{:?}", ledger.anomalies);
    }

    // Restart on the same data and check through the wire.
    let server = Server::start(&data_dir, backend, extra);
    let client = server.client(&provider);
    check_sessions_and_links(&client, &ods, &accounts, &ledgers).await;
    let live = server.admin(&[
        "appointment",
        "list",
        &ods,
        "--from",
        &first_day.to_string(),
        "--to",
        &last_day.to_string(),
    ]);
    check_bookings(&live, &slots, &ledgers);
    check_view_appointments(&client, &ods, &live, &ledgers).await;

    // Stop it (killed again) and read the database itself.
    server.kill_9();
    let state = match backend {
        Backend::Sqlite => DbState::read_sqlite(&data_dir.join("pfs.db")),
        Backend::Postgres(url) => DbState::read_postgres(url).await,
    };
    state.check(&ledgers);
}

// --- the load ----------------------------------------------------------------------------------

/// One bookable slot, in UK wall-clock time as the wire speaks it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Slot {
    session_id: String,
    start: NaiveDateTime,
    end: NaiveDateTime,
}

/// Adds `SESSIONS` sessions through the admin API, one a day from `first_day`; their slots.
fn add_sessions(server: &Server, ods: &str, first_day: NaiveDate) -> Vec<Slot> {
    let mut slots = Vec::new();
    for day in 0..SESSIONS {
        let start = (first_day + chrono::Days::new(day))
            .and_hms_opt(20, 0, 0)
            .unwrap();
        let added = server.admin(&[
            "session",
            "add",
            "--ods",
            ods,
            "--session-type",
            "Crash clinic",
            "--staff",
            "Dr K Nine",
            "--location",
            "Main site",
            "--slot-type",
            "Routine",
            "--start",
            &start.format("%Y-%m-%dT%H:%M").to_string(),
            "--slot-minutes",
            "1",
            "--slot-count",
            &SLOTS_PER_SESSION.to_string(),
        ]);
        let id = added["id"].as_str().expect("a session id").to_owned();
        for k in 0..SLOTS_PER_SESSION {
            let at = start + chrono::Duration::minutes(k);
            slots.push(Slot {
                session_id: id.clone(),
                start: at,
                end: at + chrono::Duration::minutes(1),
            });
        }
    }
    slots
}

/// What became of a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// Its reply came: it is committed.
    Acknowledged,
    /// A PFS `Error` reply other than `9010`: nothing was written.
    Refused,
    /// No reply (the server died with it in flight), or `9010`: it may or may not be there.
    InDoubt,
}

impl Outcome {
    fn of<T>(result: &pfs_client::Result<T>) -> Outcome {
        match result {
            Ok(_) => Outcome::Acknowledged,
            Err(e) => match e.code() {
                Some("9010") | None => Outcome::InDoubt,
                Some(_) => Outcome::Refused,
            },
        }
    }
}

/// Whether the server can no longer be reached: no PFS reply at all.
fn server_gone<T>(result: &pfs_client::Result<T>) -> bool {
    matches!(result, Err(e) if e.code().is_none())
}

/// A booking a worker sent, and the cancellation it sent for it, if any.
#[derive(Debug)]
struct Booking {
    slot: Slot,
    outcome: Outcome,
    /// The appointment id (from `ViewAppointments`) and the cancellation's outcome.
    cancel: Option<(String, Outcome)>,
}

/// Everything one worker sent, by outcome.
#[derive(Debug, Default)]
struct Ledger {
    /// The account's online user id (its own patient id), once an `Authenticate` succeeded.
    user: Option<String>,
    account_id: String,
    /// The suids of acknowledged `Authenticate`s.
    sessions: Vec<SecretString>,
    /// `Authenticate`s without a definitive answer.
    sessions_in_doubt: usize,
    /// The passphrase of the last acknowledged `LinkAccount`.
    passphrase: Option<SecretString>,
    /// A `LinkAccount` after that one had no definitive answer (it may have replaced it).
    link_in_doubt_since: bool,
    links: usize,
    bookings: Vec<Booking>,
    /// What went wrong while the server was up (an acknowledged booking missing from
    /// `ViewAppointments`, a refused write): reported by the test.
    anomalies: Vec<String>,
}

struct Worker {
    client: Client,
    account: DemoAccount,
    /// Its share of the slots, the next one last.
    slots: Vec<Slot>,
    stop: Arc<AtomicBool>,
    acknowledged: Arc<AtomicUsize>,
}

impl Worker {
    /// Links and authenticates, books, now and then cancels, links and authenticates again,
    /// until told to stop, out of slots, or the server is gone.
    async fn run(mut self) -> Ledger {
        let mut ledger = Ledger {
            account_id: self.account.account_id.clone(),
            ..Ledger::default()
        };
        let mut session: Option<Session> = None;
        for i in 0..MAX_ITERATIONS {
            if self.stop.load(Ordering::Relaxed) {
                break;
            }
            if i % RELINK_EVERY == 0 {
                match self.link_and_authenticate(&mut ledger).await {
                    Ok(Some(new)) => {
                        if let Some(old) = session.replace(new) {
                            // Not logged off: every acknowledged session must outlive the crash.
                            drop(old.detach());
                        }
                    }
                    Ok(None) => {}
                    Err(Gone) => break,
                }
            }
            let Some(s) = &session else { break };
            let Some(slot) = self.slots.pop() else { break };
            let result = s
                .book_appointment(&slot.session_id, slot.start, slot.end, None)
                .await;
            let outcome = Outcome::of(&result);
            if outcome == Outcome::Acknowledged {
                self.acknowledged.fetch_add(1, Ordering::Relaxed);
            } else if outcome == Outcome::Refused {
                ledger.anomalies.push(format!(
                    "booking {slot:?} refused: {:?}",
                    result.as_ref().err()
                ));
            }
            ledger.bookings.push(Booking {
                slot,
                outcome,
                cancel: None,
            });
            if server_gone(&result) {
                break;
            }
            if i % CANCEL_EVERY == CANCEL_EVERY - 1 && self.cancel_oldest(s, &mut ledger).await {
                break;
            }
        }
        if let Some(s) = session {
            drop(s.detach());
        }
        ledger
    }

    /// `LinkAccount` then `Authenticate`, both recorded; the new session, if acknowledged.
    async fn link_and_authenticate(&self, ledger: &mut Ledger) -> Result<Option<Session>, Gone> {
        ledger.links += 1;
        let linked = self
            .client
            .link_account(TestServer::register(&self.account))
            .await;
        let gone = server_gone(&linked);
        match Outcome::of(&linked) {
            Outcome::Acknowledged => {
                let passphrase = linked.unwrap().passphrase;
                assert!(passphrase.is_some(), "LinkAccount gives a passphrase");
                ledger.passphrase = passphrase;
                ledger.link_in_doubt_since = false;
            }
            Outcome::InDoubt => ledger.link_in_doubt_since = true,
            Outcome::Refused => ledger
                .anomalies
                .push(format!("LinkAccount refused: {:?}", linked.as_ref().err())),
        }
        if gone {
            return Err(Gone);
        }
        let Some(passphrase) = ledger.passphrase.clone() else {
            return Ok(None);
        };
        let opened = self
            .client
            .authenticate(
                &self.account.organisation_code,
                &self.account.account_id,
                &passphrase,
            )
            .await;
        let gone = server_gone(&opened);
        match opened {
            Ok(session) => {
                ledger.user = Some(session.online_user_id().to_owned());
                ledger.sessions.push(session.suid().clone());
                Ok(Some(session))
            }
            Err(_) if gone => {
                ledger.sessions_in_doubt += 1;
                Err(Gone)
            }
            Err(e) => {
                if e.code() == Some("9010") {
                    ledger.sessions_in_doubt += 1;
                } else {
                    ledger.anomalies.push(format!("Authenticate refused: {e}"));
                }
                Ok(None)
            }
        }
    }

    /// Cancels the oldest acknowledged booking not yet cancelled, finding its id with
    /// `ViewAppointments`; whether the server is gone.
    async fn cancel_oldest(&self, s: &Session, ledger: &mut Ledger) -> bool {
        let Some(k) = ledger
            .bookings
            .iter()
            .position(|b| b.outcome == Outcome::Acknowledged && b.cancel.is_none())
        else {
            return false;
        };
        let viewed = s.view_appointments(true).await;
        if server_gone(&viewed) {
            return true;
        }
        let slot = &ledger.bookings[k].slot;
        let found = viewed.as_ref().ok().and_then(|v| {
            v.appointments
                .iter()
                .find(|a| a.start_date == slot.start && a.end_date == slot.end)
        });
        let Some(id) = found.map(|a| a.appt_id.clone()) else {
            let why = format!(
                "acknowledged booking {slot:?} not in ViewAppointments: {:?}",
                viewed.err()
            );
            ledger.anomalies.push(why);
            return false;
        };
        let result = s.cancel_appointment(&id).await;
        let outcome = Outcome::of(&result);
        if outcome == Outcome::Refused {
            ledger
                .anomalies
                .push(format!("cancellation refused: {:?}", result.as_ref().err()));
        }
        ledger.bookings[k].cancel = Some((id, outcome));
        server_gone(&result)
    }
}

/// The server no longer answers.
struct Gone;

/// Counts over all ledgers, for the assertion that the load did something and for the log.
#[derive(Debug, Default)]
#[allow(dead_code)] // read through Debug
struct Summary {
    sessions: usize,
    sessions_in_doubt: usize,
    links: usize,
    booked: usize,
    bookings_in_doubt: usize,
    cancelled: usize,
    cancellations_in_doubt: usize,
}

impl Summary {
    fn of(ledgers: &[Ledger]) -> Summary {
        let mut s = Summary::default();
        for l in ledgers {
            s.sessions += l.sessions.len();
            s.sessions_in_doubt += l.sessions_in_doubt;
            s.links += l.links;
            for b in &l.bookings {
                match b.outcome {
                    Outcome::Acknowledged => s.booked += 1,
                    Outcome::InDoubt => s.bookings_in_doubt += 1,
                    Outcome::Refused => {}
                }
                match b.cancel {
                    Some((_, Outcome::Acknowledged)) => s.cancelled += 1,
                    Some((_, Outcome::InDoubt)) => s.cancellations_in_doubt += 1,
                    _ => {}
                }
            }
        }
        s
    }
}

// --- the checks after the restart -----------------------------------------------------------

/// Every acknowledged session still answers; the last acknowledged passphrase still opens one.
async fn check_sessions_and_links(
    client: &Client,
    ods: &str,
    accounts: &[DemoAccount],
    ledgers: &[Ledger],
) {
    for ledger in ledgers {
        let Some(user) = &ledger.user else { continue };
        for suid in &ledger.sessions {
            let reply: pfs_client::Result<PatientSelectedReply> =
                send_in(client, suid, &patient_selected(ods, user)).await;
            if let Err(e) = reply {
                panic!("an acknowledged session no longer answers after the restart: {e}");
            }
        }
        if let (Some(passphrase), false) = (&ledger.passphrase, ledger.link_in_doubt_since) {
            let account = accounts
                .iter()
                .find(|a| a.account_id == ledger.account_id)
                .unwrap();
            let session = client
                .authenticate(ods, &account.account_id, passphrase)
                .await
                .expect("the last acknowledged LinkAccount's passphrase still authenticates");
            drop(session.detach());
        }
    }
}

/// Each slot a worker tried to book holds what its ledger allows, and no appointment in the
/// added sessions is one nobody tried to book.
fn check_bookings(live: &Value, slots: &[Slot], ledgers: &[Ledger]) {
    let sessions: HashSet<&str> = slots.iter().map(|s| s.session_id.as_str()).collect();
    // The live appointments in the added sessions, by slot: (id, patient).
    let mut held: HashMap<(String, String), (String, String)> = HashMap::new();
    for a in live.as_array().expect("a list of appointments") {
        let text = |k: &str| a[k].as_str().unwrap_or_else(|| panic!("{k} in {a}"));
        if !sessions.contains(text("sessionId")) {
            continue;
        }
        let slot = (text("sessionId").to_owned(), text("startLocal").to_owned());
        let previous = held.insert(slot, (text("id").to_owned(), text("patientId").to_owned()));
        assert!(previous.is_none(), "two live appointments in one slot: {a}");
    }
    let mut tried = HashSet::new();
    for ledger in ledgers {
        for b in &ledger.bookings {
            let key = (
                b.slot.session_id.clone(),
                b.slot.start.format("%Y-%m-%dT%H:%M").to_string(),
            );
            tried.insert(key.clone());
            let there = held.get(&key);
            if let Some((_, patient)) = there {
                assert_eq!(
                    Some(patient),
                    ledger.user.as_ref(),
                    "{:?} is held by another patient",
                    b.slot
                );
            }
            match (b.outcome, &b.cancel) {
                (Outcome::Acknowledged, Some((id, Outcome::Acknowledged))) => assert!(
                    there.is_none(),
                    "acknowledged cancellation of {id} undone by the crash"
                ),
                (Outcome::Acknowledged, Some((id, Outcome::InDoubt))) => {
                    if let Some((held_id, _)) = there {
                        assert_eq!(held_id, id, "{:?}", b.slot);
                    }
                }
                (Outcome::Acknowledged, _) => assert!(
                    there.is_some(),
                    "acknowledged booking {:?} lost in the crash",
                    b.slot
                ),
                (Outcome::Refused, _) => {
                    assert!(there.is_none(), "refused booking {:?} is there", b.slot)
                }
                (Outcome::InDoubt, _) => {} // either way; completeness is checked in the database
            }
        }
    }
    for slot in held.keys() {
        assert!(tried.contains(slot), "{slot:?} booked by nobody's request");
    }
}

/// `ViewAppointments` of each worker's patient, through one of its sessions, lists exactly the
/// appointments the practice's listing holds for them (their only appointments).
async fn check_view_appointments(client: &Client, ods: &str, live: &Value, ledgers: &[Ledger]) {
    for ledger in ledgers {
        let (Some(user), Some(suid)) = (&ledger.user, ledger.sessions.last()) else {
            continue;
        };
        let listed: HashSet<&str> = live
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["patientId"] == user.as_str())
            .map(|a| a["id"].as_str().unwrap())
            .collect();
        let view = ViewAppointments {
            header: Header::new(Some(ods.to_owned())),
            scope: scope(user),
            future_appointments: UpperYesNo(true),
        };
        let reply: ViewAppointmentsReply = send_in(client, suid, &view)
            .await
            .expect("ViewAppointments after the restart");
        let viewed: HashSet<&str> = reply
            .appointments
            .iter()
            .map(|a| a.appt_id.as_str())
            .collect();
        assert_eq!(
            viewed, listed,
            "ViewAppointments and the practice's listing"
        );
    }
}

fn scope(user: &str) -> PatientScope {
    PatientScope {
        patient_id: user.to_owned(),
        online_user_id: user.to_owned(),
    }
}

fn patient_selected(ods: &str, user: &str) -> PatientSelected {
    PatientSelected {
        header: Header::new(Some(ods.to_owned())),
        scope: scope(user),
    }
}

/// Sends `req` with session id `suid` through `client` and decodes the reply.
async fn send_in<Req: WireMessage, Rep: WireMessage>(
    client: &Client,
    suid: &SecretString,
    req: &Req,
) -> pfs_client::Result<Rep> {
    client
        .raw(Req::ROOT, Some(suid.expose_secret()), req.encode())
        .await?
        .decode()
}

// --- the database itself ----------------------------------------------------------------------

/// The rows the consistency checks need, read directly from the database.
struct DbState {
    /// Every appointment: id, session, start, patient, cancelled.
    appointments: Vec<(String, String, i64, String, bool)>,
    /// Every access-log entry: patient, access type.
    accesses: Vec<(String, String)>,
}

const APPOINTMENT_ROWS: &str =
    "SELECT id, session_id, start_ms, patient_id, cancelled_at IS NOT NULL FROM appointments";
const ACCESS_ROWS: &str = "SELECT patient_id, access_type FROM record_accesses";

impl DbState {
    /// Opens the SQLite file (the server is down: this recovers its WAL as a restart would),
    /// checks its integrity and reads the rows.
    fn read_sqlite(path: &Path) -> DbState {
        let c = rusqlite::Connection::open(path).expect("open pfs.db");
        let integrity: String = c
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(integrity, "ok");
        let broken_keys = c
            .prepare("PRAGMA foreign_key_check")
            .unwrap()
            .query_map([], |_| Ok(()))
            .unwrap()
            .count();
        assert_eq!(broken_keys, 0, "foreign_key_check");
        let appointments = c
            .prepare(APPOINTMENT_ROWS)
            .unwrap()
            .query_map([], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let accesses = c
            .prepare(ACCESS_ROWS)
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        DbState {
            appointments,
            accesses,
        }
    }

    /// Reads the rows from the test schema at `url`.
    async fn read_postgres(url: &str) -> DbState {
        let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
            .await
            .expect("connect to the test schema");
        let driver = tokio::spawn(connection);
        let appointments = client
            .query(APPOINTMENT_ROWS, &[])
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
            .collect();
        let accesses = client
            .query(ACCESS_ROWS, &[])
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        drop(client);
        let _ = driver.await;
        DbState {
            appointments,
            accesses,
        }
    }

    /// Nothing half-written: no slot held twice; per patient, one booking entry per
    /// appointment row and one cancellation entry per cancelled row; acknowledged cancellations
    /// are cancelled rows.
    fn check(&self, ledgers: &[Ledger]) {
        let mut live_slots = HashSet::new();
        // patient -> (appointments, cancelled, booking entries, cancellation entries)
        let mut counts: HashMap<&str, [usize; 4]> = HashMap::new();
        let mut cancelled_ids = HashSet::new();
        for (id, session, start, patient, cancelled) in &self.appointments {
            if *cancelled {
                cancelled_ids.insert(id.as_str());
            } else {
                assert!(
                    live_slots.insert((session, start)),
                    "slot {session}/{start} holds two live appointments"
                );
            }
            let c = counts.entry(patient).or_default();
            c[0] += 1;
            c[1] += usize::from(*cancelled);
        }
        for (patient, access_type) in &self.accesses {
            let c = counts.entry(patient).or_default();
            match access_type.as_str() {
                "Booked appointment" => c[2] += 1,
                "Cancelled appointment" => c[3] += 1,
                // The demo seed's medication courses and history; this test writes none.
                other if !other.ends_with("appointment") => {}
                other => panic!("unexpected access-log entry {other:?}"),
            }
        }
        for (patient, [rows, cancelled, booked_entries, cancelled_entries]) in &counts {
            assert_eq!(
                rows, booked_entries,
                "patient {patient}: appointment rows and their booking entries"
            );
            assert_eq!(
                cancelled, cancelled_entries,
                "patient {patient}: cancelled rows and their cancellation entries"
            );
        }
        for ledger in ledgers {
            for b in &ledger.bookings {
                if let Some((id, Outcome::Acknowledged)) = &b.cancel {
                    assert!(cancelled_ids.contains(id.as_str()), "{id} is cancelled");
                }
            }
        }
        eprintln!(
            "database: {} appointment rows ({} cancelled), {} access-log entries, consistent",
            self.appointments.len(),
            cancelled_ids.len(),
            self.accesses.len()
        );
    }
}

// --- the process -------------------------------------------------------------------------------

/// One `pfs serve` process, killed (SIGKILL) when dropped, however the test ends.
struct Server {
    child: Child,
    data_dir: PathBuf,
    /// The PFS endpoint, with the `/tpp/` path real clients use.
    endpoint: String,
    output: Receiver<String>,
}

impl Server {
    /// Starts `pfs serve` on `data_dir` and `backend`, with `extra` arguments, and waits until
    /// it listens.
    fn start(data_dir: &Path, backend: &Backend, extra: &[&str]) -> Server {
        let mut cmd = Command::new(PFS);
        cmd.args(["serve", "--listen", "127.0.0.1:0"])
            .args(["--admin-listen", "127.0.0.1:0"])
            .args(["--log", "warn"])
            .arg("--data-dir")
            .arg(data_dir);
        if let Backend::Postgres(url) = backend {
            // Tests run at once on one PostgreSQL: stay well under its 100 connections.
            cmd.args(["--database", url, "--db-connections", "8"]);
        }
        let mut child = cmd
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("pfs serve starts");
        let (tx, output) = mpsc::channel();
        common::forward_lines(child.stdout.take().unwrap(), tx.clone());
        common::forward_lines(child.stderr.take().unwrap(), tx);
        let mut server = Server {
            child,
            data_dir: data_dir.to_owned(),
            endpoint: String::new(),
            output,
        };
        server.endpoint = format!("{}tpp/", server.wait_for_endpoint());
        server
    }

    /// Reads the start-up summary up to its line `database …`, printed once the process has
    /// seeded (if it does) and listens; returns the endpoint it names.
    fn wait_for_endpoint(&self) -> String {
        common::wait_for_endpoint(&self.output, STARTUP)
    }

    /// A client of this process for `provider`, with a connection of its own.
    fn client(&self, provider: &Provider) -> Client {
        Client::builder(&self.endpoint)
            .identity_pem(&provider.cert, &provider.key)
            .ca_pem(&provider.ca)
            .application(Application {
                name: "crash test".into(),
                version: "1.0".into(),
                provider_id: provider.id.clone(),
                device_type: "test".into(),
            })
            .timeout(REQUEST_TIMEOUT)
            .build()
            .expect("client configuration is valid")
    }

    /// `pfs admin --data-dir DATA_DIR ARGS…` against this process's admin API; the printed
    /// JSON (`Null` when nothing is printed).
    fn admin(&self, args: &[&str]) -> Value {
        let out = Command::new(PFS)
            .arg("admin")
            .arg("--data-dir")
            .arg(&self.data_dir)
            .args(args)
            .output()
            .expect("pfs admin runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "pfs admin {args:?}: {stderr}");
        if out.stdout.is_empty() {
            return Value::Null;
        }
        serde_json::from_slice(&out.stdout).expect("pfs admin prints JSON")
    }

    /// SIGKILL, and wait for the process to be gone.
    fn kill_9(self) {
        drop(self);
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // `Child::kill` sends SIGKILL: no shutdown code runs, as in a crash.
        let _ = self.child.kill();
        let _ = self.child.wait();
        // A failing test shows what the process said (its logs hold no secrets).
        if std::thread::panicking() {
            for line in self.output.try_iter() {
                eprintln!("[{}] {line}", self.data_dir.display());
            }
        }
    }
}

/// A provider's credentials as the demo seed writes them.
struct Provider {
    cert: Vec<u8>,
    key: Vec<u8>,
    ca: Vec<u8>,
    id: String,
}

impl Provider {
    fn read(dir: &Path) -> Provider {
        let read =
            |name: &str| std::fs::read(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        Provider {
            cert: read("client.pem"),
            key: read("client-key.pem"),
            ca: read("ca.pem"),
            id: String::from_utf8(read("provider-id"))
                .unwrap()
                .trim()
                .to_owned(),
        }
    }
}
